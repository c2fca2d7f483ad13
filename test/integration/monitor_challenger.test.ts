/**
 * Live promotion with the monitor as a process on the real broker and database. The test plays
 * the predictor and the transformer: production predictions, the challenger's shadow predictions
 * for the same events (same envelope event ids) and the clean bars that resolve them (AAPL daily
 * closes of 2013), with the registry aliases written directly. Checked: the side-by-side report
 * over gRPC while the policy waits for N paired outcomes; a clearly better challenger promoted
 * (registry aliases, `challenger_promoted` with its evidence, a `promoted` model event); then a
 * worse challenger kept (`challenger_kept`, production unchanged); a stale promotion refused.
 */
import * as assert from 'uvu/assert';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Producer } from 'kafkajs';
import pino from 'pino';
import { encode, makeEnvelope, type CleanPriceBar, type Topics } from '@stock-mlops/contracts';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { createKafka, ensureTopics } from '@stock-mlops/platform';
import type { FeatureRow } from '@stock-mlops/transform';
import { suite } from '../harness/index.ts';
import { collect, dumpLogs, freePort, kafkaClient, mongoClient, startStack, waitFor, type RunningStack } from '../support/stack.ts';
import { prediction, realFeatures, registryDoc } from '../support/monitor.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const t = suite('monitor live promotion (real broker and database)', { timeoutMs: 180_000 });

type Client = grpc.Client & Record<string, (req: unknown, cb: (err: grpc.ServiceError | null, res: any) => void) => void>;
function monitorClient(port: number): Client {
  const def = protoLoader.loadSync(path.join(ROOT, 'proto/stockmlops/v1/monitor.proto'), { keepCase: false, longs: Number, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  return new pkg.stockmlops.v1.MonitoringService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}
const getReport = (c: Client) => new Promise<any>((resolve) => c.GetMonitoringReport!({ task: 'price' }, (_err, res) => resolve(res)));

const rows = realFeatures('AAPL').filter((r) => r.ts >= '2013-01-01' && r.ts < '2014-01-01');
const trainedThrough = '2012-12-31T00:00:00.000Z';
const nextReturn = (i: number) => rows[i + 1]!.close / rows[i]!.close - 1;
/** A weak rule, a forecaster that knows half of tomorrow (clearly better), and a noisy one (worse). */
const weak = (i: number) => 0.002 * Math.sin(i / 3);
const strong = (i: number) => 0.5 * nextReturn(i) + 0.0005 * Math.cos(i);
const noisy = (i: number) => strong(i) + 0.03 * Math.sin(i * 7);

const MIN_OUTCOMES = 60;
const MONITOR_ENV = {
  MONITOR_EVAL_MS: '1000',
  MONITOR_PROMOTION: 'on',
  MONITOR_PROMOTION_MIN_OUTCOMES: String(MIN_OUTCOMES),
  MONITOR_PROMOTION_COOLDOWN_MS: '3000',
  // Drift and performance triggers stay out of this test.
  MONITOR_FEATURE_DRIFT_SHARE: 'off',
  MONITOR_PREDICTION_PSI: 'off',
  MONITOR_MIN_DIRECTIONAL_ACCURACY: 'off',
  MONITOR_MIN_IC: 'off',
  MONITOR_MAX_MAPE_RATIO: 'off',
};

function cleanBar(r: FeatureRow): CleanPriceBar {
  return { symbol: 'AAPL', interval: '1d', ts: r.ts, open: r.close, high: r.close, low: r.close, close: r.close, volume: 1e6, adjFactor: 1, zeroVolume: false, outlier: false };
}

/** Rows [from, to): the production and the shadow prediction of each (one event id), then the bars through `to`. */
async function produce(producer: Producer, topics: Topics, from: number, to: number, versions: { production: [number, (i: number) => number]; challenger: [number, (i: number) => number] }): Promise<void> {
  const live: Array<{ key: string; value: string }> = [];
  const shadow: Array<{ key: string; value: string }> = [];
  for (let i = from; i < to; i++) {
    const r = rows[i]!;
    const p = makeEnvelope('pricePredictions', {
      data: prediction({ symbol: 'AAPL', asOf: r.ts, lastClose: r.close, predictedReturn: versions.production[1](i), version: versions.production[0] }),
      source: 'test',
      idParts: ['AAPL', r.ts],
    });
    const s = makeEnvelope('pricePredictionsShadow', {
      data: prediction({ symbol: 'AAPL', asOf: r.ts, lastClose: r.close, predictedReturn: versions.challenger[1](i), version: versions.challenger[0] }),
      source: 'test',
      eventId: p.eventId,
    });
    live.push(encode('pricePredictions', p));
    shadow.push(encode('pricePredictionsShadow', s));
  }
  await producer.send({ topic: topics.pricePredictions, messages: live });
  await producer.send({ topic: topics.pricePredictionsShadow, messages: shadow });
  const bars = rows.slice(from, to + 1).map((r) => encode('cleanPrices', makeEnvelope('cleanPrices', { data: cleanBar(r), source: 'test', idParts: [r.ts] })));
  await producer.send({ topic: topics.cleanPrices, messages: bars });
}

const ctx: { stack?: RunningStack; producer?: Producer } = {};

t('a better challenger is promoted on live evidence; a worse one is kept and production stays', async () => {
  const grpcPort = await freePort();
  const stack = startStack({ services: ['monitor'], perService: { monitor: { ...MONITOR_ENV, MONITOR_GRPC_PORT: String(grpcPort) } } });
  ctx.stack = stack;
  const topics = await ensureTopics(createKafka({ brokers: process.env.KAFKA_BROKERS!, clientId: 'monitor-challenger-it', log: pino({ level: 'silent' }) }), stack.prefix);
  const mongo = await mongoClient();
  const events = await collect([topics.monitorEvents, topics.modelEvents], 'mon-chal');
  const client = monitorClient(grpcPort);
  try {
    const registry = new ModelStore(mongo.db(stack.db));
    for (const v of [1, 2, 3]) {
      const doc = registryDoc(v, rows.slice(0, 60), [0.001, -0.001, 0.002], { trainedThrough });
      await registry.register({ ...doc, params: {}, normalization: null, reference: doc.reference!, dataWindow: doc.dataWindow!, metrics: doc.metrics!, featureSchemaHash: doc.featureSchemaHash!, lineage: {}, gitSha: 'test', artifacts: { json: {}, weights: new Uint8Array(4) } } as never);
    }
    await registry.setAlias('price', 'production', 1, 'test');
    await registry.setAlias('price', 'challenger', 2, 'test');

    ctx.producer = kafkaClient('monitor-challenger-it').producer();
    await ctx.producer.connect();
    const first = { production: [1, weak], challenger: [2, strong] } as const;

    // Fewer paired outcomes than N: the report compares both, the policy waits.
    await produce(ctx.producer, topics, 0, 30, first as never);
    const waiting = await waitFor('a side-by-side report', async () => {
      const r = await getReport(client);
      return r?.challenger?.overall?.n === 30 ? r : undefined;
    }, 60_000, 500);
    assert.is(waiting.promotionAction, 'waiting');
    assert.match(waiting.promotionReason, /30 of 60 paired outcomes/);
    const o = waiting.challenger.overall;
    assert.equal([o.productionVersion, o.challengerVersion, o.loss, o.horizon], [1, 2, 'squared', 1]);
    assert.ok(o.rmseRatio < 1 && o.maeRatio < 1, `ratios ${o.rmseRatio} ${o.maeRatio}`);
    assert.ok(o.challengerIc > o.productionIc);
    assert.ok(Number.isFinite(o.dmHlnStatistic) && o.dmPValue >= 0 && o.dmPValue <= 1);
    assert.is(waiting.challenger.symbols.length, 1);
    assert.is(waiting.challenger.symbols[0].symbol, 'AAPL');
    assert.is(events.messages.filter((m) => m.topic === topics.monitorEvents).length, 0, 'no decision before N');

    // N reached: promoted, with the evidence.
    await produce(ctx.producer, topics, 30, 80, first as never);
    const promoted = await waitFor('challenger_promoted', () => events.messages.find((m) => m.topic === topics.monitorEvents), 60_000, 250);
    const e = JSON.parse(promoted.m.value!.toString()).data;
    assert.is(e.kind, 'challenger_promoted');
    assert.equal(e.model, { name: 'price', version: 2 });
    assert.is(e.evidence.productionVersion, 1);
    assert.is(e.evidence.challengerVersion, 2);
    assert.ok(e.evidence.pairedOutcomes >= MIN_OUTCOMES, `paired ${e.evidence.pairedOutcomes}`);
    assert.ok(e.evidence.dmPValue < 0.05, `p ${e.evidence.dmPValue}`);
    assert.ok(e.evidence.rmseRatio < 1 && e.evidence.challengerRmseVsZero < 1);
    assert.match(e.reason, /promote price: challenger v2 vs production v1/);
    assert.is((await registry.getAlias('price', 'production'))?.version, 2);
    assert.is(await registry.getAlias('price', 'challenger'), null);
    assert.is((await registry.get('price', 2)).status, 'production');
    const modelEvent = await waitFor('a promoted model event', () => events.messages.find((m) => m.topic === topics.modelEvents), 30_000, 250);
    const me = JSON.parse(modelEvent.m.value!.toString()).data;
    assert.equal([me.kind, me.alias, me.model, me.previous], ['promoted', 'production', { name: 'price', version: 2 }, { name: 'price', version: 1 }]);
    const serving = await waitFor('the monitor follows the new production', async () => {
      const r = await getReport(client);
      return r?.modelVersion === 2 ? r : undefined;
    }, 30_000, 500);
    assert.is(serving.challenger, null, 'no challenger any more');

    // A worse challenger against the new production: kept after a full window, production unchanged.
    // (The monitor evaluates when data arrive: let the 3 s cool-down pass before they do.)
    await new Promise((r) => setTimeout(r, 3_500));
    await registry.setAlias('price', 'challenger', 3, 'test');
    await produce(ctx.producer, topics, 80, 80 + MIN_OUTCOMES + 5, { production: [2, strong], challenger: [3, noisy] } as never);
    const kept = await waitFor('challenger_kept', () => events.messages.filter((m) => m.topic === topics.monitorEvents)[1], 60_000, 250);
    const k = JSON.parse(kept.m.value!.toString()).data;
    assert.is(k.kind, 'challenger_kept');
    assert.equal(k.model, { name: 'price', version: 3 });
    assert.is(k.evidence.productionVersion, 2);
    assert.ok(k.evidence.pairedOutcomes >= MIN_OUTCOMES);
    assert.ok(k.evidence.dmPValue >= 0.05 && k.evidence.rmseRatio > 1, JSON.stringify(k.evidence));
    assert.is((await registry.getAlias('price', 'production'))?.version, 2, 'production unchanged');
    const show = (x: Record<string, number>) => `n ${x.pairedOutcomes}, DM p ${x.dmPValue!.toExponential(2)}, RMSE ratio ${x.rmseRatio!.toFixed(3)}`;
    console.log(`  promoted v2 over v1: ${show(e.evidence)}; kept v3 against v2: ${show(k.evidence)}`);
    assert.is((await registry.getAlias('price', 'challenger'))?.version, 3, 'the challenger stays registered');
    assert.is(events.messages.filter((m) => m.topic === topics.modelEvents).length, 1, 'no promotion event');
    // Both decisions are stored with their evidence (the dashboard's panel reads them).
    const stored = await mongo.db(stack.db).collection('promotion_decisions').find({}).sort({ decidedAtMs: 1 }).toArray();
    assert.equal(stored.map((d) => [d.kind, d.action, d.productionVersion, d.challengerVersion]), [['challenger_promoted', 'promote', 1, 2], ['challenger_kept', 'keep', 2, 3]]);
    assert.equal(Object.fromEntries((stored[0]!.evidenceNames as string[]).map((n, i) => [n, (stored[0]!.evidenceValues as number[])[i]])), e.evidence);
    assert.is(stored[1]!.reason, k.reason);

    // A decision taken on aliases that moved since is refused, and nothing moves.
    try {
      await registry.promoteChallenger('price', { challenger: 2, production: 2 }, 'stale');
      assert.unreachable('a stale promotion must fail');
    } catch (err) {
      assert.is((err as { code?: string }).code, 'E_ALIAS_CHANGED');
    }
    assert.is((await registry.getAlias('price', 'production'))?.version, 2);
  } catch (err) {
    dumpLogs(stack, 80);
    throw err;
  } finally {
    client.close();
    await events.stop();
    await mongo.close();
  }
});

t.after(async () => {
  await ctx.producer?.disconnect();
  await ctx.stack?.stop();
});

t.run();
