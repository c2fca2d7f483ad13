/**
 * Price inference in the worker thread (PREDICT_WORKER=1): the same numbers as in-thread
 * inference for the same windows (directly and through the core and the micro-batching queue),
 * and hot swaps through the worker: a version that fails to load or to warm up in the worker is
 * never switched in, the previous version keeps serving, and a retired version is freed. With
 * two batches in flight every request still gets its own answer, across a hot swap.
 */
import * as assert from 'uvu/assert';
import pino from 'pino';
import client from 'prom-client';
import type { ModelArtifacts, ModelStore, ModelVersion } from '@stock-mlops/ml/registry/model_store';
import { runPriceJobs, ServingPriceModel } from '@stock-mlops/ml/inference/predictor';
import { InferenceWorker } from '@stock-mlops/ml/inference/worker';
import { PriceModel } from '@stock-mlops/ml/models/price_predictor';
import { initTf } from '@stock-mlops/ml/tf';
import { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { createPriceInference } from '@stock-mlops/ml/inference/price_inference';
import { ModelCatalog } from '../../../services/predictor/src/model_loader.ts';
import { suite } from '../../harness/index.ts';
import { featureSeries, LOOKBACK, randomPriceModel, registerInput } from '../../support/predictor/fixtures.ts';

const t = suite('predictor: price inference in a worker thread', { timeoutMs: 120_000 });
const ctx: { worker?: InferenceWorker } = {};
const codeOf = async (fn: () => unknown) => {
  try {
    await fn();
    return 'none';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};
const windowsOf = (n: number) => Array.from({ length: n }, (_, i) => featureSeries(`S${i}`, LOOKBACK, i + 7).map((f) => f.values));

t.before(async () => {
  ctx.worker = await InferenceWorker.start();
});

t('the worker answers with exactly the numbers of in-thread inference, for MLP and LSTM models and any batch size', async () => {
  const { tf } = await initTf();
  assert.is(ctx.worker!.backend, (await initTf()).backend, 'the worker initialised the same tfjs backend');
  for (const [seed, arch] of [[11, 'mlp'], [12, 'lstm']] as const) {
    const artifacts = await (await randomPriceModel(seed, { arch })).serialize();
    const local = new ServingPriceModel({ name: 'price', version: seed }, await PriceModel.deserialize(tf, artifacts));
    const remote = await ctx.worker!.loadPrice({ name: 'price', version: seed }, artifacts);
    await remote.warmup();
    assert.ok(remote.inWorker && !local.inWorker);
    for (const n of [1, 3, 32, 70]) {
      const ws = windowsOf(n);
      const inThread = local.predictReturns(ws);
      const inWorker = await remote.predictBatch(ws);
      assert.equal(inWorker, inThread, `${arch}, batch of ${n}`);
      assert.ok(inThread.some((x) => x !== 0), 'non-trivial outputs');
    }
    assert.is(await codeOf(() => remote.predictReturns(windowsOf(1))), 'E_MODEL_IN_WORKER', 'no synchronous path to a worker model');
    assert.is(await codeOf(() => remote.predictBatch([[[1, 2]]])), 'E_INPUT_SHAPE', 'windows are validated before they are sent');
    remote.retire();
    local.retire();
  }
});

t('through the core and the queue: Predict answers are the same with the model in the worker or in this thread', async () => {
  const { tf } = await initTf();
  const artifacts = await (await randomPriceModel(21, { arch: 'lstm' })).serialize();
  const symbols = Array.from({ length: 12 }, (_, i) => `W${i}`);
  const answers: number[][] = [];
  const local = new ServingPriceModel({ name: 'price', version: 1 }, await PriceModel.deserialize(tf, artifacts));
  for (const model of [new ServingPriceModel({ name: 'price', version: 1 }, await PriceModel.deserialize(tf, artifacts)), await ctx.worker!.loadPrice({ name: 'price', version: 1 }, artifacts)]) {
    const inference = createPriceInference({ maxBatch: 8, maxDelayMs: 0, maxQueue: 100 });
    const core = new PredictorCore(inference.run);
    core.swap(model);
    symbols.forEach((s, i) => featureSeries(s, LOOKBACK + 3, i + 1).forEach((fv) => core.remember(fv)));
    const out = await Promise.all(symbols.map((symbol) => core.predict([{ symbol }])));
    answers.push(out.map(([p]) => p!.predictedReturn));
    // A batch straddling a hot swap (this model and an in-thread one) is split by model, answers in order.
    const other = new ServingPriceModel({ name: 'price', version: 2 }, await randomPriceModel(22));
    const [w0, w1] = windowsOf(2);
    const mixed = await runPriceJobs([{ model, window: w0! }, { model: other, window: w1! }, { model, window: w1! }]);
    assert.equal(mixed, [local.predictReturns([w0!])[0], other.predictReturns([w1!])[0], local.predictReturns([w1!])[0]]);
    inference.close();
    core.swap(new ServingPriceModel({ name: 'price', version: 9 }, await PriceModel.deserialize(tf, artifacts)));
  }
  assert.equal(answers[1], answers[0]);
});

t('two batches in flight in the worker (PREDICT_IN_FLIGHT=2): every request is answered once with its own window\'s numbers, across a hot swap between the batches', async () => {
  const { tf } = await initTf();
  const registry = new client.Registry();
  const inference = createPriceInference({ maxBatch: 64, maxDelayMs: 0, maxQueue: 1000, pipelined: true, maxInFlight: 2 }, registry);
  const core = new PredictorCore(inference.run);
  const a1 = await (await randomPriceModel(41, { arch: 'lstm' })).serialize();
  const a2 = await (await randomPriceModel(42, { arch: 'lstm' })).serialize();
  const v1 = await ctx.worker!.loadPrice({ name: 'price', version: 1 }, a1);
  const v2 = await ctx.worker!.loadPrice({ name: 'price', version: 2 }, a2);
  const local1 = new ServingPriceModel({ name: 'price', version: 1 }, await PriceModel.deserialize(tf, a1));
  const local2 = new ServingPriceModel({ name: 'price', version: 2 }, await PriceModel.deserialize(tf, a2));
  core.swap(v1);
  const symbols = Array.from({ length: 24 }, (_, i) => `F${i}`);
  symbols.forEach((s, i) => featureSeries(s, LOOKBACK + 2, i + 50).forEach((fv) => core.remember(fv)));
  const windows = symbols.map((s) => core.history.windowFor(s, v1.spec)!);
  // Admitted in one turn: 24 requests under version 1, then a swap, then 24 under version 2.
  const first = Promise.all(symbols.map((symbol) => core.predict([{ symbol }])));
  core.swap(v2);
  const second = Promise.all(symbols.map((symbol) => core.predict([{ symbol }])));
  const [out1, out2] = await Promise.all([first, second]);
  assert.equal(out1.map(([p]) => [p!.symbol, p!.model.version, p!.predictedReturn]), symbols.map((s, i) => [s, 1, local1.predictReturns([windows[i]!])[0]]));
  assert.equal(out2.map(([p]) => [p!.symbol, p!.model.version, p!.predictedReturn]), symbols.map((s, i) => [s, 2, local2.predictReturns([windows[i]!])[0]]));
  const sizes = (await (registry.getSingleMetric('stockmlops_predict_batch_size') as client.Histogram).get()).values;
  const count = sizes.find((v) => v.metricName?.endsWith('_count'))?.value;
  const sum = sizes.find((v) => v.metricName?.endsWith('_sum'))?.value;
  assert.equal([count, sum], [2, 48], 'the 48 waiting requests went as two batches of 24, both handed to the worker');
  assert.is(await codeOf(() => v1.predictBatch([windows[0]!])), 'E_MODEL_DISPOSED', 'the swapped-out version was freed once its batch was done');
  inference.close();
  core.swap(local1);
});

/** The registry calls ModelCatalog makes, served from memory (a price model only). */
function memoryStore(): { store: ModelStore; promote: (artifacts: ModelArtifacts) => number } {
  const versions = new Map<number, ModelArtifacts>();
  let production = 0;
  const store = {
    getAlias: async (name: string) => (name === 'price' && production ? { version: production } : null),
    get: async (name: string, version: number) => ({ ...registerInput('price', versions.get(version)!), name, version, status: 'production', createdAt: new Date().toISOString() }) as unknown as ModelVersion,
    loadArtifacts: async (_name: string, version: number) => versions.get(version)!,
  } as unknown as ModelStore;
  return {
    store,
    promote: (artifacts) => {
      production = versions.size + 1;
      versions.set(production, artifacts);
      return production;
    },
  };
}

t('hot swap through the worker: truncated and NaN versions fail in the worker, the previous version keeps serving; a retired version is freed', async () => {
  const { tf } = await initTf();
  const inference = createPriceInference({ maxBatch: 64, maxDelayMs: 0, maxQueue: 100 });
  const core = new PredictorCore(inference.run);
  const { store, promote } = memoryStore();
  const failures: Array<[number, string]> = [];
  const catalog = new ModelCatalog(store, core, tf, pino({ level: 'silent' }), {
    loadPrice: (ref, artifacts) => ctx.worker!.loadPrice(ref, artifacts),
    onLoadFailure: (_m, version, code) => failures.push([version, code]),
  });
  const series = featureSeries('AAA', LOOKBACK + 4, 3);
  series.forEach((fv) => core.remember(fv));
  const window = series.slice(-LOOKBACK).map((f) => f.values);
  const good1 = await (await randomPriceModel(31, { arch: 'lstm' })).serialize();
  const expected1 = new ServingPriceModel({ name: 'price', version: 1 }, await PriceModel.deserialize(tf, good1)).predictReturns([window])[0];

  const v1 = promote(good1);
  assert.equal((await catalog.syncProduction('test'))[0], { model: 'price', swapped: true, version: v1 });
  const first = core.serving!;
  assert.ok(first.inWorker, 'the served model runs in the worker');
  assert.is((await core.predict([{ symbol: 'AAA' }]))[0]!.predictedReturn, expected1);

  const bad = await (await randomPriceModel(32, { arch: 'lstm' })).serialize();
  const v2 = promote({ json: bad.json, weights: bad.weights.slice(0, bad.weights.length - 12) });
  const r2 = (await catalog.syncProduction('test'))[0]!;
  assert.equal([r2.swapped, r2.version], [false, v2]);
  const nanWeights = new Uint8Array(bad.weights);
  new Float32Array(nanWeights.buffer, nanWeights.byteOffset, nanWeights.byteLength / 4).fill(Number.NaN);
  const v3 = promote({ json: bad.json, weights: nanWeights });
  const r3 = (await catalog.syncProduction('test'))[0]!;
  assert.equal([r3.swapped, r3.version], [false, v3]);
  assert.match(r3.error ?? '', /^E_WARMUP/, 'NaN weights fail the warm-up (run in the worker)');
  assert.equal(failures.map(([v]) => v), [v2, v3]);
  assert.is(core.serving, first, 'the previous version keeps serving');
  const [p] = await core.predict([{ symbol: 'AAA' }]);
  assert.equal([p!.model.version, p!.predictedReturn], [v1, expected1], 'with the same answers');

  const good4 = await (await randomPriceModel(34, { arch: 'lstm' })).serialize();
  const v4 = promote(good4);
  assert.ok((await catalog.syncProduction('test'))[0]!.swapped);
  const expected4 = new ServingPriceModel({ name: 'price', version: 4 }, await PriceModel.deserialize(tf, good4)).predictReturns([window])[0];
  const [p4] = await core.predict([{ symbol: 'AAA' }]);
  assert.equal([p4!.model.version, p4!.predictedReturn], [v4, expected4]);
  assert.is(await codeOf(() => first.predictBatch([window])), 'E_MODEL_DISPOSED', 'the retired version was freed');
  inference.close();
});

t('a worker that is gone fails its calls with E_INFERENCE_WORKER instead of hanging', async () => {
  const exits: string[] = [];
  const w = await InferenceWorker.start({ onExit: (err) => exits.push(err.message) });
  const m = await w.loadPrice({ name: 'price', version: 1 }, await (await randomPriceModel(41)).serialize());
  await w.close();
  assert.is(await codeOf(() => m.predictBatch(windowsOf(2))), 'E_INFERENCE_WORKER');
  assert.equal(exits, [], 'a requested close is not reported as a failure');
});

t.after(async () => {
  await ctx.worker?.close();
});

t.run();
