import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { chiSquareSf } from '@stock-mlops/ml/evaluation/chi_square';
import {
  categoricalDrift,
  categoricalReference,
  featureDrift,
  ksFromReference,
  ksTwoSample,
  psi,
  psiFromReference,
  referenceStats,
  referenceStatsByFeature,
  toColumns,
  type ReferenceStats,
} from '@stock-mlops/ml/evaluation/drift';
import { kolmogorovSmirnovSf } from '@stock-mlops/ml/evaluation/ks_distribution';
import { SENTIMENT_LABELS } from '@stock-mlops/ml/evaluation/metrics';
import {
  createComparator,
  keywordSentiment,
  loadPrices,
  loadTwitterSentiment,
  runReference,
  simpleReturns,
  type ReferenceTask,
} from '../../support/evaluation_reference.ts';

type Ref = Record<string, unknown>;
const cmp = createComparator(1e-9);

const aapl = simpleReturns(loadPrices('AAPL').adjClose);
const goog = simpleReturns(loadPrices('GOOG').adjClose);
const half = Math.floor(aapl.length / 2);
const aaplFirst = aapl.slice(0, half);
const aaplSecond = aapl.slice(half);
const rounded = aapl.map((r) => Math.round(r * 100) / 100); // heavy ties → coinciding bin edges
const std = Math.sqrt(aapl.reduce((s, r) => s + r * r, 0) / aapl.length);
const shifted = aaplSecond.map((r) => r + 3 * std);

const ksCases: Record<string, [number[], number[]]> = {
  'aapl-halves': [aaplFirst, aaplSecond],
  'aapl-goog': [aapl, goog],
  'small-samples': [aapl.slice(0, 30), goog.slice(0, 45)],
  'tiny-ties': [rounded.slice(100, 112), rounded.slice(500, 509)],
  'shifted': [aaplFirst, shifted],
};
const psiCases: Record<string, [number[], number[]]> = {
  'aapl-halves': [aaplFirst, aaplSecond],
  'aapl-goog': [aapl, goog],
  'rounded-halves': [rounded.slice(0, half), rounded.slice(half)],
  'shifted': [aaplFirst, shifted],
};

// Points covering every regime of the KS distribution (Ruben–Gambino edges, Durbin matrix,
// Pomeranz, Pelz–Good, Smirnov tail) for small (<= 140) and large n.
const kstwoPoints: [number, number][] = [];
for (const n of [1, 2, 3, 5, 10, 18, 30, 64, 100, 140, 141, 200, 500, 844, 1689, 5000, 20000, 150000]) {
  const ds = [0.3 / n, 0.7 / n, 1 / n, 0.5, 0.6, 0.95, 1 - 1.5 / n];
  for (const nx2 of [0.05, 0.3, 0.6, 0.75, 0.9, 1.2, 1.8, 2.1, 2.3, 3, 3.9, 4.2, 6, 10, 20]) ds.push(Math.sqrt(nx2 / n));
  for (const d of ds) if (d > 0 && d < 1) kstwoPoints.push([n, d]);
}
const chi2Points: [number, number][] = [];
for (const dof of [1, 2, 3, 5, 10]) for (const x of [0.01, 0.5, 1, 2.5, 5, 10, 30, 100]) chi2Points.push([x, dof]);

const tweets = loadTwitterSentiment();
const tweetHalf = Math.floor(tweets.label.length / 2);
const categoricalCases: Record<string, [string[], string[]]> = {
  'tweets-halves': [tweets.label.slice(0, tweetHalf), tweets.label.slice(tweetHalf)],
  'tweets-vs-rule': [tweets.label, tweets.text.map(keywordSentiment)],
  'missing-class': [['neutral', 'positive', 'neutral', 'positive', 'neutral'], ['negative', 'neutral', 'positive', 'positive']],
};

const tasks: ReferenceTask[] = [
  ...Object.entries(ksCases).map(([id, [a, b]]) => ({ id: `ks-${id}`, kind: 'ks', a, b })),
  ...Object.entries(psiCases).map(([id, [reference, current]]) => ({ id: `psi-${id}`, kind: 'psi', reference, current, bins: 10, epsilon: 1e-4 })),
  ...Object.entries(categoricalCases).map(([id, [reference, current]]) => ({
    id: `cat-${id}`,
    kind: 'categorical',
    reference,
    current,
    labels: [...SENTIMENT_LABELS],
    epsilon: 1e-4,
  })),
  { id: 'kstwo', kind: 'kstwo', points: kstwoPoints },
  { id: 'chi2sf', kind: 'chi2sf', points: chi2Points },
];

// Run lazily inside the tests, not in a before hook: uvu swallows before-hook errors and would
// report a missing Python as a clean run.
let cached: Ref | undefined;
function expectedFor<T = Ref>(id: string): T {
  cached ??= runReference(tasks);
  return cached[id] as T;
}
const t = suite('ml drift');

t.after(() => {
  const worst = cmp.worst();
  console.log(`  drift: max relative deviation vs numpy/scipy ${worst.deviation.toExponential(2)} (${worst.label})`);
});

t('KS distribution matches scipy.stats.kstwo.sf in every computation regime', () => {
  const expected = expectedFor<(number | null)[]>('kstwo');
  kstwoPoints.forEach(([n, d], i) => cmp.check(`kstwo.sf(${d}, ${n})`, kolmogorovSmirnovSf(n, d), expected[i] as number));
});

t('two-sample KS statistic and p-value match scipy ks_2samp(method=asymp) on real returns', () => {
  for (const [id, [a, b]] of Object.entries(ksCases)) {
    const expected = expectedFor(`ks-${id}`);
    const result = ksTwoSample(a, b);
    cmp.check(`ks-${id}.statistic`, result.statistic, expected.statistic as number);
    cmp.check(`ks-${id}.pValue`, result.pValue, expected.pValue as number);
  }
  // AAPL halves: n1 = n2 = 1689 → n1·n2/(n1+n2) = 844.5, which scipy rounds half to even (844).
  assert.is(aaplFirst.length, 1689);
  assert.ok(ksTwoSample(aaplFirst, shifted).pValue < 1e-100);
});

t('PSI matches an independent numpy computation with the same quantile binning', () => {
  for (const [id, [ref, cur]] of Object.entries(psiCases)) {
    const expected = expectedFor(`psi-${id}`);
    const stats = referenceStats(ref);
    cmp.checkAll(`psi-${id}.edges`, stats.quantileEdges, expected.edges as number[]);
    cmp.checkAll(`psi-${id}.expected`, stats.binFractions, expected.expected as number[]);
    cmp.check(`psi-${id}.psi`, psi(ref, cur), expected.psi as number);
  }
  const roundedStats = referenceStats(rounded);
  assert.ok(new Set(roundedStats.quantileEdges).size < roundedStats.quantileEdges.length, 'rounded returns give coinciding edges');
});

t('PSI is 0 for identical distributions and large for shifted ones', () => {
  assert.is(psi(aapl, aapl), 0);
  assert.is(psi(aapl, [...aapl].reverse()), 0);
  assert.ok(psi(aaplFirst, aaplSecond) < 0.25);
  assert.ok(psi(aaplFirst, shifted) > 1, 'a 3-sigma shift is a major drift');
});

t('reference stats can be stored (JSON) and used later for PSI and KS', () => {
  const stats = referenceStats(aaplFirst);
  assert.is(stats.n, 1689);
  assert.is(stats.sample.length, 1000);
  assert.equal(referenceStats(aaplFirst), stats, 'deterministic');
  assert.ok(stats.sample.every((v, i) => i === 0 || v >= (stats.sample[i - 1] as number)));
  assert.is(stats.min, Math.min(...aaplFirst));
  assert.is(stats.max, Math.max(...aaplFirst));
  const stored = JSON.parse(JSON.stringify(stats)) as ReferenceStats;
  assert.is(psiFromReference(stored, aaplSecond), psi(aaplFirst, aaplSecond));
  const full = ksTwoSample(aaplFirst, aaplSecond);
  const fromStats = ksFromReference(stored, aaplSecond);
  assert.ok(Math.abs(fromStats.statistic - full.statistic) <= 1 / 1000, `${fromStats.statistic} vs ${full.statistic}`);
  assert.is(fromStats.n1, 1689);
  const small = referenceStats(aapl.slice(0, 500));
  assert.equal(ksFromReference(small, goog.slice(0, 400)), ksTwoSample(aapl.slice(0, 500), goog.slice(0, 400)));
});

t('per-feature drift from row vectors', () => {
  const features = (r: readonly number[]): number[][] => r.slice(5).map((x, i) => [x, r.slice(i, i + 5).reduce((a, b) => a + b, 0)]);
  const names = ['ret1', 'ret5'];
  const ref = referenceStatsByFeature(toColumns(features(aaplFirst), names));
  const drift = featureDrift(ref, toColumns(features(aaplSecond), names));
  assert.equal(Object.keys(drift), names);
  assert.is(drift.ret1?.psi, psi(aaplFirst.slice(5), aaplSecond.slice(5)));
  const shiftedDrift = featureDrift(ref, toColumns(features(shifted), names));
  assert.ok((shiftedDrift.ret1?.psi ?? 0) > 1 && (shiftedDrift.ret1?.ksPValue ?? 1) < 1e-50);
  assert.throws(() => featureDrift(ref, { ret1: aaplSecond }), (err: { code?: string }) => err.code === 'E_METRICS_INPUT');
});

t('categorical drift of sentiment labels matches numpy PSI and scipy chisquare', () => {
  for (const [id, [ref, cur]] of Object.entries(categoricalCases)) {
    const expected = expectedFor(`cat-${id}`);
    const drift = categoricalDrift(categoricalReference(ref), cur);
    cmp.check(`cat-${id}.psi`, drift.psi, expected.psi as number);
    cmp.check(`cat-${id}.chiSquare`, drift.chiSquare, expected.chiSquare as number);
    cmp.check(`cat-${id}.pValue`, drift.pValue, expected.pValue as number);
    assert.is(drift.dof, 2);
  }
  const same = categoricalDrift(categoricalReference(tweets.label), tweets.label);
  assert.is(same.psi, 0);
  assert.ok(same.chiSquare < 1e-20);
  assert.ok(same.pValue > 1 - 1e-15);
});

t('chi-square survival function matches scipy.stats.chi2.sf', () => {
  const expected = expectedFor<number[]>('chi2sf');
  chi2Points.forEach(([x, dof], i) => cmp.check(`chi2.sf(${x}, ${dof})`, chiSquareSf(x, dof), expected[i] as number));
});

t('invalid drift inputs throw E_METRICS_INPUT', () => {
  const code = (err: { code?: string }): boolean => err.code === 'E_METRICS_INPUT';
  assert.throws(() => referenceStats([]), code);
  assert.throws(() => referenceStats([1, Number.NaN]), code);
  assert.throws(() => referenceStats([1, 2], { bins: 1 }), code);
  assert.throws(() => ksTwoSample([1, 2], []), code);
  assert.throws(() => psi([1, 2, 3], [Number.POSITIVE_INFINITY]), code);
  assert.throws(() => categoricalReference(['positive', 'bullish']), code);
  assert.throws(() => categoricalDrift(categoricalReference(['positive']), ['meh']), code);
});

t.run();
