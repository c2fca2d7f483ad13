/**
 * trainer: trains the price model on the features in MongoDB, evaluates it against naive
 * baselines, registers the version and promotes it only through the gate. Retrains on a
 * schedule, on a retrain-requested monitor event, or at start once enough features settled.
 * One training at a time; a crash mid-training registers nothing (artifacts without a version
 * document are swept at start).
 */
import { execSync } from 'node:child_process';
import { z } from 'zod';
import { encode, makeEnvelope, type ModelEvent } from '@stock-mlops/contracts';
import { envBool, REPO_ROOT, runConsumer, startService, withDbRetry } from '@stock-mlops/platform';
import { allFeatureDocs, COLLECTIONS } from '@stock-mlops/load';
import { trainRegisterAndGatePrice } from '@stock-mlops/ml/ml_service';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { initTf } from '@stock-mlops/ml/tf';
import { loadPriceTrainConfig } from '@stock-mlops/ml/training/config';
import { featureRows } from '@stock-mlops/ml/training/rows';

const Env = z.object({
  TRAIN_ON_START: envBool.default(true),
  TRAIN_MIN_FEATURE_ROWS: z.coerce.number().int().min(1).default(300),
  TRAIN_SETTLE_MS: z.coerce.number().int().min(0).default(5_000),
  TRAIN_INTERVAL_MS: z.coerce.number().int().min(0).default(0),
  TRAIN_CONFIG: z.string().optional(),
  TRAIN_OVERRIDES: z.string().default(''),
});

const svc = await startService({ name: 'trainer', env: Env, mongo: true });
const { config, log, topics, producer, kafka, shutdown, metrics } = svc;
const db = svc.mongo!.db;
const store = new ModelStore(db);
await withDbRetry(() => store.ensureIndexes(), { log });
const swept = await withDbRetry(() => store.sweepOrphans(), { log });
if (swept) log.warn({ chunks: swept }, 'removed artifacts of a registration that never completed');
const cfg = loadPriceTrainConfig(config.TRAIN_CONFIG, config.TRAIN_OVERRIDES.split(',').map((s) => s.trim()).filter(Boolean));
const { tf, backend } = await initTf();
const gitSha = process.env.GIT_SHA ?? (() => {
  try {
    return execSync('git rev-parse HEAD', { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
})();
log.info({ backend, arch: cfg.model.arch, gitSha }, 'trainer ready');

async function publish(events: ModelEvent[]): Promise<void> {
  await producer.send(
    topics.modelEvents,
    events.map((e) => encode('modelEvents', makeEnvelope('modelEvents', { data: e, source: 'trainer' }))),
  );
}

let running: Promise<void> | undefined;
let pending: string | undefined;

/** Run one training; requests that arrive meanwhile coalesce into one follow-up run. */
function requestTraining(reason: string): Promise<void> {
  if (running) {
    pending = reason;
    return running;
  }
  running = (async () => {
    try {
      await trainOnce(reason);
    } catch (err) {
      log.error({ err, reason }, 'training failed');
      const e = err as { code?: string; message?: string };
      await publish([{ kind: 'training_failed', model: { name: 'price', version: 1 }, task: 'price', reason: `${e.code ?? 'E_TRAIN'}: ${e.message ?? ''}`.slice(0, 2000) }]).catch(() => {});
    } finally {
      running = undefined;
      if (pending && !shutdown.isStopping) {
        const next = pending;
        pending = undefined;
        void requestTraining(next);
      }
    }
  })();
  return running;
}

async function trainOnce(reason: string): Promise<void> {
  const t0 = Date.now();
  const docs = await withDbRetry(() => allFeatureDocs(db), { log });
  const data = featureRows(docs, { maxRowsPerSymbol: cfg.data.maxRowsPerSymbol, ...(cfg.data.symbols ? { symbols: cfg.data.symbols } : {}) });
  log.info({ reason, rows: data.rows.length, symbols: data.lineage.symbols }, 'training started');
  const result = await trainRegisterAndGatePrice({
    tf,
    store,
    rows: data.rows,
    featureSchemaHash: data.schemaHash,
    featureNames: data.names,
    cfg,
    gitSha,
    lineage: { ...data.lineage, reason },
    onEpoch: (e) => log.info({ epoch: e.epoch, loss: e.loss, valLoss: e.valLoss }, 'epoch'),
  });
  await publish(result.events);
  log.info(
    {
      version: result.version.version,
      promoted: result.promoted,
      reason: result.decision.reason,
      rmse: result.training.evaluation.model.rmse,
      baselineZeroRmse: result.training.evaluation.baselines.zero.rmse,
      ms: Date.now() - t0,
    },
    'training finished',
  );
}

// Retrain requests from the monitor.
const consumer = await runConsumer({
  kafka,
  groupId: `${config.KAFKA_TOPIC_PREFIX}trainer`,
  topics,
  subscribe: ['monitorEvents'] as const,
  stage: 'train',
  dlqTopic: topics.dlqTrain,
  producer,
  log,
  metrics,
  fromBeginning: false,
  onFatal: svc.fatal,
  handle: async (batch) => {
    for (const m of batch) {
      const e = m.envelope.data;
      if (e.kind === 'retrain_requested' && e.task === 'price') void requestTraining(`retrain requested: ${e.reason}`);
    }
  },
});
shutdown.add('consumer', () => consumer.disconnect());
shutdown.add('training', async () => {
  pending = undefined;
  await running;
});

// Initial training once enough features have arrived and stopped changing.
if (config.TRAIN_ON_START) {
  void (async () => {
    let last = -1;
    let stableSince = Date.now();
    while (!shutdown.isStopping) {
      const alias = await withDbRetry(() => store.getAlias('price', 'production'), { log });
      if (alias) {
        log.info({ version: alias.version }, 'a production model exists; skipping the initial training');
        return;
      }
      const n = await withDbRetry(() => db.collection(COLLECTIONS.features).estimatedDocumentCount(), { log });
      if (n !== last) {
        last = n;
        stableSince = Date.now();
      } else if (n >= config.TRAIN_MIN_FEATURE_ROWS && Date.now() - stableSince >= config.TRAIN_SETTLE_MS) {
        await requestTraining(`initial training on ${n} feature rows`);
        return;
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  })();
}
if (config.TRAIN_INTERVAL_MS > 0) {
  const timer = setInterval(() => void requestTraining('schedule'), config.TRAIN_INTERVAL_MS);
  shutdown.add('schedule', () => clearInterval(timer));
}
svc.setReady('trainer', true);
