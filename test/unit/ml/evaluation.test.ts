import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import {
  SENTIMENT_LABELS,
  backtestLongFlat,
  baselinePredictions,
  classificationMetrics,
  evaluatePriceWithBaselines,
  maxDrawdown,
  priceMetrics,
  type BacktestResult,
  type ClassificationMetrics,
  type PriceMetrics,
  type StrategyResult,
} from '@stock-mlops/ml/evaluation/metrics';
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

// Real data: AAPL adjusted closes; row i predicts the return from day i to day i+1 with a
// deterministic rule (half the 5-day momentum minus a fifth of the last return), using only
// returns realized by day i.
const WARMUP = 20;
const aapl = loadPrices('AAPL');
const aaplReturns = simpleReturns(aapl.adjClose);
const lastClose: number[] = [];
const realizedReturn: number[] = [];
const predictedReturn: number[] = [];
for (let i = WARMUP; i < aaplReturns.length; i++) {
  const past = aaplReturns.slice(i - 5, i);
  predictedReturn.push((0.5 * past.reduce((a, b) => a + b, 0)) / 5 - 0.2 * (aaplReturns[i - 1] as number));
  lastClose.push(aapl.adjClose[i] as number);
  realizedReturn.push(aaplReturns[i] as number);
}
const series = { lastClose, realizedReturn, predictedReturn };

const tweets = loadTwitterSentiment();
const tweetPredictions = tweets.text.map(keywordSentiment);
const tinyTrue = ['positive', 'positive', 'neutral', 'neutral', 'positive'];
const tinyPred = ['positive', 'neutral', 'neutral', 'positive', 'positive'];

const backtestCases = [
  { id: 'bt-default', threshold: 0, costBps: 5, periodsPerYear: 252 },
  { id: 'bt-threshold', threshold: 0.001, costBps: 0, periodsPerYear: 252 },
  { id: 'bt-expensive', threshold: -0.002, costBps: 25, periodsPerYear: 250 },
];
const tasks: ReferenceTask[] = [
  { id: 'price', kind: 'price', ...series },
  { id: 'baselines-20', kind: 'baselines', lastClose, realizedReturn, maWindow: 20 },
  { id: 'baselines-5', kind: 'baselines', lastClose, realizedReturn, maWindow: 5 },
  ...backtestCases.map((c) => ({ ...c, kind: 'backtest', predictedReturn, realizedReturn })),
  { id: 'tweets', kind: 'classification', yTrue: tweets.label, yPred: tweetPredictions, labels: [...SENTIMENT_LABELS] },
  { id: 'tiny', kind: 'classification', yTrue: tinyTrue, yPred: tinyPred, labels: [...SENTIMENT_LABELS] },
];

// Run lazily inside the tests, not in a before hook: uvu swallows before-hook errors and would
// report a missing Python as a clean run.
let cached: Ref | undefined;
function expectedFor<T = Ref>(id: string): T {
  cached ??= runReference(tasks);
  return cached[id] as T;
}
const t = suite('ml evaluation metrics');

t.after(() => {
  const worst = cmp.worst();
  console.log(`  evaluation: max relative deviation vs numpy/scipy/sklearn ${worst.deviation.toExponential(2)} (${worst.label})`);
});

function checkPrice(label: string, actual: PriceMetrics, expected: Ref): void {
  assert.is(actual.n, expected.n, `${label}.n`);
  assert.is(actual.directionalN, expected.directionalN, `${label}.directionalN`);
  for (const key of ['mae', 'rmse', 'mape', 'directionalAccuracy', 'ic', 'rankIc'] as const) {
    cmp.check(`${label}.${key}`, actual[key], expected[key] as number | null);
  }
}

function checkStrategy(label: string, actual: StrategyResult, expected: Ref): void {
  assert.is(actual.n, expected.n);
  assert.is(actual.trades, expected.trades, `${label}.trades`);
  for (const key of ['totalReturn', 'annualizedReturn', 'annualizedVolatility', 'sharpe', 'maxDrawdown', 'exposure'] as const) {
    cmp.check(`${label}.${key}`, actual[key], expected[key] as number | null);
  }
  cmp.checkAll(`${label}.equity`, actual.equity, expected.equity as number[]);
}

function checkClassification(label: string, actual: ClassificationMetrics, expected: Ref): void {
  assert.is(actual.n, expected.n);
  cmp.check(`${label}.accuracy`, actual.accuracy, expected.accuracy as number);
  cmp.check(`${label}.macroF1`, actual.macroF1, expected.macroF1 as number);
  cmp.checkAll(`${label}.precision`, actual.perClass.map((c) => c.precision), expected.precision as number[]);
  cmp.checkAll(`${label}.recall`, actual.perClass.map((c) => c.recall), expected.recall as number[]);
  cmp.checkAll(`${label}.f1`, actual.perClass.map((c) => c.f1), expected.f1 as number[]);
  assert.equal(actual.perClass.map((c) => c.support), expected.support);
  assert.equal(actual.confusionMatrix, expected.confusionMatrix);
}

t('price metrics on AAPL match sklearn/scipy (MAE, RMSE, MAPE, IC, rank IC with ties)', () => {
  assert.ok(realizedReturn.length > 3000);
  const metrics = priceMetrics(series);
  checkPrice('model', metrics, expectedFor('price'));
  assert.ok(metrics.directionalN < metrics.n, 'AAPL has days with a zero return, which the directional accuracy skips');
});

t('naive baselines use only past returns and match an independent numpy construction', () => {
  for (const maWindow of [20, 5]) {
    const evaluation = evaluatePriceWithBaselines(series, { maWindow });
    const expected = expectedFor<Record<string, Ref>>(`baselines-${maWindow}`);
    checkPrice('model', evaluation.model, expectedFor('price'));
    for (const name of ['zero', 'persistence', 'movingAverage'] as const) {
      checkPrice(`${name}(${maWindow})`, evaluation.baselines[name], expected[name] as Ref);
    }
  }
  const predictions = baselinePredictions([0.01, -0.02, 0.03, 0.04], { maWindow: 2 });
  assert.equal(predictions.zero, [0, 0, 0, 0]);
  assert.equal(predictions.persistence, [0, 0.01, -0.02, 0.03]);
  [0, 0.01, -0.005, 0.005].forEach((v, i) => assert.ok(Math.abs((predictions.movingAverage[i] as number) - v) < 1e-15));
  // Changing a future return never changes an earlier prediction.
  const changed = baselinePredictions([0.01, -0.02, 0.03, 0.5], { maWindow: 2 });
  assert.equal(changed.movingAverage.slice(0, 4), predictions.movingAverage);
});

t('backtest on AAPL matches a numpy implementation for several thresholds and costs', () => {
  for (const c of backtestCases) {
    const result: BacktestResult = backtestLongFlat(series, c);
    const expected = expectedFor<Record<string, Ref>>(c.id);
    checkStrategy(`${c.id}.strategy`, result.strategy, expected.strategy as Ref);
    checkStrategy(`${c.id}.buyAndHold`, result.buyAndHold, expected.buyAndHold as Ref);
  }
});

t('backtest: hand-checked example with costs', () => {
  const { strategy, buyAndHold } = backtestLongFlat(
    { predictedReturn: [0.02, 0.01, -0.01, 0.03], realizedReturn: [0.1, -0.05, 0.2, 0.1] },
    { costBps: 10, periodsPerYear: 4 },
  );
  // Long, long, flat, long: entries at periods 0 and 3, exit at 2 → 3 trades, 10 bps each.
  assert.equal(strategy.positions, [1, 1, 0, 1]);
  assert.is(strategy.trades, 3);
  const returns = [0.099, -0.05, -0.001, 0.099];
  returns.forEach((r, i) => assert.ok(Math.abs((strategy.returns[i] as number) - r) < 1e-15));
  const final = 1.099 * 0.95 * 0.999 * 1.099;
  assert.ok(Math.abs(strategy.totalReturn - (final - 1)) < 1e-12);
  // One year of 4 periods: the annualized return is the total return.
  assert.ok(Math.abs(strategy.annualizedReturn - (final - 1)) < 1e-12);
  assert.ok(Math.abs(strategy.maxDrawdown - (1 - 0.95 * 0.999)) < 1e-12);
  assert.is(strategy.exposure, 0.75);
  assert.is(buyAndHold.trades, 1);
  assert.ok(Math.abs(buyAndHold.totalReturn - (1.099 * 0.95 * 1.2 * 1.1 - 1)) < 1e-12);
  assert.ok(Math.abs(buyAndHold.maxDrawdown - 0.05) < 1e-12);
});

t('backtest: Sharpe of a known return series, NaN when volatility is zero', () => {
  const { buyAndHold } = backtestLongFlat({ predictedReturn: [1, 1, 1], realizedReturn: [0.01, 0.03, 0.02] }, { periodsPerYear: 252 });
  // mean 0.02, sample std 0.01 → 2·sqrt(252)
  assert.ok(Math.abs(buyAndHold.sharpe - 2 * Math.sqrt(252)) < 1e-9);
  const flat = backtestLongFlat({ predictedReturn: [-1, -1, -1], realizedReturn: [0.01, 0.03, 0.02] });
  assert.ok(Number.isNaN(flat.strategy.sharpe));
  assert.is(flat.strategy.trades, 0);
  assert.is(flat.strategy.totalReturn, 0);
});

t('maxDrawdown of a known curve', () => {
  assert.is(maxDrawdown([1, 2, 1, 3, 1.5, 2]), 0.5);
  assert.is(maxDrawdown([1, 1.1, 1.2]), 0);
  assert.ok(Math.abs(maxDrawdown([100, 80, 90, 60, 120, 108]) - 0.4) < 1e-15);
});

t('price metrics: hand-checked directional accuracy, IC and rank IC with ties', () => {
  const m = priceMetrics({
    lastClose: [10, 10, 10, 10, 10],
    realizedReturn: [0.1, -0.1, 0, 0.2, 0.2],
    predictedReturn: [0.05, 0.05, 0.01, 0, 0.1],
  });
  // Row 2 (realized 0) is skipped; row 3 predicts 0 and counts as a miss; rows 0 and 4 hit.
  assert.is(m.directionalN, 4);
  assert.is(m.directionalAccuracy, 0.5);
  // Price errors 0.5, 1.5, 0.1, 2, 1 → MAE 1.02.
  assert.ok(Math.abs(m.mae - 1.02) < 1e-12);
  assert.ok(Math.abs(m.rmse - Math.sqrt((0.25 + 2.25 + 0.01 + 4 + 1) / 5)) < 1e-12);
  assert.ok(Math.abs(m.mape - (0.5 / 11 + 1.5 / 9 + 0.1 / 10 + 2 / 12 + 1 / 12) / 5) < 1e-12);
  const constant = priceMetrics({ lastClose: [1, 1, 1], realizedReturn: [0.1, 0.2, 0.3], predictedReturn: [0, 0, 0] });
  assert.ok(Number.isNaN(constant.ic) && Number.isNaN(constant.rankIc));
  const ranks = priceMetrics({ lastClose: [1, 1, 1, 1], realizedReturn: [0.1, 0.2, 0.3, 0.4], predictedReturn: [1, 2, 2, 3] });
  // Ranks of the prediction are 1, 2.5, 2.5, 4 → Spearman = Pearson of ranks = 0.9486832980505138.
  assert.ok(Math.abs(ranks.rankIc - 3 / Math.sqrt(10)) < 1e-12);
});

t('classification on real tweets vs a keyword rule matches sklearn', () => {
  assert.ok(tweets.label.length > 9000);
  const metrics = classificationMetrics(tweets.label, tweetPredictions);
  assert.equal(metrics.labels, ['negative', 'neutral', 'positive']);
  checkClassification('tweets', metrics, expectedFor('tweets'));
});

t('classification zero division behaves like sklearn zero_division=0', () => {
  const metrics = classificationMetrics(tinyTrue, tinyPred);
  checkClassification('tiny', metrics, expectedFor('tiny'));
  const negative = metrics.perClass[0];
  assert.equal(negative, { label: 'negative', precision: 0, recall: 0, f1: 0, support: 0 });
  assert.equal(metrics.confusionMatrix, [
    [0, 0, 0],
    [0, 1, 1],
    [0, 1, 2],
  ]);
});

t('invalid inputs throw E_METRICS_INPUT', () => {
  const expectCode = (fn: () => unknown): void => {
    try {
      fn();
    } catch (err) {
      assert.is((err as { code?: string }).code, 'E_METRICS_INPUT', String(err));
      return;
    }
    assert.unreachable('expected an E_METRICS_INPUT error');
  };
  expectCode(() => priceMetrics({ lastClose: [1, 2], realizedReturn: [0.1], predictedReturn: [0.1, 0.2] }));
  expectCode(() => priceMetrics({ lastClose: [1], realizedReturn: [Number.NaN], predictedReturn: [0.1] }));
  expectCode(() => priceMetrics({ lastClose: [1], realizedReturn: [0.1], predictedReturn: [Number.POSITIVE_INFINITY] }));
  expectCode(() => priceMetrics({ lastClose: [0], realizedReturn: [0.1], predictedReturn: [0.1] }));
  expectCode(() => priceMetrics({ lastClose: [], realizedReturn: [], predictedReturn: [] }));
  expectCode(() => evaluatePriceWithBaselines(series, { maWindow: 0 }));
  expectCode(() => backtestLongFlat({ predictedReturn: [0.1, 0.2], realizedReturn: [0.1] }));
  expectCode(() => backtestLongFlat({ predictedReturn: [0.1], realizedReturn: [0.1] }, { costBps: -1 }));
  expectCode(() => classificationMetrics(['positive'], ['positive', 'negative']));
  expectCode(() => classificationMetrics(['positive'], ['bullish']));
  expectCode(() => classificationMetrics([], []));
  expectCode(() => maxDrawdown([1, Number.NaN]));
});

t.run();
