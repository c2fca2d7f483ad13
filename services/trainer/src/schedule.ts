/**
 * When the trainer trains, one training at a time per model: the first models at start, runs
 * abandoned by a dead process, the schedule (TRAIN_INTERVAL_MS, TRAIN_SENTIMENT_INTERVAL_MS),
 * new sentiment labels (TRAIN_SENTIMENT_NEW_LABELS) and retrain requests, which coalesce while a run of the same model is in progress. Each run goes
 * through jobs.ts (lease, train, evaluate, gate, register) and publishes its model events.
 */
import path from 'node:path';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Db } from 'mongodb';
import { encode, makeEnvelope, type ModelEvent, type MonitorEvent, type Topics } from '@stock-mlops/contracts';
import { REPO_ROOT, withDbRetry, type BaseEnv, type BatchingProducer, type Logger, type Metrics, type ServiceContext, type Shutdown } from '@stock-mlops/platform';
import { COLLECTIONS } from '@stock-mlops/load';
import { PRICE_MODEL, SENTIMENT_MODEL } from '@stock-mlops/ml/ml_service';
import { DEFAULT_SENTIMENT_CONFIG } from '@stock-mlops/ml/models/sentiment_analyzer';
import { ModelStore, type ModelTask } from '@stock-mlops/ml/registry/model_store';
import { TrainingRuns } from '@stock-mlops/ml/registry/training_runs';
import { initTf } from '@stock-mlops/ml/tf';
import { loadPriceTrainConfig, loadSentimentTrainConfig, type PriceTrainConfig } from '@stock-mlops/ml/training/config';
import { EpochClock, epochMessage } from '@stock-mlops/ml/training/progress';
import { labelRetrainDue, labelsWatermark } from '@stock-mlops/ml/training/sentiment_labels';
import { MongoLabelStore } from '@stock-mlops/ml/training/sentiment_label_store';
import { bootstrapFiles, storedFeatureRows, waitForSettledRows } from './bootstrap.ts';
import { currentGitSha, eventsOf, reclaimRun, runPriceJob, runSentimentJob, TrainingAbortedError, type JobContext } from '@stock-mlops/ml/training/jobs';
import type { TrainerConfig } from './config.ts';

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/** Price data for one run: the bootstrap CSV files and config, or (default) the stored stream. */
interface PriceSource {
  cfg: PriceTrainConfig;
  files: string[];
}

export interface TrainingScheduleDeps {
  db: Db;
  config: TrainerConfig & Pick<BaseEnv, 'KAFKA_TOPIC_PREFIX'>;
  log: Logger;
  metrics: Metrics;
  producer: BatchingProducer;
  topics: Topics;
  /** For the loader's committed offsets, while the first price model waits for the stream's features. */
  kafka: ServiceContext<unknown>['kafka'];
  shutdown: Shutdown;
}

/** Loads the training configs and TensorFlow, cleans up after registrations that never completed. */
export async function createTrainingSchedule({ db, config, log, metrics, producer, topics, kafka, shutdown }: TrainingScheduleDeps) {
  const store = new ModelStore(db);
  const runs = new TrainingRuns(db, config.TRAIN_LEASE_MS);
  const labels = new MongoLabelStore(db);
  await withDbRetry(() => Promise.all([store.ensureIndexes(), runs.ensureIndexes(), labels.ensureIndexes()]), { log });
  const swept = await withDbRetry(() => store.sweepOrphans(), { log });
  if (swept) log.warn({ chunks: swept }, 'removed artifacts of a registration that never completed');
  const priceCfg = loadPriceTrainConfig(config.TRAIN_CONFIG, list(config.TRAIN_OVERRIDES));
  const bootstrap = config.TRAIN_BOOTSTRAP_DATA.trim()
    ? { files: bootstrapFiles(config.TRAIN_BOOTSTRAP_DATA, REPO_ROOT), cfg: loadPriceTrainConfig(config.TRAIN_BOOTSTRAP_CONFIG || config.TRAIN_CONFIG, list(config.TRAIN_OVERRIDES)) }
    : undefined;
  const sentimentCfg = loadSentimentTrainConfig(config.TRAIN_SENTIMENT_CONFIG || undefined, list(config.TRAIN_SENTIMENT_OVERRIDES));
  const sentimentFiles = list(config.TRAIN_SENTIMENT_DATA);
  const { tf, backend } = await initTf();
  const ctx: JobContext = { tf, db, store, runs, log, gitSha: currentGitSha(), lockWaitMs: config.TRAIN_LOCK_WAIT_MS };
  log.info({ backend, promoteAs: config.TRAIN_PROMOTE_AS, arch: priceCfg.model.arch, pooling: priceCfg.data.pooling, bootstrapFiles: bootstrap?.files ?? [], sentimentFiles, gitSha: ctx.gitSha }, 'trainer ready');

  const trainings = new Counter({ name: 'stockmlops_trainings_total', help: 'Training runs by task and outcome (promoted, challenger: passed the gate and set as challenger, rejected, failed)', labelNames: ['task', 'outcome'] as const, registers: [metrics.registry] });
  const progress = {
    active: new Gauge({ name: 'stockmlops_training_active', help: 'A training of this task is running (1) or not (0)', labelNames: ['task'] as const, registers: [metrics.registry] }),
    epoch: new Gauge({ name: 'stockmlops_training_epoch', help: 'Last finished epoch of the running training (0 while its data loads)', labelNames: ['task'] as const, registers: [metrics.registry] }),
    epochs: new Gauge({ name: 'stockmlops_training_epochs', help: 'Epochs planned for the running training (early stopping may end it sooner)', labelNames: ['task'] as const, registers: [metrics.registry] }),
    eta: new Gauge({ name: 'stockmlops_training_eta_seconds', help: 'Estimated seconds until the running training reaches its last planned epoch', labelNames: ['task'] as const, registers: [metrics.registry] }),
  };
  const newLabelsGauge = new Gauge({ name: 'stockmlops_sentiment_new_labels', help: 'Stored sentiment labels newer than those the newest sentiment version read (a retrain starts at TRAIN_SENTIMENT_NEW_LABELS)', registers: [metrics.registry] });
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

  /** Epoch n/m with an ETA, as an info log line and as the stockmlops_training_* gauges. */
  function epochReporter(task: ModelTask, epochs: number): (fields: Record<string, unknown>, epoch: number, seconds: number) => void {
    const clock = new EpochClock(epochs);
    progress.epochs.set({ task }, epochs);
    return (fields, epoch, seconds) => {
      const p = clock.tick(epoch, seconds * 1000);
      progress.epoch.set({ task }, p.epoch);
      progress.eta.set({ task }, Math.round(p.etaMs / 1000));
      log.info({ ...fields, epoch: p.epoch, epochs: p.epochs, etaSeconds: Math.round(p.etaMs / 1000) }, epochMessage(p));
      checkStopping();
    };
  }

  async function train(task: ModelTask, reason: string, source?: PriceSource): Promise<void> {
    const t0 = Date.now();
    progress.active.set({ task }, 1);
    progress.epoch.set({ task }, 0);
    progress.eta.set({ task }, 0);
    const cfg = source?.cfg ?? priceCfg;
    let results;
    try {
      if (task === 'price') {
        const report = epochReporter(task, cfg.model.epochs);
        results = await runPriceJob(ctx, {
          reason,
          cfg,
          promoteAs: config.TRAIN_PROMOTE_AS,
          ...(source ? { files: source.files } : {}),
          onEpoch: (model, e) => report({ model, loss: e.loss, valLoss: e.valLoss }, e.epoch, e.seconds ?? 0),
        });
      } else {
        const report = epochReporter(task, sentimentCfg.model.epochs ?? DEFAULT_SENTIMENT_CONFIG.epochs);
        results = [
          await runSentimentJob(ctx, {
            reason,
            cfg: sentimentCfg,
            files: sentimentFiles,
            labels,
            onEpoch: (e) => report({ model: SENTIMENT_MODEL, member: e.member, kind: e.kind, loss: e.loss, valLoss: e.valLoss, valMacroF1: e.valMacroF1 }, e.epoch, e.seconds),
          }),
        ];
      }
    } finally {
      progress.active.set({ task }, 0);
      progress.eta.set({ task }, 0);
    }
    await publish(eventsOf(results));
    trainingSeconds.observe({ task }, (Date.now() - t0) / 1000);
    for (const r of results) {
      trainings.inc({ task, outcome: r.promoted ? 'promoted' : r.decision.promote ? 'challenger' : 'rejected' });
      log.info({ model: r.version.name, version: r.version.version, promoted: r.promoted, reason: r.decision.reason, metrics: r.events[0]?.metrics, ms: Date.now() - t0 }, 'training finished');
      // ml_service serveZeroReturnBaseline: a rejected candidate and no production price model.
      const baseline = r.events.find((e) => e.kind === 'promoted' && e.model.version !== r.version.version);
      if (baseline) log.warn({ model: baseline.model.name, version: baseline.model.version }, 'no price model has passed the gate; serving the zero-return baseline');
    }
  }

  /** Per task: one training at a time; requests that arrive meanwhile coalesce into one follow-up run. */
  const running = new Map<ModelTask, Promise<void>>();
  const pending = new Map<ModelTask, string>();

  function requestTraining(task: ModelTask, reason: string, source?: PriceSource): Promise<void> {
    const current = running.get(task);
    if (current) {
      if (!pending.has(task)) pending.set(task, reason);
      return current;
    }
    const run = (async () => {
      try {
        await train(task, reason, source);
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
      // Before the first price model exists, a re-run trains from the bootstrap files as the start-up run did.
      const noPriceModel = run.task === 'price' && bootstrap && !(await withDbRetry(() => store.getAlias(PRICE_MODEL, 'production'), { log }));
      void requestTraining(run.task, `re-run of abandoned run ${run._id}: ${run.reason}`.slice(0, 2000), noPriceModel ? bootstrap : undefined);
    }
  }

  /** The first sentiment model, at start, when none is in production (TRAIN_SENTIMENT_ON_START). */
  async function initialSentimentTraining(): Promise<void> {
    if (!config.TRAIN_SENTIMENT_ON_START || running.has('sentiment')) return;
      const alias = await withDbRetry(() => store.getAlias(SENTIMENT_MODEL, 'production'), { log });
      if (alias) log.info({ version: alias.version }, 'a production sentiment model exists; skipping the initial sentiment training');
      else void requestTraining('sentiment', `initial sentiment training on ${sentimentFiles.map((f) => path.basename(f)).join(', ')}`);
  }

  /**
   * The first price model. With TRAIN_BOOTSTRAP_DATA (default: the bundled data/prices files) it is
   * trained at once, in process, from those files; with it empty, once the loader has stored
   * TRAIN_MIN_FEATURE_ROWS feature vectors and stopped for TRAIN_SETTLE_MS (read from the loader's
   * committed Kafka offsets, one query a second, never a count of a MongoDB collection). Later
   * trainings (schedule, retrain requests) read the stored stream.
   */
  async function initialPriceTraining(): Promise<void> {
    if (running.has('price')) return;
    const alias = await withDbRetry(() => store.getAlias(PRICE_MODEL, 'production'), { log });
    if (alias) {
      log.info({ version: alias.version }, 'a production model exists; skipping the initial training');
      return;
    }
    if (bootstrap) {
      const names = bootstrap.files.map((f) => path.basename(f)).join(', ');
      await requestTraining('price', `initial training on the bundled CSV files ${names}`.slice(0, 2000), bootstrap);
      return;
    }
    const admin = kafka.admin();
    await admin.connect();
    shutdown.add('initial-training-admin', () => admin.disconnect());
    try {
      log.info({ minRows: config.TRAIN_MIN_FEATURE_ROWS, settleMs: config.TRAIN_SETTLE_MS }, 'waiting for the stream\'s features (TRAIN_BOOTSTRAP_DATA is empty)');
      const n = await waitForSettledRows({
        count: () => storedFeatureRows(admin, `${config.KAFKA_TOPIC_PREFIX}loader`, topics.features),
        minRows: config.TRAIN_MIN_FEATURE_ROWS,
        settleMs: config.TRAIN_SETTLE_MS,
        stopped: () => shutdown.isStopping || running.has('price'),
      });
      if (n !== undefined) await requestTraining('price', `initial training on ${n} stored feature rows`);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

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

  /**
   * One look at the label store (TRAIN_SENTIMENT_LABELS_POLL_MS): count the labels after the newest
   * sentiment version's watermark (promoted or rejected, so a rejected candidate waits for N more)
   * and request a retrain once TRAIN_SENTIMENT_NEW_LABELS of them arrived.
   */
  async function checkNewLabels(): Promise<void> {
    if (config.TRAIN_SENTIMENT_NEW_LABELS <= 0 || running.has('sentiment')) return;
    const latest = await store.latest(SENTIMENT_MODEL);
    if (!latest) return; // the first model is trained at start (TRAIN_SENTIMENT_ON_START)
    const since = labelsWatermark(latest.lineage);
    const n = await labels.countSince(since);
    newLabelsGauge.set(n);
    if (!labelRetrainDue(n, config.TRAIN_SENTIMENT_NEW_LABELS)) return;
    log.info({ newLabels: n, since: since?.toISOString() ?? null, version: latest.version }, 'enough new sentiment labels; retraining');
    void requestTraining('sentiment', `${n} new labels since ${since ? since.toISOString() : `v${latest.version}`}`);
  }

  return {
    handleAbandoned,
    checkNewLabels,
    initialSentimentTraining,
    initialPriceTraining,
    requestTraining,
    /** A monitor event: a retrain request starts a run once the stored features have settled. */
    onMonitorEvent: (e: MonitorEvent) => {
      if (e.kind === 'retrain_requested') void featuresSettled(e.task).then(() => requestTraining(e.task, `retrain requested: ${e.reason}`));
    },
    /** Drops queued requests and waits for the runs in progress (they stop at their next epoch). */
    stop: async () => {
      pending.clear();
      await Promise.allSettled([...running.values()]);
    },
  };
}
