/**
 * trainer: trains the price model on the features in MongoDB and the sentiment model on a
 * configured CSV, evaluates each against naive baselines and the production model, registers the
 * version and promotes it only through the gate; publishes model events.
 *
 * Triggers: at start (price once enough features settled, sentiment when no model exists), on a
 * schedule (TRAIN_INTERVAL_MS, TRAIN_SENTIMENT_INTERVAL_MS), on a `retrain_requested` monitor
 * event (also published by `npm run models -- retrain`). One training at a time per model, across
 * processes (a lease in MongoDB shared with the `npm run train` CLI). A run whose process died is
 * taken over and re-run; it never leaves a half-registered version (artifacts are written before
 * the version document, orphans are swept, a version registered but never gated is rejected).
 */
import path from 'node:path';
import { Counter, Histogram } from 'prom-client';
import { z } from 'zod';
import { encode, makeEnvelope, type ModelEvent } from '@stock-mlops/contracts';
import { envBool, REPO_ROOT, runConsumer, startService, withDbRetry } from '@stock-mlops/platform';
import { COLLECTIONS } from '@stock-mlops/load';
import { PRICE_MODEL, SENTIMENT_MODEL } from '@stock-mlops/ml/ml_service';
import { ModelStore, type ModelTask } from '@stock-mlops/ml/registry/model_store';
import { TrainingRuns } from '@stock-mlops/ml/registry/training_runs';
import { initTf } from '@stock-mlops/ml/tf';
import { loadPriceTrainConfig, loadSentimentTrainConfig } from '@stock-mlops/ml/training/config';
import { currentGitSha, eventsOf, reclaimRun, runPriceJob, runSentimentJob, TrainingAbortedError, type JobContext } from './jobs.ts';

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

const Env = z.object({
  TRAIN_ON_START: envBool.default(true),
  TRAIN_MIN_FEATURE_ROWS: z.coerce.number().int().min(1).default(300),
  TRAIN_SETTLE_MS: z.coerce.number().int().min(0).default(5_000),
  TRAIN_INTERVAL_MS: z.coerce.number().int().min(0).default(0),
  TRAIN_CONFIG: z.string().optional(),
  TRAIN_OVERRIDES: z.string().default(''),
  TRAIN_SENTIMENT_ON_START: envBool.default(true),
  TRAIN_SENTIMENT_DATA: z.string().default(path.join(REPO_ROOT, 'data/sentiment/twitter_financial_news_sentiment.csv')),
  TRAIN_SENTIMENT_CONFIG: z.string().default(path.join(REPO_ROOT, 'config/training/sentiment.json')),
  TRAIN_SENTIMENT_OVERRIDES: z.string().default(''),
  TRAIN_SENTIMENT_INTERVAL_MS: z.coerce.number().int().min(0).default(0),
  TRAIN_LEASE_MS: z.coerce.number().int().min(500).default(30_000),
  TRAIN_LOCK_WAIT_MS: z.coerce.number().int().min(0).default(30 * 60_000),
});

const svc = await startService({ name: 'trainer', env: Env, mongo: true });
const { config, log, topics, producer, kafka, shutdown, metrics } = svc;
const db = svc.mongo!.db;
const store = new ModelStore(db);
const runs = new TrainingRuns(db, config.TRAIN_LEASE_MS);
await withDbRetry(() => Promise.all([store.ensureIndexes(), runs.ensureIndexes()]), { log });
const swept = await withDbRetry(() => store.sweepOrphans(), { log });
if (swept) log.warn({ chunks: swept }, 'removed artifacts of a registration that never completed');
const priceCfg = loadPriceTrainConfig(config.TRAIN_CONFIG, list(config.TRAIN_OVERRIDES));
const sentimentCfg = loadSentimentTrainConfig(config.TRAIN_SENTIMENT_CONFIG || undefined, list(config.TRAIN_SENTIMENT_OVERRIDES));
const sentimentFiles = list(config.TRAIN_SENTIMENT_DATA);
const { tf, backend } = await initTf();
const ctx: JobContext = { tf, db, store, runs, log, gitSha: currentGitSha(), lockWaitMs: config.TRAIN_LOCK_WAIT_MS };
log.info({ backend, arch: priceCfg.model.arch, pooling: priceCfg.data.pooling, sentimentFiles, gitSha: ctx.gitSha }, 'trainer ready');

const trainings = new Counter({ name: 'stockmlops_trainings_total', help: 'Training runs by task and outcome (promoted, rejected, failed)', labelNames: ['task', 'outcome'] as const, registers: [metrics.registry] });
const trainingSeconds = new Histogram({ name: 'stockmlops_training_seconds', help: 'Wall time of a training run (load, train, evaluate, register)', labelNames: ['task'] as const, buckets: [5, 15, 30, 60, 120, 300, 600, 1800], registers: [metrics.registry] });

async function publish(events: ModelEvent[]): Promise<void> {
  await producer.send(
    topics.modelEvents,
    events.map((e) => encode('modelEvents', makeEnvelope('modelEvents', { data: e, source: 'trainer' }))),
  );
}

/** Epoch callbacks log progress and stop a training at the next epoch once shutdown began. */
function checkStopping(): void {
  if (shutdown.isStopping) throw new TrainingAbortedError();
}

async function train(task: ModelTask, reason: string): Promise<void> {
  const t0 = Date.now();
  const results =
    task === 'price'
      ? await runPriceJob(ctx, {
          reason,
          cfg: priceCfg,
          onEpoch: (model, e) => {
            log.info({ model, epoch: e.epoch, loss: e.loss, valLoss: e.valLoss }, 'epoch');
            checkStopping();
          },
        })
      : [
          await runSentimentJob(ctx, {
            reason,
            cfg: sentimentCfg,
            files: sentimentFiles,
            onEpoch: (e) => {
              log.info({ model: SENTIMENT_MODEL, member: e.member, kind: e.kind, epoch: e.epoch, loss: e.loss, valLoss: e.valLoss, valMacroF1: e.valMacroF1 }, 'epoch');
              checkStopping();
            },
          }),
        ];
  await publish(eventsOf(results));
  trainingSeconds.observe({ task }, (Date.now() - t0) / 1000);
  for (const r of results) {
    trainings.inc({ task, outcome: r.promoted ? 'promoted' : 'rejected' });
    log.info({ model: r.version.name, version: r.version.version, promoted: r.promoted, reason: r.decision.reason, metrics: r.events[0]?.metrics, ms: Date.now() - t0 }, 'training finished');
  }
}

/** Per task: one training at a time; requests that arrive meanwhile coalesce into one follow-up run. */
const running = new Map<ModelTask, Promise<void>>();
const pending = new Map<ModelTask, string>();

function requestTraining(task: ModelTask, reason: string): Promise<void> {
  const current = running.get(task);
  if (current) {
    if (!pending.has(task)) pending.set(task, reason);
    return current;
  }
  const run = (async () => {
    try {
      await train(task, reason);
    } catch (err) {
      if (err instanceof TrainingAbortedError) {
        log.warn({ task, reason }, 'training stopped by the shutdown; it is re-run at the next start');
        return;
      }
      trainings.inc({ task, outcome: 'failed' });
      log.error({ err, task, reason }, 'training failed');
      const e = err as { code?: string; message?: string };
      const name = task === 'price' ? PRICE_MODEL : SENTIMENT_MODEL;
      const latest = await store.latest(name).catch(() => undefined);
      await publish([{ kind: 'training_failed', model: { name, version: latest?.version ?? 1 }, task, reason: `${e.code ?? 'E_TRAIN'}: ${e.message ?? ''}`.slice(0, 2000) }]).catch(() => {});
    } finally {
      running.delete(task);
      const next = pending.get(task);
      pending.delete(task);
      if (next && !shutdown.isStopping) void requestTraining(task, next);
    }
  })();
  running.set(task, run);
  return run;
}

shutdown.add('training', async () => {
  pending.clear();
  await Promise.allSettled([...running.values()]);
});

/**
 * Runs whose process died (SIGKILL, crash) or that a shutdown stopped: the trainer's own runs are
 * re-run (the new run takes the lease over and cleans up), CLI runs are only cleaned up. Checked
 * at start and then every lease period (a dead owner on another host is known once its lease expires).
 */
async function handleAbandoned(): Promise<void> {
  for (const run of await withDbRetry(() => runs.findAbandoned(), { log })) {
    if (run.origin === 'cli') {
      log.warn({ runId: run._id, model: run.model }, 'cleaning up after a CLI training run whose process stopped');
      await reclaimRun(ctx, run).catch((err) => log.warn({ err, runId: run._id }, 'clean-up of an abandoned run failed'));
      continue;
    }
    if (running.has(run.task) && run.status === 'running') continue; // our own queue will take the lease over
    log.warn({ runId: run._id, model: run.model, reason: run.reason, startedAt: run.startedAt }, 'found a training run whose process stopped; re-running it');
    if (run.status === 'abandoned') await runs.markResolved(run._id, `${runs.owner}: re-run queued`);
    void requestTraining(run.task, `re-run of abandoned run ${run._id}: ${run.reason}`.slice(0, 2000));
  }
}
await handleAbandoned();
const janitor = setInterval(() => void handleAbandoned().catch((err) => log.warn({ err }, 'abandoned-run check failed')), config.TRAIN_LEASE_MS);
shutdown.add('janitor', () => clearInterval(janitor));

if (config.TRAIN_SENTIMENT_ON_START && !running.has('sentiment')) {
  const alias = await withDbRetry(() => store.getAlias(SENTIMENT_MODEL, 'production'), { log });
  if (alias) log.info({ version: alias.version }, 'a production sentiment model exists; skipping the initial sentiment training');
  else void requestTraining('sentiment', `initial sentiment training on ${sentimentFiles.map((f) => path.basename(f)).join(', ')}`);
}

// Initial price training once enough features have arrived and stopped changing.
if (config.TRAIN_ON_START) {
  void (async () => {
    let last = -1;
    let stableSince = Date.now();
    while (!shutdown.isStopping) {
      if (running.has('price')) return;
      const alias = await withDbRetry(() => store.getAlias(PRICE_MODEL, 'production'), { log });
      if (alias) {
        log.info({ version: alias.version }, 'a production model exists; skipping the initial training');
        return;
      }
      const n = await withDbRetry(() => db.collection(COLLECTIONS.features).estimatedDocumentCount(), { log });
      if (n !== last) {
        last = n;
        stableSince = Date.now();
      } else if (n >= config.TRAIN_MIN_FEATURE_ROWS && Date.now() - stableSince >= config.TRAIN_SETTLE_MS) {
        await requestTraining('price', `initial training on ${n} feature rows`);
        return;
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  })();
}
for (const [task, every] of [['price', config.TRAIN_INTERVAL_MS], ['sentiment', config.TRAIN_SENTIMENT_INTERVAL_MS]] as const) {
  if (every <= 0) continue;
  const timer = setInterval(() => void requestTraining(task, 'schedule'), every);
  shutdown.add(`schedule-${task}`, () => clearInterval(timer));
}
// Retrain requests (from the monitor, or `npm run models -- retrain`). Started last: joining the
// consumer group can wait for a killed predecessor's session to expire, start-up work must not.
/**
 * Before a requested price retrain, let the stored features catch up with the stream the monitor
 * judged (the loader may lag behind it): wait until the newest stored feature time of every symbol
 * (the small latest-state collection) has not moved for TRAIN_SETTLE_MS, at most 2 minutes.
 */
async function featuresSettled(task: ModelTask): Promise<void> {
  if (task !== 'price') return;
  const latest = db.collection<{ featuresTs?: string }>(COLLECTIONS.latest);
  const deadline = Date.now() + 120_000;
  let last = '';
  let stableSince = Date.now();
  while (!shutdown.isStopping && Date.now() < deadline) {
    const docs = await withDbRetry(() => latest.find({}, { projection: { featuresTs: 1 } }).toArray(), { log });
    const mark = docs.map((d) => d.featuresTs ?? '').sort().join(',');
    if (mark !== last) {
      last = mark;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= config.TRAIN_SETTLE_MS) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

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
      if (e.kind === 'retrain_requested') void featuresSettled(e.task).then(() => requestTraining(e.task, `retrain requested: ${e.reason}`));
    }
  },
});
shutdown.add('consumer', () => consumer.disconnect());
svc.setReady('trainer', true);
