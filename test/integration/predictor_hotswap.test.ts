/**
 * Hot swap under load, with the real predictor process, Kafka and the registry in MongoDB:
 * while clients keep calling Predict and ModelInfer, a new good version is promoted (registry
 * alias + `promoted` model event), then two deliberately broken versions are promoted (truncated
 * weights: the load fails; NaN weights: the warm-up fails). No request fails, answers switch to
 * the good new version, the broken ones never serve, and each failure is logged with its code
 * and counted in /metrics.
 */
import * as assert from 'uvu/assert';
import { encode, makeEnvelope, resolveTopics, type FeatureVector } from '@stock-mlops/contracts';
import { ModelStore, type ModelArtifacts } from '@stock-mlops/ml/registry/model_store';
import { suite } from '../harness/index.ts';
import { freePort, kafkaClient, mongoClient, waitFor, withStack } from '../support/stack.ts';
import { exitWhenDone, featureSeries, LOOKBACK, N_FEATURES, promote, randomPriceModel, storeSyntheticSchema } from '../support/predictor/fixtures.ts';
import { clients, type Clients } from '../support/predictor/grpc_client.ts';

const t = suite('predictor hot swap under load (real process, Kafka, registry)', { timeoutMs: 150_000 });

interface Answer {
  startedAt: number;
  version: number | null;
  error?: string;
  via: 'Predict' | 'ModelInfer';
}

t('a promotion and two broken promotions during a load run: no request fails, the broken versions never serve', async () => {
  // Every artifact is built before the predictor starts, so the registry steps below are quick.
  const good1 = await (await randomPriceModel(101)).serialize();
  const good2 = await (await randomPriceModel(202)).serialize();
  const good3 = await (await randomPriceModel(303)).serialize();
  const truncated: ModelArtifacts = { json: good3.json, weights: good3.weights.slice(0, good3.weights.length - 12) };
  const nan = await (await randomPriceModel(404)).serialize();
  const nanWeights = new Uint8Array(nan.weights);
  new Float32Array(nanWeights.buffer, nanWeights.byteOffset, nanWeights.byteLength / 4).fill(Number.NaN);
  const grpcPort = await freePort();
  const opsPort = await freePort();
  await withStack({
    services: ['predictor'],
    perService: { predictor: { GRPC_PORT: String(grpcPort), WS_PORT: String(await freePort()), HTTP_PORT: String(opsPort), MODEL_POLL_MS: '15000', LOG_LEVEL: 'info' } },
  }, async (stack, defer) => {
    const topics = resolveTopics(stack.prefix);
    const mongo = await mongoClient();
    defer(() => mongo.close());
    const store = new ModelStore(mongo.db(stack.db));
    const producer = kafkaClient('hotswap-test').producer();
    await producer.connect();
    defer(() => producer.disconnect());
    const publishEvent = (version: number) =>
      producer.send({
        topic: topics.modelEvents,
        messages: [encode('modelEvents', makeEnvelope('modelEvents', { data: { kind: 'promoted', model: { name: 'price', version }, task: 'price' }, source: 'test', idParts: ['price', version] }))],
      });
    // Model events trigger the swaps; registry polling is the fallback (e.g. an event published
    // before the predictor's consumer joined).
    const v1 = await promote(store, 'price', good1);
    await storeSyntheticSchema(mongo.db(stack.db));
    await waitFor('the predictor to listen (it creates the topics)', () => stack.logs.some((l) => l.includes('predictor listening')), 90_000);
    await publishEvent(v1);
    const c = clients(grpcPort);
    defer(() => c.close());
    await waitFor('predictor serving over gRPC', async () => (await c.health<{ status: number }>('Check', { service: '' }).catch(() => ({ status: 0 }))).status === 1, 90_000, 250);

    // Features reach the predictor through Kafka, as in production.
    const series: FeatureVector[] = [...featureSeries('AAA', 25, 1), ...featureSeries('BBB', 25, 2)];
    await producer.send({ topic: topics.features, messages: series.map((fv) => encode('features', makeEnvelope('features', { data: fv, source: 'test', idParts: [fv.symbol, fv.ts] }))) });
    for (const symbol of ['AAA', 'BBB']) {
      await waitFor(`Predict(${symbol}) from the streamed features`, () => c.domain('Predict', { symbol }).then(() => true, () => false), 60_000, 200);
    }

    const window = series.filter((f) => f.symbol === 'BBB').slice(-LOOKBACK).flatMap((f) => f.values);
    const raw = Buffer.alloc(window.length * 4);
    window.forEach((x, i) => raw.writeFloatLE(x, i * 4));
    const answers: Answer[] = [];
    let running = true;
    const loop = async (i: number) => {
      for (let n = 0; running; n++) {
        const startedAt = Date.now();
        const via = (n + i) % 3 === 0 ? 'ModelInfer' : 'Predict';
        try {
          if (via === 'Predict') {
            const r = await c.domain<{ prediction: { modelVersion: number } }>('Predict', { symbol: n % 2 ? 'AAA' : 'BBB' }, { deadlineMs: 10_000 });
            answers.push({ startedAt, version: r.prediction.modelVersion, via });
          } else {
            const r = await c.oip<{ modelVersion: string }>('ModelInfer', { modelName: 'price', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, LOOKBACK, N_FEATURES] }], rawInputContents: [raw] }, { deadlineMs: 10_000 });
            answers.push({ startedAt, version: Number(r.modelVersion), via });
          }
        } catch (err) {
          answers.push({ startedAt, version: null, error: `${(err as { code?: number }).code}: ${(err as Error).message}`, via });
        }
      }
    };
    const loops = [0, 1, 2, 3].map(loop);
    await new Promise((r) => setTimeout(r, 1_000));

    const v2 = await promote(store, 'price', good2);
    await publishEvent(v2);
    const firstV2 = await waitFor('answers from the new version', () => answers.find((a) => a.version === v2), 30_000, 50);

    const v3 = await promote(store, 'price', truncated);
    await publishEvent(v3);
    const metric = async () => {
      const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      return [...text.matchAll(/^stockmlops_model_load_failures_total\{[^}]*model="price"[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
    };
    await waitFor('the truncated version to be refused', async () => (await metric()) >= 1, 30_000, 200);
    const v4 = await promote(store, 'price', { json: nan.json, weights: nanWeights });
    await publishEvent(v4);
    await waitFor('the NaN version to be refused', async () => (await metric()) >= 2, 30_000, 200);
    await new Promise((r) => setTimeout(r, 1_500)); // a few more poll cycles with the broken version in production
    running = false;
    await Promise.all(loops);

    const failed = answers.filter((a) => a.error);
    assert.is(failed.length, 0, `no request fails (${failed.slice(0, 3).map((f) => f.error).join('; ')})`);
    assert.ok(answers.length > 50, `a real load run (${answers.length} answers)`);
    const versions = new Set(answers.map((a) => a.version));
    assert.equal([...versions].sort(), [v1, v2], 'only the good versions ever answered');
    assert.ok(answers.some((a) => a.version === v1 && a.via === 'Predict') && answers.some((a) => a.version === v2 && a.via === 'ModelInfer'), 'both paths answered');
    const lateOld = answers.filter((a) => a.startedAt > firstV2.startedAt + 1_000 && a.version !== v2);
    assert.is(lateOld.length, 0, 'requests started after the switch are answered by the new version');

    const served = await c.domain<{ version: number; serving: boolean }>('GetModel', { name: 'price' });
    assert.equal([served.version, served.serving], [v2, true], 'the served version is the last good one');
    assert.is((await store.resolve('price@production')).version, v4, 'while the registry points at the broken one');
    const logs = stack.logs.join('\n');
    assert.match(logs, /model load failed; keeping the current version/);
    assert.match(logs, /"code":"E_WARMUP"/);
    const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    assert.match(text, /stockmlops_model_swaps_total\{[^}]*model="price"[^}]*\} 2/);
    console.log(`  ${answers.length} answers, versions ${[...versions].join(',')}, 0 failures`);
  });
});

t.after(() => {
  exitWhenDone();
});

t.run();
