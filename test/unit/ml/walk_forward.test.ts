/**
 * Walk-forward scores on synthetic data whose right answers are known: a perfectly informative
 * predictor, a scaled and a negated one, a constant one (undefined IC, handled explicitly), the
 * t-statistic across folds, turnover and costs of the long/flat backtest, and the time blocks.
 */
import * as assert from 'uvu/assert';
import { mulberry32 } from '@stock-mlops/contracts';
import { suite } from '../../harness/index.ts';
import { makeSupervised, type FeatureRow, type SupervisedSample } from '@stock-mlops/ml/datasets/supervised';
import { initTf } from '@stock-mlops/ml/tf';
import { loadPriceTrainConfig } from '@stock-mlops/ml/training/config';
import { evaluatePriceModel, evaluatePriceSamples, timeBlocks, trainPrice } from '@stock-mlops/ml/training/train';
import { acrossFolds, scoreFold, summarizeFolds } from '@stock-mlops/ml/training/walk_forward_metrics';

const t = suite('ml walk-forward scores');
const close = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) <= tol;
const day = (ts: number) => new Date(ts).toISOString().slice(0, 10);

/** One symbol, daily bars with seeded returns in ±2 % (never exactly 0). */
function samples(n: number, seed: number, symbol = 'SYN'): SupervisedSample[] {
  const u = mulberry32(seed);
  const rows: FeatureRow[] = [];
  let c = 100;
  for (let i = 0; i <= n; i++) {
    rows.push({ symbol, ts: Date.UTC(2021, 0, 1) + i * 86_400_000, close: c, vector: [i] });
    c *= 1 + (u() < 0.5 ? -1 : 1) * (0.001 + 0.019 * u());
  }
  return makeSupervised(rows, { horizon: 1, lookback: 1 });
}

const folds = [samples(200, 1), samples(200, 2), samples(200, 3)];
const score = (s: SupervisedSample[], predict: (label: number, i: number) => number, costBps = 10) =>
  scoreFold(evaluatePriceSamples(s, s.map((x, i) => predict(x.label, i)), costBps));

t('a perfectly informative predictor: IC 1, rank IC 1, every direction right, no error, t = +∞ across folds', () => {
  const scores = folds.map((s) => score(s, (y) => y));
  for (const f of scores) {
    assert.ok(close(f.ic, 1) && close(f.rankIc, 1) && f.icDefined);
    assert.is(f.directionalAccuracy, 1);
    assert.ok(f.maeRatio < 1e-12 && f.rmseRatio < 1e-12, 'no error left');
  }
  const sum = summarizeFolds(scores);
  assert.is(sum.folds, 3);
  assert.ok(close(sum.ic.mean, 1) && sum.ic.std < 1e-12);
  assert.ok(sum.ic.t > 1e6, `t ${sum.ic.t}: the same IC of 1 in every fold`);
  assert.is(sum.ic.undefinedFolds, 0);
  assert.is(sum.foldsBeatingZero, 3);
});

t('a predictor at half the realized return: IC 1, MAE and RMSE half those of the zero return', () => {
  const f = score(folds[0]!, (y) => 0.5 * y);
  assert.ok(close(f.ic, 1) && close(f.maeRatio, 0.5) && close(f.rmseRatio, 0.5));
  const neg = score(folds[0]!, (y) => -y);
  assert.ok(close(neg.ic, -1) && close(neg.rankIc, -1));
  assert.is(neg.directionalAccuracy, 0);
  assert.ok(close(neg.rmseRatio, 2), 'predicting the opposite return doubles the error');
});

t('a constant predictor has an undefined IC, counted as 0 across folds and reported as undefined', () => {
  const constant = folds.map((s) => score(s, () => 0.001));
  for (const f of constant) {
    assert.ok(Number.isNaN(f.ic) && Number.isNaN(f.rankIc));
    assert.is(f.icDefined, false);
  }
  const sum = summarizeFolds(constant);
  assert.is(sum.ic.mean, 0);
  assert.ok(Number.isNaN(sum.ic.t), 'zero IC in every fold: no t-statistic');
  assert.is(sum.ic.undefinedFolds, 3);
  // Mixed: two informative folds and a constant one → the mean is diluted, not inflated.
  const mixed = summarizeFolds([score(folds[0]!, (y) => y), score(folds[1]!, (y) => y), constant[2]!]);
  assert.ok(close(mixed.ic.mean, 2 / 3));
  assert.is(mixed.ic.undefinedFolds, 1);
  assert.ok(Number.isFinite(mixed.ic.t) && mixed.ic.t > 0);
});

t('acrossFolds: mean, sample std and t = mean / (std / √k); fewer than 2 folds give no t', () => {
  const a = acrossFolds([0.1, 0.2, 0.3]);
  assert.ok(close(a.mean, 0.2) && close(a.std, 0.1) && close(a.t, 0.2 / (0.1 / Math.sqrt(3))));
  assert.equal({ ...acrossFolds([0.5]) }, { folds: 1, mean: 0.5, std: Number.NaN, t: Number.NaN });
  assert.is(acrossFolds([]).folds, 0);
  assert.is(acrossFolds([-0.2, -0.2]).t, Number.NEGATIVE_INFINITY);
  assert.is(acrossFolds([0.1, Number.NaN, 0.3]).folds, 2, 'non-finite values are left out');
});

t('the long/flat backtest: long exactly on up days with a perfect predictor, costs per position change, turnover', () => {
  const s = folds[0]!;
  const costBps = 10;
  const f = score(s, (y) => y, costBps);
  let equity = 1;
  let prev = 0;
  let trades = 0;
  for (const x of s) {
    const pos = x.label > 0 ? 1 : 0;
    if (pos !== prev) trades++;
    equity *= 1 + pos * x.label - (costBps / 1e4) * Math.abs(pos - prev);
    prev = pos;
  }
  assert.ok(close(f.backtest.totalReturn, equity - 1, 1e-9), `${f.backtest.totalReturn} vs ${equity - 1}`);
  assert.is(f.backtest.trades, trades);
  assert.ok(close(f.backtest.turnover, trades / s.length));
  assert.is(f.costBps, costBps);
  const free = score(s, (y) => y, 0);
  assert.ok(free.backtest.totalReturn > f.backtest.totalReturn, 'costs lower the return');
  // The entry cost is charged in the first period: (1 + r0 − cost) · Π(1 + r_i).
  const buyHold = s.slice(1).reduce((e, x) => e * (1 + x.label), 1 + s[0]!.label - costBps / 1e4) - 1;
  assert.ok(close(f.buyAndHold.totalReturn, buyHold, 1e-9), 'buy and hold pays the entry once');
  assert.is(f.buyAndHold.turnover, 1 / s.length);
  const flat = score(s, () => -0.01, costBps);
  assert.equal([flat.backtest.totalReturn, flat.backtest.trades, flat.backtest.turnover], [0, 0, 0], 'never long: no trades, no cost');
});

t('timeBlocks: k consecutive blocks of about equal size, covering everything, same-time samples together', () => {
  const two = [...samples(10, 4, 'A'), ...samples(10, 5, 'B')];
  const blocks = timeBlocks(two, 3);
  assert.is(blocks.length, 3);
  assert.is(blocks.flat().length, two.length);
  for (let b = 1; b < blocks.length; b++) assert.ok(blocks[b - 1]!.at(-1)!.ts < blocks[b]![0]!.ts, 'strictly later');
  for (const block of blocks) assert.ok(block.length === 6 || block.length === 8, `size ${block.length}`);
  assert.is(timeBlocks(two, 1).length, 1);
});

t('evaluate with folds: a fixed model scored on consecutive blocks of the window, each as on its own', async () => {
  const { tf } = await initTf();
  const u = mulberry32(8);
  const rows: FeatureRow[] = [];
  let c = 50;
  for (let i = 0; i < 400; i++) {
    const f = [u() - 0.5, u() - 0.5];
    rows.push({ symbol: 'SYN', ts: Date.UTC(2019, 0, 1) + i * 86_400_000, close: c, vector: f });
    c *= 1 + 0.02 * f[0]! + 0.002 * (u() - 0.5);
  }
  const cfg = loadPriceTrainConfig(undefined, ['model.arch=mlp', 'model.lookback=2', 'model.hidden=4', 'model.epochs=2', 'data.embargo=1']);
  const trained = await trainPrice(tf, rows, 'synthetic', cfg);
  try {
    const from = Date.UTC(2019, 6, 1);
    const r = evaluatePriceModel(trained.model, rows, { costBps: 5, from, folds: 3 });
    assert.is(r.blocks!.length, 3);
    assert.is(r.summary!.folds, 3);
    assert.is(r.blocks!.reduce((a, b) => a + b.score.n, 0), r.evaluation.n, 'the blocks cover the window');
    assert.is(r.blocks![0]!.from, '2019-07-01');
    for (let b = 1; b < 3; b++) assert.ok(r.blocks![b - 1]!.to < r.blocks![b]!.from);
    // Each block equals the same model evaluated on that block alone, with everything before it as history.
    const at = new Map(r.samples.map((s, i) => [s.ts, i]));
    const second = r.samples.filter((s) => day(s.ts) >= r.blocks![1]!.from && day(s.ts) <= r.blocks![1]!.to);
    const alone = evaluatePriceModel(trained.model, rows, { costBps: 5, from: second[0]!.ts, to: second.at(-1)!.ts });
    assert.equal(r.blocks![1]!.score, scoreFold(alone.evaluation));
    assert.equal(alone.predictions, second.map((s) => r.predictions[at.get(s.ts)!]!));
    assert.is(evaluatePriceModel(trained.model, rows, { costBps: 5, from }).blocks, undefined, 'no folds asked: no blocks');
  } finally {
    trained.model.dispose();
  }
});

t.run();
