/**
 * The zero-return baseline as the served version (issue 14), on the real database, Kafka and
 * predictor process: with nothing in production, a price model that loses to the random walk is
 * rejected and `production` points at the zero-return baseline version instead; the predictor
 * loads it from the model event, GetModel/ListModels report it as `baseline:zero-return` and
 * ModelInfer answers 0. Another rejection registers no second baseline. A model that passes the
 * gate then replaces it, and the predictor serves the trained model.
 */
import * as assert from 'uvu/assert';
import path from 'node:path';
import { encode, makeEnvelope, resolveTopics, type ModelEvent } from '@stock-mlops/contracts';
import { PRICE_MODEL, registerAndGatePrice } from '@stock-mlops/ml/ml_service';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { ZERO_RETURN_BASELINE } from '@stock-mlops/ml/registry/price_baseline';
import { initTf } from '@stock-mlops/ml/tf';
import { loadPriceTrainConfig } from '@stock-mlops/ml/training/config';
import { loadPriceCsvRows } from '@stock-mlops/ml/training/price_csv';
import { evaluatePriceSamples, predictSamples, trainPrice } from '@stock-mlops/ml/training/train';
import { suite } from '../harness/index.ts';
import { freePort, kafkaClient, mongoClient, waitFor, withStack } from '../support/stack.ts';
import { exitWhenDone } from '../support/predictor/fixtures.ts';
import { clients } from '../support/predictor/grpc_client.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const t = suite('trainer: the zero-return baseline is served while no model has passed the gate', { timeoutMs: 240_000 });

interface Info {
  name: string;
  version: number;
  status: string;
  aliases: string[];
  serving: boolean;
  kind: string;
}

t('rejected with nothing in production → the baseline serves and predicts 0; a passing model replaces it', async () => {
  const { tf } = await initTf();
  const data = loadPriceCsvRows([path.join(ROOT, 'data/prices/MSFT.csv')]);
  // Loses to the random walk: any model must beat the zero return's RMSE (margin 0).
  const strict = loadPriceTrainConfig(path.join(ROOT, 'config/training/price-smoke.json'), ['gate.baselineMargin=0', 'gate.baseline=zero']);
  // Passes: the smoke gate (baseline margin −100 %), and production may be up to 2× better.
  const passing = loadPriceTrainConfig(path.join(ROOT, 'config/training/price-smoke.json'), ['gate.productionMargin=-1']);
  const good = await trainPrice(tf, data.rows, data.schemaHash, passing);
  const bad = await trainPrice(tf, data.rows, data.schemaHash, strict);
  const out = bad.model.model.layers[bad.model.model.layers.length - 1]!;
  const [kernel, bias] = out.getWeights();
  out.setWeights([tf.zerosLike(kernel!), tf.fill(bias!.shape, 0.03 / bad.model.meta.targetScale)]);
  const badPredicted = predictSamples(bad.model, bad.test);
  const worse = { ...bad, testPredictions: badPredicted, evaluation: evaluatePriceSamples(bad.test, badPredicted, strict.backtest.costBps) };
  assert.ok(worse.evaluation.model.rmse > worse.evaluation.baselines.zero.rmse, 'the forced model loses to the random walk');

  const grpcPort = await freePort();
  await withStack({
    services: ['predictor'],
    perService: { predictor: { GRPC_PORT: String(grpcPort), WS_PORT: String(await freePort()), HTTP_PORT: String(await freePort()), MODEL_POLL_MS: '15000', LOG_LEVEL: 'info' } },
  }, async (stack, defer) => {
    const topics = resolveTopics(stack.prefix);
    const mongo = await mongoClient();
    defer(() => mongo.close());
    const store = new ModelStore(mongo.db(stack.db));
    await store.ensureIndexes();
    const producer = kafkaClient('baseline-test').producer();
    await producer.connect();
    defer(() => producer.disconnect());
    const publish = (events: ModelEvent[]) =>
      producer.send({
        topic: topics.modelEvents,
        messages: events.map((e) => encode('modelEvents', makeEnvelope('modelEvents', { data: e, source: 'test', idParts: [e.kind, e.model.name, e.model.version] }))),
      });
    const base = { tf, store, rows: data.rows, featureSchemaHash: data.schemaHash, featureNames: data.names, gitSha: 'test', lineage: { source: 'csv' } };
    await waitFor('the predictor to listen', () => stack.logs.some((l) => l.includes('predictor listening')), 90_000);
    const c = clients(grpcPort);
    defer(() => c.close());

    // 1. Nothing in production; the candidate loses to the random walk.
    const rejected = await registerAndGatePrice({ ...base, cfg: strict }, worse);
    assert.not.ok(rejected.promoted);
    assert.match(rejected.decision.reason, /gate failed: rmse .* baseline:zero/);
    const v1 = rejected.version.version;
    assert.is(rejected.version.status, 'rejected');
    assert.equal(rejected.events.map((e) => [e.kind, e.model.version]), [['registered', v1], ['rejected', v1], ['promoted', v1 + 1]]);
    const baselineVersion = v1 + 1;
    const baseline = await store.get(PRICE_MODEL, baselineVersion);
    assert.is(baseline.params.baseline, ZERO_RETURN_BASELINE);
    assert.is(baseline.status, 'production');
    assert.match(baseline.statusReason, /^zero-return baseline: no price model has passed the gate/);
    assert.is(baseline.featureSchemaHash, data.schemaHash);
    assert.is(baseline.metrics.rmse, worse.evaluation.baselines.zero.rmse, 'the baseline carries the zero return’s metrics on the window');
    assert.is((await store.getAlias(PRICE_MODEL, 'production'))?.version, baselineVersion);
    await publish(rejected.events);

    // The predictor loads it and says what it is.
    const served = await waitFor('the predictor serving the baseline', async () => {
      const m = await c.domain<Info>('GetModel', { name: 'price' }).catch(() => undefined);
      return m?.serving && m.version === baselineVersion ? m : undefined;
    }, 60_000, 250);
    assert.is(served.kind, 'baseline:zero-return');
    assert.equal(served.aliases, ['production']);
    const listed = (await c.domain<{ models: Info[] }>('ListModels', { name: 'price' })).models;
    assert.equal(listed.map((m) => [m.version, m.kind, m.status]), [[v1, 'model', 'rejected'], [baselineVersion, 'baseline:zero-return', 'production']]);

    // ModelInfer on real MSFT windows: exactly 0.
    const lookback = good.model.meta.config.lookback;
    const nFeatures = data.names.length;
    const infer = async (from: number) => {
      const flat = data.rows.slice(from, from + lookback).flatMap((r) => [...r.vector]);
      const r = await c.oip<{ modelVersion: string; outputs: Array<{ contents: { fp32Contents: number[] } }> }>('ModelInfer', {
        modelName: 'price',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [1, lookback, nFeatures], contents: { fp32Contents: flat } }],
      });
      return { version: Number(r.modelVersion), value: r.outputs[0]!.contents.fp32Contents[0]! };
    };
    const zeros = await Promise.all([100, 500, data.rows.length - lookback].map(infer));
    assert.equal(zeros, zeros.map(() => ({ version: baselineVersion, value: 0 })));

    // 2. Rejected again while the baseline serves: no second baseline, production stays.
    const again = await registerAndGatePrice({ ...base, cfg: strict }, worse);
    assert.equal(again.events.map((e) => e.kind), ['registered', 'rejected']);
    assert.is((await store.getAlias(PRICE_MODEL, 'production'))?.version, baselineVersion);
    assert.is((await store.list(PRICE_MODEL)).filter((v) => v.params.baseline === ZERO_RETURN_BASELINE).length, 1);

    // 3. A model that passes the gate (compared with the baseline as production) replaces it.
    const passed = await registerAndGatePrice({ ...base, cfg: passing }, good);
    assert.ok(passed.promoted, passed.decision.reason);
    assert.match(passed.decision.reason, /production threshold/);
    assert.equal(passed.events.map((e) => [e.kind, e.model.version, e.previous?.version]), [['registered', passed.version.version, undefined], ['promoted', passed.version.version, baselineVersion]]);
    assert.is((await store.get(PRICE_MODEL, baselineVersion)).status, 'archived');
    await publish(passed.events);
    const model = await waitFor('the predictor serving the trained model', async () => {
      const m = await c.domain<Info>('GetModel', { name: 'price' }).catch(() => undefined);
      return m?.serving && m.version === passed.version.version ? m : undefined;
    }, 60_000, 250);
    assert.is(model.kind, 'model');
    const answers = await Promise.all([100, 500].map(infer));
    assert.ok(answers.every((a) => a.version === passed.version.version && Number.isFinite(a.value)) && answers.some((a) => a.value !== 0), `the trained model answers (${answers.map((a) => a.value).join(', ')})`);
    good.model.dispose();
    bad.model.dispose();
  });
});

t.after(() => {
  exitWhenDone();
});

t.run();
