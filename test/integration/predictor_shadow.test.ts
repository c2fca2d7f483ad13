/**
 * Champion and challenger with the real predictor process, Kafka and the registry in MongoDB: a
 * challenger set in the registry is loaded next to production; features replayed through Kafka get
 * production predictions (v1, unchanged: the numbers the v1 model gives on the same windows) and,
 * on the shadow topic, the challenger's predictions with the same event ids and the challenger's
 * version; gRPC answers stay production's. Then a challenger that fails on every batch (its feature
 * schema is not the stream's) is set with a `challenger_set` event: it is dropped after
 * SHADOW_MAX_FAILURES batches with a log line and a metric, and production keeps predicting. With
 * this headroom nothing is dropped for room (production first): every offered prediction is scored.
 */
import * as assert from 'uvu/assert';
import type { KafkaMessage } from 'kafkajs';
import { encode, makeEnvelope, resolveTopics, type Envelope, type FeatureVector, type ModelEvent, type PricePrediction } from '@stock-mlops/contracts';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { setChallenger } from '@stock-mlops/ml/registry/challenger';
import { suite } from '../harness/index.ts';
import { collect, freePort, kafkaClient, mongoClient, waitFor, withStack } from '../support/stack.ts';
import { exitWhenDone, featureSeries, LOOKBACK, promote, randomPriceModel, registerInput, storeSyntheticSchema } from '../support/predictor/fixtures.ts';
import { clients, type Clients } from '../support/predictor/grpc_client.ts';

const t = suite('predictor champion/challenger: shadow predictions (real process, Kafka, registry)', { timeoutMs: 170_000 });
const ctx: { c?: Clients; close: Array<() => Promise<void>> } = { close: [] };

const envelopeOf = (m: KafkaMessage) => JSON.parse(m.value!.toString()) as Envelope<PricePrediction>;

t('the challenger scores the same features on the shadow topic with the production event ids; a failing challenger is dropped, production goes on', async () => {
  const production = await randomPriceModel(101);
  const challenger = await randomPriceModel(202);
  const otherSchema = await randomPriceModel(303, { schemaHash: 'a-newer-feature-schema' });
  const grpcPort = await freePort();
  const opsPort = await freePort();
  await withStack(
    {
      services: ['predictor'],
      perService: {
        predictor: { GRPC_PORT: String(grpcPort), WS_PORT: String(await freePort()), HTTP_PORT: String(opsPort), MODEL_POLL_MS: '60000', SHADOW_MAX_FAILURES: '2', LOG_LEVEL: 'info' },
      },
    },
    async (stack) => {
      const topics = resolveTopics(stack.prefix);
      const mongo = await mongoClient();
      ctx.close.push(() => mongo.close());
      const store = new ModelStore(mongo.db(stack.db));
      const v1 = await promote(store, 'price', await production.serialize());
      await storeSyntheticSchema(mongo.db(stack.db));
      const v2 = (await store.register(registerInput('price', await challenger.serialize()))).version;
      await setChallenger(store, 'price', v2, 'test: shadow v2');
      const v3 = (await store.register(registerInput('price', await otherSchema.serialize(), 'a-newer-feature-schema'))).version;

      await waitFor('the predictor to load production and the challenger', () => stack.logs.some((l) => l.includes('challenger loaded for shadow scoring')), 90_000);
      const c = clients(grpcPort);
      ctx.c = c;
      await waitFor('predictor serving over gRPC', async () => (await c.health<{ status: number }>('Check', { service: '' }).catch(() => ({ status: 0 }))).status === 1, 60_000, 250);
      const out = await collect([topics.pricePredictions, topics.pricePredictionsShadow], 'shadow-test');
      ctx.close.push(out.stop);
      const producer = kafkaClient('shadow-test').producer();
      await producer.connect();
      ctx.close.push(() => producer.disconnect());
      const sendFeatures = (fvs: FeatureVector[]) =>
        producer.send({ topic: topics.features, messages: fvs.map((fv) => encode('features', makeEnvelope('features', { data: fv, source: 'test', idParts: [fv.symbol, fv.ts] }))) });
      const of = (topic: string) => out.messages.filter((m) => m.topic === topic).map((m) => envelopeOf(m.m));

      // 1. Production and shadow predictions of the same features.
      const series = { AAA: featureSeries('AAA', 40, 1), BBB: featureSeries('BBB', 40, 2) };
      await sendFeatures([...series.AAA.slice(0, 20), ...series.BBB.slice(0, 20)]);
      const expected = 2 * (20 - LOOKBACK + 1);
      await waitFor(`${expected} production and ${expected} shadow predictions`, () => of(topics.pricePredictions).length >= expected && of(topics.pricePredictionsShadow).length >= expected, 60_000, 200);
      const prod = of(topics.pricePredictions);
      const shadow = of(topics.pricePredictionsShadow);
      assert.equal([prod.length, shadow.length], [expected, expected]);
      assert.ok(prod.every((e) => e.type === 'prediction.price' && e.data.model.version === v1), 'production predictions come from v1');
      assert.ok(shadow.every((e) => e.type === 'prediction.price.shadow' && e.data.model.version === v2), 'shadow predictions come from the challenger v2');
      const prodById = new Map(prod.map((e) => [e.eventId, e.data]));
      for (const s of shadow) {
        const p = prodById.get(s.eventId);
        assert.ok(p, `shadow ${s.eventId} has the event id of a production prediction`);
        assert.equal([s.data.symbol, s.data.asOf, s.data.lastClose], [p!.symbol, p!.asOf, p!.lastClose]);
      }
      assert.ok(shadow.some((s) => Math.abs(s.data.predictedReturn - prodById.get(s.eventId)!.predictedReturn) > 1e-7), 'the challenger gives its own numbers');
      // Production answers are v1's own numbers on the same windows, challenger or not.
      for (const symbol of ['AAA', 'BBB'] as const) {
        const fvs = series[symbol].slice(0, 20);
        const windows = fvs.slice(LOOKBACK - 1).map((_, i) => fvs.slice(i, i + LOOKBACK).map((f) => [...f.values]));
        const want = production.predict(windows);
        const got = prod.filter((e) => e.data.symbol === symbol).sort((a, b) => a.data.asOf.localeCompare(b.data.asOf)).map((e) => e.data.predictedReturn);
        got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-6, `${symbol} #${i}: ${g} vs v1 ${want[i]}`));
      }
      const answer = await c.domain<{ prediction: { modelVersion: number } }>('Predict', { symbol: 'AAA' });
      assert.is(answer.prediction.modelVersion, v1, 'gRPC answers with production');
      const listed = await c.domain<{ models: Array<{ version: number; aliases: string[] }> }>('ListModels', { name: 'price' });
      assert.equal(listed.models.find((m) => m.version === v2)?.aliases, ['challenger']);

      // 2. A challenger that fails on every batch is dropped; production goes on.
      await setChallenger(store, 'price', v3, 'test: a challenger of another feature schema');
      const event: ModelEvent = { kind: 'challenger_set', model: { name: 'price', version: v3 }, task: 'price', alias: 'challenger' };
      await producer.send({ topic: topics.modelEvents, messages: [encode('modelEvents', makeEnvelope('modelEvents', { data: event, source: 'test', idParts: ['price', 'challenger', v3] }))] });
      await waitFor('the failing challenger to be loaded', () => stack.logs.some((l) => l.includes('challenger loaded') && l.includes(`"version":${v3}`)), 30_000);
      const before = { prod: of(topics.pricePredictions).length, shadow: of(topics.pricePredictionsShadow).length };
      for (let day = 20; day < 24; day++) {
        // One feature batch at a time, so the challenger fails on several batches.
        await sendFeatures([series.AAA[day]!, series.BBB[day]!]);
        await waitFor(`production predictions of day ${day}`, () => of(topics.pricePredictions).length >= before.prod + 2 * (day - 19), 30_000, 100);
      }
      await waitFor('the failing challenger to be dropped', () => stack.logs.some((l) => l.includes('challenger dropped after failing in shadow scoring')), 30_000, 100);
      await sendFeatures([...series.AAA.slice(24), ...series.BBB.slice(24)]);
      await waitFor('production predictions after the drop', () => of(topics.pricePredictions).length >= before.prod + 2 * 20, 30_000, 100);
      const late = of(topics.pricePredictions).slice(before.prod);
      assert.ok(late.every((e) => e.data.model.version === v1));
      assert.is(of(topics.pricePredictionsShadow).length, before.shadow, 'the failing challenger published nothing');
      const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      assert.match(metrics, /^stockmlops_challenger_dropped_total\{[^}]*reason="error"[^}]*\} 1$/m);
      assert.match(metrics, /^stockmlops_shadow_dropped_total\{[^}]*reason="error"[^}]*\} [1-9]/m);
      assert.match(metrics, new RegExp(`^stockmlops_shadow_predictions_total(\\{[^}]*\\})? ${expected}$`, 'm'));
      // Production first leaves the challenger every prediction when there is headroom: nothing dropped for room, all offered.
      assert.not.match(metrics, /^stockmlops_shadow_dropped_total\{[^}]*reason="overflow"/m);
      const offered = Number(/^stockmlops_shadow_offered_total(?:\{[^}]*\})? (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(offered >= expected, `${offered} production predictions offered to the challengers`);
      assert.ok(stack.logs.some((l) => l.includes('shadow predictions dropped; production keeps serving') && /"dropped":\{"error":[1-9]/.test(l)), 'the (rate-limited) drop line counts the failed batch');
      const drop = stack.logs.find((l) => l.includes('challenger dropped after failing'))!;
      assert.match(drop, /"code":"E_SCHEMA_MISMATCH"/);
      assert.is((await c.domain<{ prediction: { modelVersion: number } }>('Predict', { symbol: 'BBB' })).prediction.modelVersion, v1, 'gRPC still answers');
      console.log(`  ${expected} shadow predictions paired by event id; the failing challenger dropped after 2 batches, ${late.length} production predictions since`);
    },
  );
});

t.after(async () => {
  ctx.c?.close();
  for (const f of ctx.close.reverse()) await f().catch(() => {});
  exitWhenDone();
});

t.run();
