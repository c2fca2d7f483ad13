/**
 * predictor: serves the production price and sentiment models.
 * - features (shared consumer group: replicas split the work) → price predictions topic;
 * - clean news (shared group) → sentiment predictions topic, once a sentiment model exists;
 * - the price prediction stream in broadcast (one group per replica) → gRPC StreamPredictions
 *   and WebSocket subscribers of every replica;
 * - model events (one group per replica) and registry polling → hot swaps.
 * gRPC (domain API + Open Inference Protocol + health + reflection) and WebSocket on their ports;
 * every price inference goes through one micro-batching queue.
 */
import { randomBytes } from 'node:crypto';
import client from 'prom-client';
import { makeEnvelope, encode, TRACE_HEADER } from '@stock-mlops/contracts';
import { startService, withDbRetry, type Consumed } from '@stock-mlops/platform';
import { LatestStateStore } from '@stock-mlops/load';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { InferenceWorker } from '@stock-mlops/ml/inference/worker';
import { initTf } from '@stock-mlops/ml/tf';
import { PredictorEnv, PREDICTOR_VERSION, readTls } from './config.ts';
import { PredictorCore } from './core.ts';
import { createPriceInference } from './inference.ts';
import { startGrpcServer } from './grpc_server.ts';
import { HistoryCheckpoint } from './history_checkpoint.ts';
import { mongoCheckpointStore } from './checkpoint_store.ts';
import { ModelCatalog, PRICE_MODEL_NAME, SERVED_MODELS, type ServedModelName } from './model_loader.ts';
import { startWsServer } from './ws_server.ts';

const svc = await startService({ name: 'predictor', env: PredictorEnv, mongo: true });
const { config, log, topics, producer, shutdown, metrics } = svc;
const db = svc.mongo!.db;
const instance = config.PREDICTOR_INSTANCE_ID ?? randomBytes(4).toString('hex');
const { tf, backend } = await initTf();
// Price-model forward passes run in a worker thread (PREDICT_WORKER=1, the default) so that they
// overlap with request handling on this thread; the sentiment model stays on this thread.
const worker = config.PREDICT_WORKER ? await InferenceWorker.start({ onExit: (err) => svc.fatal(err) }) : undefined;
if (worker) shutdown.add('inference-worker', () => worker.close());
log.info({ backend, priceInference: worker ? `worker (${worker.backend})` : 'serving thread' }, 'tensorflow backend ready');

const inference = createPriceInference(
  {
    maxBatch: config.PREDICT_BATCH_MAX,
    maxDelayMs: config.PREDICT_BATCH_DELAY_MS,
    maxQueue: config.PREDICT_QUEUE_MAX,
    // With the model in the worker, the next batch is handed over before the previous one is answered.
    pipelined: worker !== undefined,
  },
  metrics.registry,
);
shutdown.add('inference-queue', () => inference.close());
const core = new PredictorCore(inference.run);
const loadFailures = new client.Counter({
  name: 'stockmlops_model_load_failures_total',
  help: 'Model versions that failed to load or warm up (the previous version kept serving), by model and error code',
  labelNames: ['model', 'code'] as const,
  registers: [metrics.registry],
});
const swaps = new client.Counter({ name: 'stockmlops_model_swaps_total', help: 'Hot swaps to a new model version', labelNames: ['model'] as const, registers: [metrics.registry] });
const catalog = new ModelCatalog(new ModelStore(db), core, tf, log, {
  onSwap: (v, previous) => {
    if (previous !== undefined) metrics.modelInfo.remove({ model: v.name, version: String(previous), task: v.task });
    metrics.modelInfo.set({ model: v.name, version: String(v.version), task: v.task }, 1);
    swaps.inc({ model: v.name });
  },
  onLoadFailure: (model, _version, code) => loadFailures.inc({ model, code }),
  ...(worker ? { loadPrice: (ref, artifacts) => worker.loadPrice(ref, artifacts) } : {}),
});
svc.setReady('model', false);

// Seed the latest predictions (one small document per symbol) and the feature history (one
// checkpoint per symbol). Start-up reads nothing whose cost grows with the stream's collections:
// on FerretDB every non-`_id` filter scans a whole collection (a features scan per symbol once
// kept the predictor from listening for minutes on a database that earlier runs had filled).
const latestStore = new LatestStateStore(db);
for (const prediction of await withDbRetry(() => latestStore.allPredictions(), { log })) core.onPrediction(prediction);
// Gap-free windows after a restart or a rebalance: see history_checkpoint.ts. The checkpoints are
// the whole history there is: a symbol without one (a first start, or a database written by a
// version that kept no checkpoints) fills its window from the stream.
const checkpointStore = mongoCheckpointStore(db);
const checkpoint = new HistoryCheckpoint({
  history: core.history,
  keep: () => Math.max(config.PREDICT_HISTORY_KEEP, core.serving?.spec.lookback ?? 1),
  source: checkpointStore,
});
for (const vectors of await withDbRetry(() => checkpointStore.loadAll(), { log })) core.history.replace(vectors[0]!.symbol, vectors);

const grpc = await startGrpcServer({
  host: config.GRPC_HOST,
  port: config.GRPC_PORT,
  log,
  core,
  catalog,
  maxMessageBytes: config.GRPC_MAX_MESSAGE_BYTES,
  token: config.GRPC_TOKEN,
  tls: readTls(config),
  version: PREDICTOR_VERSION,
  domain: { maxBatchRequests: config.PREDICT_BATCH_REQUESTS_MAX, maxTexts: config.SENTIMENT_MAX_TEXTS, maxStreamBacklog: config.GRPC_STREAM_BACKLOG_MAX },
  oip: { maxElements: config.OIP_MAX_ELEMENTS, maxTexts: config.SENTIMENT_MAX_TEXTS },
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
  maxClients: config.WS_MAX_CLIENTS,
  token: config.WS_TOKEN,
  allowedOrigins: config.WS_ALLOWED_ORIGINS?.split(',').map((s) => s.trim()),
});
shutdown.add('websocket', ws.close);
log.info({ grpc: `${config.GRPC_HOST}:${grpc.port}`, tls: !!config.GRPC_TLS_CERT, ws: `ws://${config.WS_HOST}:${ws.port}${config.WS_PATH}` }, 'predictor listening');

function traceHeaders(traceId: string | undefined): Record<string, string> {
  return traceId ? { [TRACE_HEADER]: traceId } : {};
}

// Every Kafka consumer is stopped by one hook (svc.consume's), concurrently.
const started = new Set<string>();
async function startOnce(name: string, start: () => Promise<unknown>): Promise<void> {
  if (started.has(name)) return;
  started.add(name);
  try {
    await start();
  } catch (err) {
    started.delete(name); // retried on the next sync
    throw err;
  }
}

const startFeatureConsumer = () =>
  startOnce('features-consumer', () =>
    svc.consume({
      group: 'predictor',
      subscribe: ['features'] as const,
      stage: 'predict',
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      // Partitions may have moved: reload each symbol's checkpoint on its next vector.
      beforeRun: (c) => c.on(c.events.GROUP_JOIN, () => checkpoint.reset()),
      handle: async (batch, ctx) => {
        const vectors = batch.map((m) => m.envelope.data);
        await withDbRetry(() => checkpoint.ensure(vectors), { log, isStopping: ctx.isStopping });
        const { predictions, rejected } = await core.onFeatures(vectors);
        const bySource = new Map(batch.map((m) => [`${m.envelope.data.symbol}|${m.envelope.data.ts}`, m]));
        for (const r of rejected) {
          const src = bySource.get(`${r.fv.symbol}|${r.fv.ts}`);
          if (src) ctx.deadLetter(src, r.code, r.reason);
        }
        const out = predictions.map((p) => {
          const src = bySource.get(`${p.symbol}|${p.asOf}`);
          const env = makeEnvelope('pricePredictions', {
            data: p,
            source: 'predictor',
            idParts: [p.symbol, p.interval, p.asOf, p.model.name, p.model.version],
            eventTime: p.asOf,
            ...(src?.traceId ? { traceId: src.traceId } : {}),
          });
          if (src?.traceId && log.isLevelEnabled('debug')) log.debug({ traceId: src.traceId, symbol: p.symbol, asOf: p.asOf, version: p.model.version }, 'predicted');
          return { ...encode('pricePredictions', env), headers: traceHeaders(src?.traceId) };
        });
        await producer.send(topics.pricePredictions, out);
        // Predictions acknowledged → checkpoint the history → the runner commits the offsets.
        await withDbRetry(() => checkpoint.save(vectors), { log, isStopping: ctx.isStopping });
      },
    }),
  );

const startNewsConsumer = () =>
  startOnce('news-consumer', () =>
    svc.consume({
      group: 'predictor-sentiment',
      subscribe: ['cleanNews'] as const,
      stage: 'predict',
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      handle: async (batch: Consumed<'cleanNews'>[]) => {
        const predictions = await core.onNews(batch.map((m) => m.envelope.data));
        const out = predictions.map((p, i) => {
          const src = batch[i]!;
          const env = makeEnvelope('sentimentPredictions', {
            data: p,
            source: 'predictor',
            idParts: [p.articleId, p.symbol, p.model.name, p.model.version],
            eventTime: p.publishedAt,
            ...(src.traceId ? { traceId: src.traceId } : {}),
          });
          return { ...encode('sentimentPredictions', env), headers: traceHeaders(src.traceId) };
        });
        await producer.send(topics.sentimentPredictions, out);
      },
    }),
  );

async function sync(reason: string, models: readonly ServedModelName[] = SERVED_MODELS): Promise<void> {
  const results = await catalog.syncProduction(reason, models);
  if (core.serving) {
    svc.setReady('model', true);
    grpc.setServing(true);
    await startFeatureConsumer();
  }
  if (core.sentiment) await startNewsConsumer();
  for (const r of results) if (r.error && !r.error.startsWith('E_LOAD_FAILED_BEFORE')) log.warn({ model: r.model, version: r.version, error: r.error }, 'model sync failed');
}

await svc.consume({
  group: `predictor-broadcast-${instance}`,
  subscribe: ['pricePredictions'] as const,
  stage: 'predict',
  sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
  fromBeginning: false,
  handle: async (batch) => {
    for (const m of batch) core.onPrediction(m.envelope.data);
  },
});

await svc.consume({
  group: `predictor-models-${instance}`,
  subscribe: ['modelEvents'] as const,
  stage: 'predict',
  sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
  fromBeginning: false,
  handle: async (batch) => {
    for (const m of batch) {
      const e = m.envelope.data;
      const name = e.model.name as ServedModelName;
      if ((SERVED_MODELS as readonly string[]).includes(name) && (e.kind === 'promoted' || e.kind === 'rolled_back')) {
        // In the background: a slow load must not hold up the consumer (the catalog serializes loads).
        void sync(`model event ${e.kind} ${name} v${e.model.version}`, [name]).catch((err: unknown) => log.warn({ err }, 'model sync failed'));
      }
    }
  },
});

await sync('startup');
let polling = false;
const poll = setInterval(() => {
  if (polling) return;
  polling = true;
  void sync('poll')
    .catch((err: unknown) => log.warn({ err }, 'registry poll failed'))
    .finally(() => (polling = false));
}, config.MODEL_POLL_MS);
shutdown.add('poll', () => clearInterval(poll));
// Runs early in shutdown (hooks run last-in first-out): load balancers and health probes stop sending.
shutdown.add('mark-not-serving', () => {
  svc.setReady('model', false);
  grpc.setServing(false);
});
svc.setReady('kafka', true);
log.info({ price: core.serving?.ref.version ?? null, sentiment: core.sentiment?.ref.version ?? null, model: PRICE_MODEL_NAME }, 'predictor started');
