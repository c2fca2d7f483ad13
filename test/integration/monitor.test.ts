/**
 * The monitor service as a process against the real broker and database. The test plays every
 * other stage: it registers a model version with its drift reference, then produces real
 * features, clean bars and price predictions (AAPL daily data through the production feature
 * code). Checked: realized performance and drift over gRPC, one retrain request per incident
 * (with evidence) and its alert, state surviving a restart, bad input dead-lettered, gRPC
 * errors, health and reflection-free calls.
 */
import * as assert from 'uvu/assert';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProto } from 'grpc-health-check';
import type { Producer } from 'kafkajs';
import type { FeatureRow } from '@stock-mlops/transform';
import { DLQ_HEADERS, encode, makeEnvelope, TRACE_HEADER, type CleanPriceBar, type Topics } from '@stock-mlops/contracts';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { createKafka, ensureTopics } from '@stock-mlops/platform';
import pino from 'pino';
import { serviceSpec } from '../../scripts/lib/supervisor.ts';
import { suite } from '../harness/index.ts';
import { collect, freePort, kafkaClient, mongoClient, waitFor, withStack } from '../support/stack.ts';
import { fakePredict, prediction, realFeatures, registryDoc, toFeatureVector } from '../support/monitor.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const t = suite('monitor service (real broker and database)', { timeoutMs: 180_000 });

type Report = Record<string, any>;
type Client = grpc.Client & Record<string, (req: unknown, cb: (err: grpc.ServiceError | null, res: any) => void) => void>;

function clients(port: number): { monitor: Client; health: Client } {
  const opts = { keepCase: false, longs: Number, enums: String, defaults: true };
  const m = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(ROOT, 'proto/stockmlops/v1/monitor.proto'), opts)) as any;
  const h = grpc.loadPackageDefinition(protoLoader.loadSync(healthProto, opts)) as any;
  const addr = `127.0.0.1:${port}`;
  return {
    monitor: new m.stockmlops.v1.MonitoringService(addr, grpc.credentials.createInsecure()),
    health: new h.grpc.health.v1.Health(addr, grpc.credentials.createInsecure()),
  };
}
const call = (c: Client, rpc: string, req: unknown) =>
  new Promise<{ err: grpc.ServiceError | null; res?: any }>((resolve) => c[rpc]!(req, (err, res) => resolve({ err, res })));

// Real data: AAPL 2012–2013 is the reference; every sixth row of it (re-dated after the training
// window) is in-distribution live data; the autumn-2008 crash, re-dated after that, is the shift.
const aapl = realFeatures('AAPL');
const between = (a: string, b: string) => aapl.filter((r) => r.ts >= a && r.ts < b);
const period = between('2012-01-01', '2014-01-01');
const reference = period.filter((_, i) => i % 6 !== 3);
const trainedThrough = reference[reference.length - 1]!.ts;
function redate(rows: readonly FeatureRow[], last: string): FeatureRow[] {
  let t0 = Date.parse(last);
  return rows.map((r) => {
    do t0 += 86_400_000;
    while ([0, 6].includes(new Date(t0).getUTCDay()));
    return { ...r, ts: new Date(t0).toISOString() };
  });
}
const heldOut = redate(period.filter((_, i) => i % 6 === 3), trainedThrough);
const crash = redate(between('2008-09-01', '2009-01-01'), heldOut[heldOut.length - 1]!.ts);
/** The crash goes on: early 2009, re-dated after it. */
const later = redate(between('2009-01-01', '2009-03-01'), crash[crash.length - 1]!.ts);

function cleanBar(r: FeatureRow): CleanPriceBar {
  return { symbol: 'AAPL', interval: '1d', ts: r.ts, open: r.close, high: r.close, low: r.close, close: r.close, volume: 1e6, adjFactor: 1, zeroVolume: false, outlier: false };
}

const traceOf = (i: number) => (0xa000_0000_0000 + i).toString(16).padStart(16, '0');
/** What the transformer and the predictor would publish for these rows, with trace headers. */
async function produceRows(producer: Producer, topics: Topics, rows: readonly FeatureRow[], offset: number): Promise<void> {
  const msgs = (key: 'features' | 'cleanPrices' | 'pricePredictions', make: (r: FeatureRow) => any) =>
    rows.map((r, i) => {
      const env = makeEnvelope(key, { data: make(r), source: 'test', idParts: [key, r.ts], traceId: traceOf(offset + i) });
      return { ...encode(key, env as never), headers: { [TRACE_HEADER]: traceOf(offset + i) } };
    });
  await producer.send({ topic: topics.features, messages: msgs('features', (r) => toFeatureVector(r, 'AAPL')) });
  await producer.send({ topic: topics.pricePredictions, messages: msgs('pricePredictions', (r) => prediction({ symbol: 'AAPL', asOf: r.ts, lastClose: r.close, predictedReturn: fakePredict(r.vector, 1) })) });
  await producer.send({ topic: topics.cleanPrices, messages: msgs('cleanPrices', cleanBar) });
}

const ctx: { producer?: Producer } = {};
const MONITOR_ENV = {
  MONITOR_EVAL_MS: '1000',
  MONITOR_DRIFT_WINDOW: '80',
  MONITOR_MIN_DRIFT_SAMPLES: '50',
  MONITOR_MIN_OUTCOMES: '50',
  MONITOR_COOLDOWN_MS: '600000',
};

t('performance and drift are reported; a shift raises one retrain request with evidence; state survives a restart', async () => {
  const grpcPort = await freePort();
  await withStack({ services: ['monitor'], perService: { monitor: { ...MONITOR_ENV, MONITOR_GRPC_PORT: String(grpcPort) } }, logLines: 80 }, async (stack, defer) => {
    const topics = await ensureTopics(createKafka({ brokers: process.env.KAFKA_BROKERS!, clientId: 'monitor-it', log: pino({ level: 'silent' }) }), stack.prefix);
    const mongo = await mongoClient();
    const events = await collect([topics.monitorEvents, topics.dlqMonitor], 'monitor-it');
    try {
      // The registry: version 1 with its reference, in production.
      const store = new ModelStore(mongo.db(stack.db));
      const doc = registryDoc(1, reference, reference.map((r) => fakePredict(r.vector, 1)), { trainedThrough, mape: 0.012 });
      await store.register({ ...doc, status: undefined as never, params: {}, normalization: null, reference: doc.reference!, dataWindow: doc.dataWindow!, metrics: doc.metrics!, featureSchemaHash: doc.featureSchemaHash!, lineage: {}, gitSha: 'test', artifacts: { json: {}, weights: new Uint8Array(4) } } as never);
      await store.setAlias('price', 'production', 1, 'test');

      const { monitor, health } = clients(grpcPort);
      const h = await waitFor('gRPC health SERVING', async () => {
        const r = await call(health, 'Check', { service: 'stockmlops.v1.MonitoringService' });
        return r.res?.status === 'SERVING' ? r.res : undefined;
      }, 60_000, 500);
      assert.is(h.status, 'SERVING');

      ctx.producer = kafkaClient('monitor-it').producer();
      defer(() => ctx.producer?.disconnect());
      await ctx.producer.connect();
      await produceRows(ctx.producer, topics, heldOut, 0);
      const calm: Report = await waitFor('a report over the held-out rows', async () => {
        const r = await call(monitor, 'GetMonitoringReport', { task: 'price' });
        return r.res?.performance?.n === heldOut.length - 1 && r.res.featureDrift?.n >= 50 ? r.res : undefined;
      }, 60_000, 500);
      assert.is(calm.modelName, 'price');
      assert.is(calm.modelVersion, 1);
      assert.is(calm.trainedThrough, trainedThrough);
      assert.equal(calm.breaches, [], 'in-distribution data breaches nothing');
      assert.is(calm.featureDrift.features.length, 65);
      assert.ok(calm.performance.directionalAccuracy >= 0 && calm.performance.directionalAccuracy <= 1);
      assert.ok(Number.isFinite(calm.performance.ic));
      assert.is(calm.symbols[0].symbol, 'AAPL');
      assert.is(events.messages.filter((m) => m.topic === topics.monitorEvents).length, 0);

      // The shift: the 2008 crash after the held-out rows.
      await produceRows(ctx.producer, topics, crash, 1_000);
      const first = await waitFor('a retrain request', () => events.messages.find((m) => m.topic === topics.monitorEvents), 60_000, 250);
      const e = JSON.parse(first.m.value!.toString()).data;
      assert.is(e.kind, 'retrain_requested');
      assert.is(e.task, 'price');
      assert.equal(e.model, { name: 'price', version: 1 });
      assert.match(e.reason, /feature drift/);
      assert.ok(e.evidence.featureDriftShare >= 0.75, `evidence ${JSON.stringify(e.evidence)}`);
      assert.ok(e.evidence.featurePsiMax > 1);
      assert.ok(typeof e.incidentId === 'string' && e.incidentId.length > 8);

      // The shift goes on, a bar at a time (each evaluation sees new data): the same incident is
      // seen again and again, and no second request is made; the alert counts the occurrences.
      const alerts = mongo.db(stack.db).collection('alerts');
      for (let i = 0; i < 4; i++) {
        await produceRows(ctx.producer, topics, later.slice(i, i + 1), 1_500 + i);
        await new Promise((r) => setTimeout(r, 1_500));
      }
      await waitFor('the incident seen again', async () => ((await alerts.findOne({ _id: e.incidentId }))?.occurrences >= 3 ? true : undefined), 30_000, 250);
      assert.is(events.messages.filter((m) => m.topic === topics.monitorEvents).length, 1, 'one incident, one request');
      const listed = await call(monitor, 'ListAlerts', { task: 'price' });
      assert.is(listed.res.alerts.length, 1);
      assert.is(listed.res.alerts[0].incidentId, e.incidentId);
      assert.is(listed.res.alerts[0].status, 'open');
      assert.ok(listed.res.alerts[0].evidence.featureDriftShare >= 0.75);
      const shifted: Report = (await call(monitor, 'GetMonitoringReport', {})).res;
      assert.ok(shifted.breaches.some((b: Report) => b.kind === 'feature_drift'));
      assert.is(shifted.incidentId, e.incidentId);
      assert.ok(['deduplicated', 'retrain_requested'].includes(shifted.action));

      // Restart: the state comes back from MongoDB (outcomes, windows, the open incident).
      const before = shifted.performance.n;
      await stack.sup.stopOne('monitor');
      const restartedAt = stack.logs.length;
      stack.sup.start(serviceSpec('monitor', { HTTP_PORT: '0', ...MONITOR_ENV, MONITOR_GRPC_PORT: String(grpcPort) }));
      const line = await waitFor('the restored state logged', () => stack.logs.slice(restartedAt).find((l) => l.includes('monitor state restored')), 60_000);
      const restored = JSON.parse(line.slice(line.indexOf('{'))) as { outcomes: number; pending: number; features: number };
      assert.is(restored.pending, 1);
      const produced = heldOut.length + crash.length + 4;
      assert.is(restored.outcomes, produced - 1, 'every resolved prediction is back (the newest still waits for its bar)');
      assert.is(restored.features, 80);
      // One more bar resolves the last pending prediction; the report reflects state from before the restart.
      await produceRows(ctx.producer, topics, later.slice(4, 6), 2_000);
      const after: Report = await waitFor('a report after the restart', async () => {
        const r = await call(monitor, 'GetMonitoringReport', { task: 'price', modelVersion: 1 });
        return r.res && r.res.evaluatedAt > shifted.evaluatedAt && r.res.performance.n > before ? r.res : undefined;
      }, 60_000, 500);
      assert.is(after.incidentId, e.incidentId, 'the incident is still open after the restart');
      assert.is(events.messages.filter((m) => m.topic === topics.monitorEvents).length, 1, 'no new request after the restart');

      // Bad input is dead-lettered with its reason; gRPC errors are explicit.
      await ctx.producer.send({ topic: topics.pricePredictions, messages: [{ key: 'AAPL', value: '{"not": "a prediction"}' }] });
      const dead = await waitFor('a dead letter', () => events.messages.find((m) => m.topic === topics.dlqMonitor), 30_000);
      assert.is(dead.m.headers?.[DLQ_HEADERS.code]?.toString(), 'E_SCHEMA');
      assert.is(dead.m.headers?.[DLQ_HEADERS.stage]?.toString(), 'monitor');
      assert.is((await call(monitor, 'GetMonitoringReport', { task: 'weather' })).err?.code, grpc.status.INVALID_ARGUMENT);
      assert.is((await call(monitor, 'GetMonitoringReport', { task: 'price', modelVersion: 99 })).err?.code, grpc.status.NOT_FOUND);
      assert.is((await call(monitor, 'ListAlerts', { limit: 100_000 })).err?.code, grpc.status.INVALID_ARGUMENT);
      monitor.close();
      health.close();
    } finally {
      await events.stop();
      await mongo.close();
    }
  });
});


t.run();
