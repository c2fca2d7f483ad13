/**
 * predictor: serves the production price model.
 * - consumes features (shared consumer group) → publishes price predictions;
 * - consumes the prediction stream in broadcast (own group) → gRPC StreamPredictions and WebSocket;
 * - consumes model events → hot-swaps on promotion or rollback (also polls the registry).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { makeEnvelope, encode, TRACE_HEADER, type FeatureVector, type PricePrediction } from '@stock-mlops/contracts';
import { envPort, runConsumer, startService, withDbRetry } from '@stock-mlops/platform';
import { COLLECTIONS, LatestStateStore, type FeatureDoc } from '@stock-mlops/load';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { initTf } from '@stock-mlops/ml/tf';
import { PredictorCore } from './core.ts';
import { startGrpcServer, SERVICE_NAME } from './grpc_server.ts';
import { ModelCatalog, PRICE_MODEL_NAME } from './model_loader.ts';
import { startWsServer } from './ws_server.ts';

const Env = z.object({
  GRPC_HOST: z.string().default('127.0.0.1'),
  GRPC_PORT: envPort.default(50051),
  GRPC_MAX_MESSAGE_BYTES: z.coerce.number().int().positive().default(4 * 1024 * 1024),
  PREDICT_MAX_BATCH: z.coerce.number().int().positive().default(1024),
  WS_HOST: z.string().default('127.0.0.1'),
  WS_PORT: envPort.default(8081),
  WS_PATH: z.string().startsWith('/').default('/ws'),
  WS_HEARTBEAT_MS: z.coerce.number().int().positive().default(15_000),
  WS_MAX_BUFFERED_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
  WS_TOKEN: z.string().min(16).optional(),
  WS_ALLOWED_ORIGINS: z.string().optional(),
  PREDICTOR_INSTANCE_ID: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/).optional(),
  MODEL_POLL_MS: z.coerce.number().int().positive().default(10_000),
});

const svc = await startService({ name: 'predictor', env: Env, mongo: true });
const { config, log, topics, producer, kafka, shutdown, metrics } = svc;
const db = svc.mongo!.db;
const instance = config.PREDICTOR_INSTANCE_ID ?? randomBytes(4).toString('hex');
const prefix = config.KAFKA_TOPIC_PREFIX;
const { tf, backend } = await initTf();
log.info({ backend }, 'tensorflow backend ready');

const core = new PredictorCore();
const store = new ModelStore(db);
const catalog = new ModelCatalog(store, core, tf, log, (v) => {
  metrics.modelInfo.reset();
  metrics.modelInfo.set({ model: v.name, version: String(v.version), task: v.task }, 1);
});
svc.setReady('model', false);

// Seed the latest predictions and the feature history from the database.
const latestStore = new LatestStateStore(db);
for (const s of await withDbRetry(() => latestStore.all(), { log })) {
  if (s.prediction) core.onPrediction(s.prediction);
}
async function warmHistory(): Promise<void> {
  const symbols = (await db.collection(COLLECTIONS.features).distinct('symbol')) as string[];
  for (const symbol of symbols) {
    const docs = (await db.collection(COLLECTIONS.features).find({ symbol }).sort({ ts: -1 }).limit(core.history.capacity).toArray()) as unknown as FeatureDoc[];
    for (const d of docs.reverse()) {
      const { _id, eventId, ...fv } = d;
      core.remember(fv as FeatureVector);
    }
  }
}
await withDbRetry(warmHistory, { log });

const grpc = await startGrpcServer({
  host: config.GRPC_HOST,
  port: config.GRPC_PORT,
  log,
  core,
  catalog,
  maxBatch: config.PREDICT_MAX_BATCH,
  maxMessageBytes: config.GRPC_MAX_MESSAGE_BYTES,
});
shutdown.add('grpc', grpc.close);
const ws = await startWsServer({
  host: config.WS_HOST,
  port: config.WS_PORT,
  path: config.WS_PATH,
  log,
  core,
  heartbeatMs: config.WS_HEARTBEAT_MS,
  maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
  token: config.WS_TOKEN,
  allowedOrigins: config.WS_ALLOWED_ORIGINS?.split(',').map((s) => s.trim()),
});
shutdown.add('websocket', ws.close);
log.info({ grpc: `${config.GRPC_HOST}:${grpc.port}`, ws: `ws://${config.WS_HOST}:${ws.port}${config.WS_PATH}` }, 'predictor listening');

let featuresStarted = false;
async function startFeatureConsumer(): Promise<void> {
  if (featuresStarted) return;
  featuresStarted = true;
  const consumer = await runConsumer({
    kafka,
    groupId: `${prefix}predictor`,
    topics,
    subscribe: ['features'] as const,
    stage: 'predict',
    dlqTopic: topics.dlqPredict,
    producer,
    log,
    metrics,
    onFatal: svc.fatal,
    handle: async (batch, ctx) => {
      const { predictions, rejected } = core.onFeatures(batch.map((m) => m.envelope.data));
      const traceBy = new Map(batch.map((m) => [`${m.envelope.data.symbol}|${m.envelope.data.ts}`, m]));
      for (const r of rejected) {
        const src = traceBy.get(`${r.fv.symbol}|${r.fv.ts}`);
        if (src) ctx.deadLetter(src, r.code, r.reason);
      }
      const out = predictions.map((p: PricePrediction) => {
        const src = traceBy.get(`${p.symbol}|${p.asOf}`);
        const env = makeEnvelope('pricePredictions', {
          data: p,
          source: 'predictor',
          idParts: [p.symbol, p.interval, p.asOf, p.model.name, p.model.version],
          eventTime: p.asOf,
          ...(src?.traceId ? { traceId: src.traceId } : {}),
        });
        const msg = encode('pricePredictions', env);
        if (src?.traceId) log.debug({ traceId: src.traceId, symbol: p.symbol, asOf: p.asOf }, 'predicted');
        return { ...msg, headers: src?.traceId ? { [TRACE_HEADER]: src.traceId } : {} };
      });
      await producer.send(topics.pricePredictions, out);
    },
  });
  shutdown.add('features-consumer', () => consumer.disconnect());
}

async function sync(reason: string): Promise<void> {
  const r = await catalog.syncProduction(reason);
  if (core.serving) {
    svc.setReady('model', true);
    grpc.health.setStatus('', 'SERVING');
    grpc.health.setStatus(SERVICE_NAME, 'SERVING');
    await startFeatureConsumer();
  }
  if (r.error) log.warn({ error: r.error }, 'model sync failed');
}

const predictionsConsumer = await runConsumer({
  kafka,
  groupId: `${prefix}predictor-broadcast-${instance}`,
  topics,
  subscribe: ['pricePredictions'] as const,
  stage: 'predict',
  dlqTopic: topics.dlqPredict,
  producer,
  log,
  metrics,
  fromBeginning: false,
  onFatal: svc.fatal,
  handle: async (batch) => {
    for (const m of batch) core.onPrediction(m.envelope.data);
  },
});
shutdown.add('predictions-consumer', () => predictionsConsumer.disconnect());

const modelConsumer = await runConsumer({
  kafka,
  groupId: `${prefix}predictor-models-${instance}`,
  topics,
  subscribe: ['modelEvents'] as const,
  stage: 'predict',
  dlqTopic: topics.dlqPredict,
  producer,
  log,
  metrics,
  fromBeginning: false,
  onFatal: svc.fatal,
  handle: async (batch) => {
    for (const m of batch) {
      const e = m.envelope.data;
      if (e.model.name === PRICE_MODEL_NAME && (e.kind === 'promoted' || e.kind === 'rolled_back')) await sync(`model event ${e.kind} v${e.model.version}`);
    }
  },
});
shutdown.add('model-events-consumer', () => modelConsumer.disconnect());

await sync('startup');
const poll = setInterval(() => void sync('poll').catch((err) => log.warn({ err }, 'registry poll failed')), config.MODEL_POLL_MS);
shutdown.add('poll', () => clearInterval(poll));
svc.setReady('kafka', true);
