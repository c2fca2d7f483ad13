/**
 * Price training from CSV files: the dataset builder (same code as the stream), lineage, no
 * leakage (features never see data at or after their label's start), reproducibility (same seed
 * and data → same metrics), and the walk-forward pipeline producing the model's and every
 * baseline's metrics on a real price file.
 */
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from '../../harness/index.ts';
import { assertNoLeakage, assertSplitsEmbargoed } from '@stock-mlops/ml/datasets/leakage';
import { walkForwardSplit } from '@stock-mlops/ml/datasets/splits';
import { makeSupervised, type FeatureRow, type SupervisedSample } from '@stock-mlops/ml/datasets/supervised';
import { initTf } from '@stock-mlops/ml/tf';
import { loadPriceTrainConfig } from '@stock-mlops/ml/training/config';
import { featureRowsFromBars, loadPriceCsvRows, parsePriceCsv, PRICE_FEATURE_SCHEMA, symbolFromPath } from '@stock-mlops/ml/training/price_csv';
import { baselineReturns, evaluatePriceSamples, trainPrice, walkForwardEvaluatePrice } from '@stock-mlops/ml/training/train';
import { PIPELINE_SCHEMA, SymbolPipeline, type Bar } from '@stock-mlops/transform';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const MSFT = path.join(ROOT, 'data/prices/MSFT.csv');
const t = suite('ml price training from CSV', { timeoutMs: 120_000 });

const msftBars = parsePriceCsv(readFileSync(MSFT, 'utf8'), 'MSFT').bars;

t('CSV files become feature rows of the stream schema, with file checksums as lineage', () => {
  const d = loadPriceCsvRows([MSFT, path.join(ROOT, 'data/prices/SPY.csv')]);
  assert.is(d.schemaHash, PIPELINE_SCHEMA.hash, 'the schema the transformer publishes');
  assert.is(PRICE_FEATURE_SCHEMA, PIPELINE_SCHEMA);
  assert.equal(d.lineage.symbols, ['MSFT', 'SPY']);
  assert.is(d.files.length, 2);
  assert.is(d.files[0]!.sha256, createHash('sha256').update(readFileSync(MSFT)).digest('hex'));
  assert.is(d.files[0]!.bars, 1258, 'every MSFT row parsed');
  // The feature engine needs WARMUP_BARS bars before the first ready row.
  assert.ok(d.files[0]!.featureRows > 1100 && d.files[0]!.featureRows < 1258);
  assert.ok(d.rows.every((r) => r.vector.length === PIPELINE_SCHEMA.names.length && r.vector.every(Number.isFinite)));
  assert.is(symbolFromPath('/x/005930.KS.csv'), '005930.KS');
  assert.throws(() => symbolFromPath('/x/bad name.csv'), (e: { code?: string }) => e.code === 'E_CSV_SYMBOL');
});

t('the CSV path computes exactly the vectors the streaming pipeline emits', () => {
  const batch = featureRowsFromBars(msftBars).rows;
  const stream = SymbolPipeline.create('MSFT', { reorderWindow: 3 });
  const streamed: FeatureRow[] = [];
  const take = (out: { features: Array<{ bar: { ts: string; close: number }; vector: number[] }> }) => {
    for (const f of out.features) streamed.push({ symbol: 'MSFT', ts: Date.parse(f.bar.ts), close: f.bar.close, vector: f.vector });
  };
  for (const bar of msftBars) take(stream.push(bar));
  take(stream.flush());
  assert.is(streamed.length, batch.length);
  assert.equal(streamed, batch);
});

/** Rebuild features after replacing every bar at or after `cut` (epoch ms) with very different values. */
function featuresWithMutatedFuture(bars: readonly Bar[], cut: number, seed: number): FeatureRow[] {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const mutated = bars.map((b) => {
    if (Date.parse(b.ts) < cut) return b;
    const k = 0.5 + 1.5 * rnd();
    const { adjClose, ...rest } = b;
    return { ...rest, open: b.open * k, high: b.high * k * 1.02, low: b.low * k * 0.98, close: b.close * k, volume: Math.round(b.volume * (0.2 + 3 * rnd())), ...(adjClose !== undefined ? { adjClose: adjClose * k } : {}) };
  });
  return featureRowsFromBars(mutated).rows;
}

/** Samples (by as-of time) whose inputs differ between two feature sets, among samples as of before `cut`. */
function changedInputs(base: readonly SupervisedSample[], other: readonly SupervisedSample[], cut: number): number[] {
  const byTs = new Map(other.map((s) => [s.ts, s]));
  const changed: number[] = [];
  for (const s of base) {
    if (s.labelStart > cut) continue; // only samples whose label starts at or before the cut
    const o = byTs.get(s.ts);
    if (!o || JSON.stringify(o.window) !== JSON.stringify(s.window)) changed.push(s.ts);
  }
  return changed;
}

t('no leakage: mutating every bar at or after a label start leaves that sample’s inputs (and all earlier ones) unchanged', () => {
  const opts = { horizon: 1, lookback: 20 };
  const rows = featureRowsFromBars(msftBars).rows;
  const samples = makeSupervised(rows, opts);
  assertNoLeakage(samples);
  // 40 label starts spread over the whole series, including the first and the last sample.
  const picks = Array.from({ length: 40 }, (_, i) => samples[Math.round((i * (samples.length - 1)) / 39)]!);
  let checked = 0;
  for (const [i, sample] of picks.entries()) {
    const mutated = makeSupervised(featuresWithMutatedFuture(msftBars, sample.labelStart, 1000 + i), opts);
    const changed = changedInputs(samples, mutated, sample.labelStart);
    assert.equal(changed, [], `inputs changed for samples as of ${changed.slice(0, 3).map((ts) => new Date(ts).toISOString().slice(0, 10)).join(', ')} when bars from ${new Date(sample.labelStart).toISOString().slice(0, 10)} on were mutated`);
    // …and the mutation did reach this sample's label, so the check is not vacuous.
    const same = mutated.find((s) => s.ts === sample.ts);
    if (same) assert.is.not(same.label, sample.label, 'the label moved with the future bars');
    checked += samples.filter((s) => s.labelStart <= sample.labelStart).length;
  }
  assert.ok(checked > 10_000, `${checked} sample windows compared`);
});

t('the leakage check catches a feature that peeks at the next bar', () => {
  const opts = { horizon: 1, lookback: 5 };
  const rows = featureRowsFromBars(msftBars).rows;
  const peek = (rs: FeatureRow[]) => rs.map((r, i) => ({ ...r, vector: [...r.vector, rs[i + 1]?.close ?? r.close] }));
  const samples = makeSupervised(peek(rows), opts);
  const cut = samples[600]!.labelStart;
  const mutated = makeSupervised(peek(featuresWithMutatedFuture(msftBars, cut, 7)), opts);
  assert.ok(changedInputs(samples, mutated, cut).length > 0, 'a look-ahead feature is detected');
});

t('walk-forward splits of the training pipeline are embargoed and leak-free', () => {
  const cfg = loadPriceTrainConfig(undefined, ['model.lookback=20']);
  const samples = makeSupervised(featureRowsFromBars(msftBars).rows, { horizon: cfg.model.horizon, lookback: cfg.model.lookback });
  const split = walkForwardSplit(samples, { trainFrac: cfg.data.trainFrac, valFrac: cfg.data.valFrac, testFrac: cfg.data.testFrac, embargo: cfg.data.embargo });
  assertSplitsEmbargoed([split.train, split.val, split.test]);
  const lastTrain = Math.max(...split.train.map((s) => s.labelEnd));
  assert.ok(lastTrain < Math.min(...split.val.map((s) => s.ts)));
});

t('baselines use only labels realized before each sample (labelEnd <= as-of time)', () => {
  const samples = makeSupervised(featureRowsFromBars(msftBars).rows, { horizon: 3, lookback: 1 });
  const test = samples.slice(500, 520);
  const b = baselineReturns(test, 20, samples.slice(0, 500));
  test.forEach((s, i) => {
    const known = samples.filter((x) => x.labelEnd <= s.ts);
    assert.is(b.persistence[i], known[known.length - 1]!.label);
    assert.is(b.reversal[i], -known[known.length - 1]!.label, '1-day reversal: the last realized return, negated');
    const tail = known.slice(-20).map((x) => x.label);
    assert.ok(Math.abs(b.movingAverage[i]! - tail.reduce((a, c) => a + c, 0) / 20) < 1e-15);
  });
});

t('reproducible: the same seed and data give identical metrics twice (LSTM and MLP on wasm)', async () => {
  const { tf, backend } = await initTf();
  const d = loadPriceCsvRows([MSFT]);
  for (const arch of ['lstm', 'mlp']) {
    const cfg = loadPriceTrainConfig(undefined, [`model.arch=${arch}`, 'model.lookback=8', 'model.hidden=8', 'model.epochs=3', 'model.patience=3', 'model.seed=11']);
    const a = await trainPrice(tf, d.rows, d.schemaHash, cfg);
    const b = await trainPrice(tf, d.rows, d.schemaHash, cfg);
    assert.equal(b.history, a.history, `${arch} on ${backend}: identical losses`);
    assert.equal(b.testPredictions, a.testPredictions, `${arch}: identical predictions`);
    assert.equal(b.evaluation, a.evaluation, `${arch}: identical metrics`);
    const c = await trainPrice(tf, d.rows, d.schemaHash, loadPriceTrainConfig(undefined, [`model.arch=${arch}`, 'model.lookback=8', 'model.hidden=8', 'model.epochs=3', 'model.patience=3', 'model.seed=12']));
    assert.not.equal(c.history, a.history, `${arch}: another seed trains differently`);
    for (const r of [a, b, c]) r.model.dispose();
  }
});

t('walk-forward evaluation of a real file reports the model, every baseline and the backtest', async () => {
  const { tf } = await initTf();
  const d = loadPriceCsvRows([MSFT]);
  const cfg = loadPriceTrainConfig(undefined, ['model.arch=mlp', 'model.lookback=10', 'model.hidden=16', 'model.epochs=4']);
  const r = await walkForwardEvaluatePrice(tf, d.rows, d.schemaHash, cfg, { folds: 2 });
  assert.is(r.folds.length, 2);
  assert.ok(r.folds[0]!.to < r.folds[1]!.from, 'test blocks follow each other in time');
  const e = r.evaluation;
  assert.is(e.n, r.samples.length);
  for (const m of [e.model, e.baselines.zero, e.baselines.persistence, e.baselines.reversal, e.baselines.movingAverage]) {
    assert.ok(m.rmse > 0 && m.mae > 0 && m.mae <= m.rmse && Number.isFinite(m.mape), 'finite error metrics');
  }
  assert.is(e.baselines.zero.directionalAccuracy, 0, 'a zero prediction never calls a direction');
  assert.ok(e.backtest.buyAndHold.exposure === 1 && e.backtest.strategy.exposure >= 0 && e.backtest.strategy.exposure <= 1);
  // Pooled test blocks evaluated together equal the evaluation recomputed from the returned predictions.
  assert.equal(evaluatePriceSamples(r.samples, r.predictions, cfg.backtest.costBps, r.history, r.ridgePredictions), e);
  assert.ok(e.baselines.ridge && e.baselines.ridge.rmse > 0, 'the folds\' ridge baselines are scored on the same samples');
  // Per-fold scores and their summary across folds.
  assert.is(r.summary.folds, 2);
  for (const f of r.folds) {
    assert.ok(f.ridge, 'each fold reports its ridge');
    const s = f.score;
    assert.is(s.n, f.test);
    assert.ok(Number.isFinite(s.maeRatio) && Number.isFinite(s.rmseRatio) && s.rmseRatio > 0);
    assert.ok(s.backtest.turnover >= 0 && s.backtest.turnover <= 1 && s.costBps === cfg.backtest.costBps);
    assert.is(s.icDefined, Number.isFinite(s.ic));
  }
  assert.ok(Math.abs(r.summary.ic.mean - r.folds.reduce((a, f) => a + (f.score.icDefined ? f.score.ic : 0), 0) / 2) < 1e-15);
});

t.run();
