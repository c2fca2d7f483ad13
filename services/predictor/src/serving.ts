/**
 * What the predictor serves from: TensorFlow, the price-model worker thread, the micro-batching
 * inference queue (and its idle lane for shadow scoring), the core (models, feature history, latest predictions), the model catalog
 * (hot swaps, counted) and the feature-history checkpoints, seeded from MongoDB at start.
 */
import client from 'prom-client';
import { withDbRetry, type ServiceContext } from '@stock-mlops/platform';
import { LatestStateStore } from '@stock-mlops/load';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { InferenceWorker } from '@stock-mlops/ml/inference/worker';
import { initTf } from '@stock-mlops/ml/tf';
import type { PredictorEnv } from './config.ts';
import { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { createPriceInference, type WhenIdle } from '@stock-mlops/ml/inference/price_inference';
import { HistoryCheckpoint } from './history_checkpoint.ts';
import { mongoCheckpointStore } from './checkpoint_store.ts';
import { ModelCatalog } from './model_loader.ts';

export interface Serving {
  core: PredictorCore;
  /** The inference queue's idle lane (shadow scoring runs there, production first). */
  whenIdle: WhenIdle;
  catalog: ModelCatalog;
  checkpoint: HistoryCheckpoint;
}

export async function startServing(svc: ServiceContext<PredictorEnv>): Promise<Serving> {
  const { config, log, shutdown, metrics } = svc;
  const db = svc.mongo!.db;
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
      // With the model in the worker, the next batch is handed over before the previous one is
      // answered, and up to PREDICT_IN_FLIGHT batches (default 1) are in the worker at once.
      pipelined: worker !== undefined,
      maxInFlight: worker ? config.PREDICT_IN_FLIGHT : 1,
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
  return { core, whenIdle: inference.whenIdle, catalog, checkpoint };
}
