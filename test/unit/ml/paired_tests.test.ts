import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { dieboldMariano, studentTSf, type DieboldMarianoResult, type LossKind } from '@stock-mlops/ml/evaluation/paired_tests';
import { createComparator, loadPrices, runReference, simpleReturns, type ReferenceTask } from '../../support/evaluation_reference.ts';

type Ref = Record<string, number | null>;
const cmp = createComparator(1e-9);

// Real data: AAPL daily returns. Two deterministic forecasters that see only past returns: a
// 5-day momentum rule ("production") and a damped 20-day mean ("challenger"); and a challenger
// that leans on the realized return (clearly better), for the one-sided p near 0.
const returns = simpleReturns(loadPrices('AAPL').adjClose);
const actual: number[] = [];
const production: number[] = [];
const challenger: number[] = [];
const oracle: number[] = [];
for (let i = 20; i < returns.length; i++) {
  const past = returns.slice(i - 20, i);
  production.push(past.slice(-5).reduce((a, b) => a + b, 0) / 5);
  challenger.push((0.3 * past.reduce((a, b) => a + b, 0)) / 20);
  oracle.push(0.5 * (returns[i] as number) + 0.001 * Math.sin(i));
  actual.push(returns[i] as number);
}
const window = (a: number[], from: number, n: number) => a.slice(from, from + n);

interface Case {
  id: string;
  actual: number[];
  production: number[];
  challenger: number[];
  horizon: number;
  loss: LossKind;
}
const cases: Case[] = [
  { id: 'dm-all-squared', actual, production, challenger, horizon: 1, loss: 'squared' },
  { id: 'dm-all-absolute', actual, production, challenger, horizon: 1, loss: 'absolute' },
  { id: 'dm-200-squared', actual: window(actual, 3000, 200), production: window(production, 3000, 200), challenger: window(challenger, 3000, 200), horizon: 1, loss: 'squared' },
  { id: 'dm-60-h5', actual: window(actual, 1000, 60), production: window(production, 1000, 60), challenger: window(challenger, 1000, 60), horizon: 5, loss: 'squared' },
  { id: 'dm-30-oracle', actual: window(actual, 500, 30), production: window(production, 500, 30), challenger: window(oracle, 500, 30), horizon: 1, loss: 'squared' },
  { id: 'dm-200-worse', actual: window(actual, 2000, 200), production: window(challenger, 2000, 200), challenger: window(production, 2000, 200), horizon: 3, loss: 'absolute' },
];
const tPoints: Array<[number, number]> = [
  [0, 5],
  [1.5, 3],
  [-2.2, 10],
  [2.0, 199],
  [4.5, 29],
  [-0.3, 1],
  [8, 59],
  [1.6448536, 100_000],
];
const tasks: ReferenceTask[] = [...cases.map((c) => ({ kind: 'dm', ...c })), { id: 'tsf', kind: 'tsf', points: tPoints }];

// Lazily inside the tests: uvu swallows before-hook errors (a missing Python must fail).
let cached: Record<string, unknown> | undefined;
const expectedFor = <T>(id: string): T => {
  cached ??= runReference(tasks);
  return cached[id] as T;
};

const t = suite('paired forecast tests (Diebold–Mariano with HLN)');

t.after(() => {
  const worst = cmp.worst();
  console.log(`  paired tests: max relative deviation vs numpy/scipy ${worst.deviation.toExponential(2)} (${worst.label})`);
});

t('the Student t survival function matches scipy.stats.t.sf', () => {
  const expected = expectedFor<number[]>('tsf');
  cmp.checkAll('t.sf', tPoints.map(([x, dof]) => studentTSf(x, dof)), expected);
  assert.is(studentTSf(Infinity, 3), 0);
  assert.is(studentTSf(-Infinity, 3), 1);
});

t('DM statistic, HLN statistic and p-values on AAPL forecasts match numpy/scipy', () => {
  for (const c of cases) {
    const r: DieboldMarianoResult = dieboldMariano(c, { horizon: c.horizon, loss: c.loss });
    const e = expectedFor<Ref>(c.id);
    assert.is(r.n, c.actual.length);
    for (const k of ['meanDifference', 'statistic', 'hlnStatistic', 'pValue', 'pValueTwoSided'] as const) cmp.check(`${c.id}.${k}`, r[k], e[k] ?? null);
  }
});

t('the test says what the data say: a clearly better challenger is significant, a worse one is not', () => {
  const better = dieboldMariano(cases[4]!);
  assert.ok(better.meanDifference > 0);
  assert.ok(better.pValue < 0.01, `p ${better.pValue}`);
  const worse = dieboldMariano({ actual: cases[4]!.actual, production: cases[4]!.challenger, challenger: cases[4]!.production });
  assert.ok(worse.pValue > 0.99, `p ${worse.pValue}`);
  assert.ok(Math.abs(worse.hlnStatistic + better.hlnStatistic) < 1e-12, 'swapping the forecasts flips the sign');
  assert.ok(Math.abs(worse.pValueTwoSided - better.pValueTwoSided) < 1e-12);
});

t('identical forecasts or too few pairs give NaN, bad options throw E_METRICS_INPUT', () => {
  const same = dieboldMariano({ actual: [0.1, 0.2, 0.3, 0.4], production: [0, 0, 0, 0], challenger: [0, 0, 0, 0] });
  assert.is(same.meanDifference, 0);
  assert.ok(Number.isNaN(same.statistic) && Number.isNaN(same.pValue));
  assert.ok(Number.isNaN(dieboldMariano({ actual: [1, 2], production: [0, 1], challenger: [1, 2] }).pValue));
  for (const bad of [
    () => dieboldMariano({ actual: [1, 2, 3], production: [1, 2], challenger: [1, 2, 3] }),
    () => dieboldMariano({ actual: [1, 2, 3], production: [1, 2, NaN], challenger: [1, 2, 3] }),
    () => dieboldMariano({ actual: [1, 2, 3], production: [1, 2, 3], challenger: [1, 2, 3] }, { horizon: 0 }),
  ]) {
    try {
      bad();
      assert.unreachable('expected E_METRICS_INPUT');
    } catch (err) {
      assert.is((err as { code?: string }).code, 'E_METRICS_INPUT', String(err));
    }
  }
});

t.run();
