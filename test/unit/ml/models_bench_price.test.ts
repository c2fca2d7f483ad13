/**
 * The price part of bench/models.bench.ts: the target counts of issue 14 on the out-of-time rows
 * (an undefined IC counts as 0), the table naming every same-run column, and the docs section
 * replaced between its own markers without touching the sentiment section.
 */
import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import type { PriceMetrics } from '@stock-mlops/ml/evaluation/metrics';
import type { PriceEvaluationReport } from '@stock-mlops/ml/training/train';
import { DOC_END, DOC_START, PRICE_DOC_END, PRICE_DOC_START, priceMarkdown, priceTargets, replaceMarkedSection, type PriceBenchRow } from '../../../bench/models.bench.ts';

const t = suite('models bench: price table');

const m = (ic: number, rmse: number): PriceMetrics => ({ n: 100, mae: rmse * 0.8, rmse, mape: 0.01, directionalAccuracy: 0.5, directionalN: 100, ic, rankIc: ic });
const stats = { annualizedReturn: 0, sharpe: 0, maxDrawdown: 0, trades: 0, turnover: 0, exposure: 0, totalReturn: 0 };
function ev(model: PriceMetrics, reversalIc: number, ridge?: PriceMetrics): PriceEvaluationReport {
  return {
    model,
    baselines: { zero: m(Number.NaN, 1), persistence: m(-reversalIc, 1.4), reversal: m(reversalIc, 1.4), movingAverage: m(0, 1.02), ...(ridge ? { ridge } : {}) },
    backtest: { strategy: stats, buyAndHold: stats, costBps: 5 },
    n: 100,
  };
}
const row = (ticker: string, oot: PriceEvaluationReport): PriceBenchRow => ({
  ticker,
  source: 'bundled',
  inSample: { from: '2010-01-01', to: '2015-01-01', evaluation: ev(m(0.2, 0.98), 0) },
  outOfTime: { from: '2016-01-01', to: '2017-01-01', evaluation: oot },
  bestEpoch: 1,
  epochsRun: 6,
  ridgeL2: 10,
  seconds: 1,
});

// Out of time: model IC 0.1, 0.05, NaN (stayed zero), -0.02; reversal IC 0.02 everywhere.
const rows = [
  row('A', ev(m(0.1, 0.99), 0.02, m(0.03, 0.999))),
  row('B', ev(m(0.05, 1.01), 0.02, m(0.01, 1.001))),
  row('C', ev(m(Number.NaN, 1), 0.02, m(0.02, 0.998))),
  row('D', ev(m(-0.02, 0.995), 0.02, m(-0.01, 1.0))),
];

t('targets: mean out-of-time IC (undefined = 0), IC ≥ reversal and RMSE strictly below zero, counted per ticker', () => {
  assert.equal(priceTargets(rows), { meanIc: (0.1 + 0.05 + 0 - 0.02) / 4, icAtLeastReversal: 2, rmseBelowZero: 2, n: 4 });
  const ridge = priceTargets(rows, 'ridge');
  assert.equal([ridge.icAtLeastReversal, ridge.rmseBelowZero], [2, 2]);
  assert.ok(Math.abs(ridge.meanIc - 0.0125) < 1e-15);
});

t('the table has both periods per ticker and every same-run column, and says which targets are not reached', () => {
  const md = priceMarkdown(rows, '{}', 'config/training/price.json', 'wasm', ['A', 'B', 'C', 'D']);
  for (const col of ['IC model', 'IC zero', 'IC 1-day reversal', 'IC 20-day momentum', 'IC ridge', 'RMSE/zero model', 'RMSE/zero ridge']) assert.ok(md.includes(col), col);
  assert.is(md.split('\n').filter((l) => l.startsWith('| A |')).length, 2);
  assert.ok(md.includes('| A | **out of time** | 2016-01-01→2017-01-01 | 100 | 0.100 | — | 0.020 | 0.000 | 0.030 | 0.9900 | 1.0000 | 1.4000 | 1.0200 | 0.9990 |'));
  assert.match(md, /mean IC ≥ 0\.05 \| 0\.033: \*\*not reached\*\*/);
  assert.match(md, /a subset, PRICE_BENCH_TICKERS/);
});

t('the price section is replaced between its own markers; the sentiment section stays', () => {
  const doc = `# Models\n\n${DOC_START}\nsentiment table\n${DOC_END}\n\n# Price model\n\n${PRICE_DOC_START}\n${PRICE_DOC_END}\n\ntail\n`;
  const once = replaceMarkedSection(doc, 'price v1', PRICE_DOC_START, PRICE_DOC_END);
  assert.ok(once.includes(`${PRICE_DOC_START}\nprice v1\n${PRICE_DOC_END}`) && once.includes('sentiment table') && once.endsWith('tail\n'));
  const twice = replaceMarkedSection(once, 'price v2', PRICE_DOC_START, PRICE_DOC_END);
  assert.is(twice.replace('price v2', 'price v1'), once);
});

t.run();
