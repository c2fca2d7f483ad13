/**
 * Ridge regression baseline: the closed-form solve, the L2 choice on the validation slice, the
 * ridge fitted inside every price training (stored in the artifact, scored beside the naive
 * baselines) and kept out of the default gate.
 */
import * as assert from 'uvu/assert';
import { mulberry32 } from '@stock-mlops/contracts';
import { suite } from '../../harness/index.ts';
import type { FeatureRow } from '@stock-mlops/ml/datasets/supervised';
import { gateBaselines } from '@stock-mlops/ml/ml_service';
import { initTf } from '@stock-mlops/ml/tf';
import { GateConfig, loadPriceTrainConfig } from '@stock-mlops/ml/training/config';
import { PriceModel } from '@stock-mlops/ml/models/price_predictor';
import { fitRidge, predictRidge, RIDGE_L2_GRID, solveSpd, standardizeRow } from '@stock-mlops/ml/models/ridge';
import { evaluatePriceModel, flattenEvaluation, trainPrice } from '@stock-mlops/ml/training/train';

const t = suite('ml ridge baseline', { timeoutMs: 60_000 });

/** Standard normal draws from a seeded generator (Box–Muller). */
function normals(seed: number): () => number {
  const u = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

function linearData(n: number, seed: number, w: number[], b: number, noise: number): { x: Float64Array[]; y: number[] } {
  const g = normals(seed);
  const x = Array.from({ length: n }, () => Float64Array.from(w, () => g()));
  const y = x.map((r) => w.reduce((s, wj, j) => s + wj * r[j]!, b) + noise * g());
  return { x, y };
}

t('solveSpd solves a symmetric positive-definite system and refuses a singular one', () => {
  // A = [[4,2,0],[2,3,1],[0,1,2]], x = [1,-2,3] → b = A x = [0,-1,4]
  const x = solveSpd(Float64Array.from([4, 2, 0, 2, 3, 1, 0, 1, 2]), Float64Array.from([0, -1, 4]), 3);
  [1, -2, 3].forEach((v, i) => assert.ok(Math.abs(x[i]! - v) < 1e-12, `x[${i}] = ${x[i]}`));
  assert.throws(() => solveSpd(Float64Array.from([1, 1, 1, 1]), Float64Array.from([1, 1]), 2), (e: { code?: string }) => e.code === 'E_RIDGE_SINGULAR');
});

t('recovers the coefficients of a linear signal, choosing a weak penalty on the validation slice', () => {
  const w = [0.01, -0.005, 0, 0.002];
  const train = linearData(2000, 1, w, 0.0003, 0.001);
  const val = linearData(500, 2, w, 0.0003, 0.001);
  const r = fitRidge(train, val);
  assert.ok(r.l2 <= 1e-2, `a clean signal wants little shrinkage, chose ${r.l2}`);
  w.forEach((v, j) => assert.ok(Math.abs(r.weights[j]! - v) < 2e-4, `w[${j}] ${r.weights[j]} vs ${v}`));
  assert.ok(Math.abs(r.intercept - 0.0003) < 1e-4);
  assert.equal(r.validation.map((v) => v.l2), [...RIDGE_L2_GRID], 'every penalty of the grid is tried, in order');
  const chosen = r.validation.find((v) => v.l2 === r.l2)!;
  assert.ok(r.validation.every((v) => v.mse >= chosen.mse), 'the chosen penalty has the lowest validation MSE');
  const pred = predictRidge(r, val.x);
  const mse = pred.reduce((s, p, i) => s + (p - val.y[i]!) ** 2, 0) / pred.length;
  assert.ok(Math.abs(mse - chosen.mse) < 1e-15);
});

t('on a target unrelated to the features the strongest penalty wins and the predictions are nearly the mean', () => {
  const g = normals(7);
  const mk = (n: number) => ({ x: Array.from({ length: n }, () => Float64Array.from({ length: 10 }, () => g())), y: Array.from({ length: n }, () => 0.01 * g()) });
  const train = mk(300);
  const r = fitRidge(train, mk(300));
  assert.is(r.l2, RIDGE_L2_GRID[0]);
  const mean = train.y.reduce((a, b) => a + b, 0) / train.y.length;
  for (const p of predictRidge(r, mk(50).x)) assert.ok(Math.abs(p - mean) < 1e-4, `prediction ${p} vs training mean ${mean}`);
});

t('bad inputs are refused with E_RIDGE_INPUT', () => {
  const d = linearData(20, 3, [1, 2], 0, 0.1);
  const bad = (f: () => unknown) => assert.throws(f, (e: { code?: string }) => e.code === 'E_RIDGE_INPUT');
  bad(() => fitRidge({ x: d.x, y: d.y.slice(1) }, d));
  bad(() => fitRidge({ x: [], y: [] }, d));
  bad(() => fitRidge(d, { x: d.x.map((r) => r.slice(0, 1)), y: d.y }));
  bad(() => fitRidge(d, d, []));
  bad(() => fitRidge(d, d, [0]));
  bad(() => fitRidge({ x: d.x, y: d.y.map(() => Number.NaN) }, d));
});

/** A price series whose next return is 0.01·feature0 of the as-of row, plus noise: learnable by ridge. */
function syntheticRows(n: number, seed: number): FeatureRow[] {
  const g = normals(seed);
  const rows: FeatureRow[] = [];
  let close = 100;
  let f = [g(), g(), g()];
  for (let i = 0; i < n; i++) {
    rows.push({ symbol: 'SYN', ts: Date.UTC(2020, 0, 1) + i * 86_400_000, close, vector: f });
    close *= 1 + 0.01 * f[0]! + 0.002 * g();
    f = [g(), g(), g()];
  }
  return rows;
}

t('every price training fits a ridge on the same split, stores it in the artifact and reports it beside the naive baselines', async () => {
  const { tf } = await initTf();
  const rows = syntheticRows(600, 5);
  const cfg = loadPriceTrainConfig(undefined, ['model.arch=mlp', 'model.lookback=3', 'model.hidden=4', 'model.epochs=1', 'data.embargo=1']);
  const r = await trainPrice(tf, rows, 'synthetic', cfg);
  try {
    const ridge = r.model.meta.ridge!;
    assert.ok(ridge && RIDGE_L2_GRID.includes(ridge.l2));
    // The ridge works on the as-of row, standardized with the model's own statistics.
    const z = standardizeRow({ mean: r.model.meta.featureMean, std: r.model.meta.featureStd }, r.test[0]!.window[2]!);
    const manual = predictRidge(ridge, [z])[0]!;
    assert.ok(Math.abs(r.model.predictRidge([r.test[0]!.window.map((x) => [...x])])![0]! - manual) < 1e-15);
    const e = r.evaluation;
    assert.ok(e.baselines.ridge, 'ridge scored on the test window');
    assert.ok(e.baselines.ridge!.ic > 0.9, `ridge finds the planted signal: IC ${e.baselines.ridge!.ic}`);
    assert.ok(e.baselines.ridge!.rmse < e.baselines.zero.rmse);
    const flat = flattenEvaluation(e);
    assert.is(flat.baseline_ridge_rmse, e.baselines.ridge!.rmse);
    // The artifact carries it: a reloaded model predicts the same ridge returns.
    const back = await PriceModel.deserialize(tf, await r.model.serialize());
    const windows = r.test.slice(0, 5).map((s) => s.window.map((x) => [...x]));
    assert.equal(back.predictRidge(windows), r.model.predictRidge(windows));
    back.dispose();
    // Reported, but the default gate ('best' = the naive baselines) does not require beating it.
    assert.equal(Object.keys(gateBaselines(e, GateConfig.parse({}))).sort(), ['movingAverage', 'persistence', 'reversal', 'zero']);
    assert.ok('ridge' in gateBaselines(e, GateConfig.parse({ baseline: 'ridge' })));
  } finally {
    r.model.dispose();
  }
});

t('an artifact without a ridge (older models) evaluates without the ridge column', async () => {
  const { tf } = await initTf();
  const rows = syntheticRows(300, 9);
  const cfg = loadPriceTrainConfig(undefined, ['model.arch=mlp', 'model.lookback=2', 'model.hidden=4', 'model.epochs=1', 'data.embargo=1']);
  const r = await trainPrice(tf, rows, 'synthetic', cfg);
  const art = await r.model.serialize();
  const meta = { ...(art.json.meta as Record<string, unknown>) };
  delete meta.ridge;
  const old = await PriceModel.deserialize(tf, { json: { ...art.json, meta }, weights: art.weights });
  assert.is(old.predictRidge(r.test.slice(0, 2).map((s) => s.window.map((x) => [...x]))), undefined);
  const e = evaluatePriceModel(old, rows, { costBps: 5 }).evaluation;
  assert.is(e.baselines.ridge, undefined);
  assert.ok(evaluatePriceModel(r.model, rows, { costBps: 5 }).evaluation.baselines.ridge, 'evaluate scores the stored ridge');
  old.dispose();
  r.model.dispose();
});

t('a non-finite feature fails the training with E_INPUT_VALUE before the ridge is solved', async () => {
  const { tf } = await initTf();
  const w = (v: number) => [[0.1, 0.2], [v, 0.3]];
  const data = { trainX: [w(1), w(Number.NaN), w(2)], trainY: [0.01, 0, -0.01], valX: [w(1)], valY: [0], featureSchemaHash: 'x' };
  const cfg = loadPriceTrainConfig(undefined, ['model.arch=mlp', 'model.lookback=2', 'model.epochs=1']).model;
  await PriceModel.train(tf, cfg, data).then(
    () => assert.unreachable('trained on NaN'),
    (e: { code?: string; message?: string }) => assert.is(e.code, 'E_INPUT_VALUE', e.message),
  );
});

t.run();
