/**
 * The monitor's loop around MonitorCore (packages/monitor): restores its state from MongoDB,
 * applies consumed records (production and shadow predictions alike), follows the serving and
 * challenger versions in the registry, evaluates on a timer (reports, alerts, one
 * `retrain_requested` monitor event per incident, live promotion decisions through promoter.ts)
 * and keeps the newest report per task for gRPC. No Kafka or gRPC here: main.ts subscribes the consumer and
 * starts the server.
 */
import type { Db } from 'mongodb';
import { encode, makeEnvelope, type ModelRef, type Topics } from '@stock-mlops/contracts';
import { serialized, withDbRetry, type BatchContext, type BatchingProducer, type Consumed, type Logger, type Metrics } from '@stock-mlops/platform';
import { FeatureSchemaResolver, FeatureSchemaStore, resolveFeatureBatch } from '@stock-mlops/load';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { MonitorCore, modelInfoFromRegistry, type ClosedIncident, type MonitoringReport, type ObservedPrediction, type Outcome, type Task } from '@stock-mlops/monitor';
import { createPromoter } from './promoter.ts';
import { settingsFrom, type MonitorEnv } from './config.ts';
import { createMonitorMetrics } from './metrics.ts';
import { MonitorStore } from './store.ts';

const TASKS: readonly Task[] = ['price', 'sentiment'];
/** Registry names of the models (PRICE_MODEL / SENTIMENT_MODEL of ml_service, which would load tfjs here). */
const MODEL_NAMES: Record<Task, string> = { price: 'price', sentiment: 'sentiment' };

export const SUBSCRIBE = ['cleanPrices', 'features', 'pricePredictions', 'pricePredictionsShadow', 'sentimentPredictions', 'modelEvents'] as const;
type Key = (typeof SUBSCRIBE)[number];

export interface MonitorLoopDeps {
  db: Db;
  config: MonitorEnv;
  log: Logger;
  metrics: Metrics;
  producer: BatchingProducer;
  topics: Topics;
  isStopping: () => boolean;
}

export function createMonitorLoop({ db, config, log, metrics, producer, topics, isStopping }: MonitorLoopDeps) {
  const settings = settingsFrom(config);
  const store = new MonitorStore(db);
  const registry = new ModelStore(db);
  const schemas = new FeatureSchemaResolver(new FeatureSchemaStore(db));
  const monitorMetrics = createMonitorMetrics(metrics);
  const core = new MonitorCore(settings);
  const debug = () => log.isLevelEnabled('debug');

  /** Batches, evaluations and model refreshes share the core: one at a time. */
  const exclusive = serialized();

  /** Indexes, the state stored by earlier runs, and the serving models. */
  async function restore(): Promise<void> {
    const startedAt = Date.now();
    await withDbRetry(() => store.ensureIndexes(), { log });
    log.debug({ ms: Date.now() - startedAt }, 'indexes ready');
    const restored = await withDbRetry(() => store.load(settings), { log });
    for (const s of restored.triggers) core.restoreTriggerState(s);
    for (const s of restored.promotions) core.restorePromotionState(s);
    for (const b of restored.bars) core.observeBar(b);
    for (const o of restored.outcomes) core.restoreOutcome(o);
    const lateOutcomes: Outcome[] = [];
    for (const p of restored.pending) {
      const r = core.addPrediction(p);
      if (r.outcome) lateOutcomes.push(r.outcome);
    }
    for (const f of restored.features) core.addFeatures(f);
    for (const s of restored.sentiment) core.addSentiment(s);
    if (lateOutcomes.length) await withDbRetry(() => store.savePredictions([], lateOutcomes), { log });
    log.info(
      { bars: restored.bars.length, pending: restored.pending.length, outcomes: restored.outcomes.length, features: restored.features.length, sentiment: restored.sentiment.length, ms: Date.now() - startedAt },
      'monitor state restored',
    );
    await withDbRetry(refreshModels, { log });
  }

  // ------------------------------------------------------------------ models
  async function closeIncident(c: ClosedIncident | undefined): Promise<void> {
    if (!c) return;
    log.info({ task: c.task, incidentId: c.incidentId, reason: c.reason }, 'incident closed');
    await withDbRetry(() => store.closeAlert(c.incidentId, c.reason, Date.now()), { log });
    await withDbRetry(() => store.saveTriggerState(core.triggerState(c.task)), { log });
  }

  /** Serving versions from the registry aliases, and registry information of every version seen. */
  async function refreshModels(): Promise<void> {
    for (const task of TASKS) {
      const alias = await registry.getAlias(MODEL_NAMES[task], 'production');
      if (alias) await closeIncident(core.setServing(task, { name: MODEL_NAMES[task], version: alias.version }));
    }
    const challenger = await registry.getAlias(MODEL_NAMES.price, 'challenger');
    core.setChallenger(challenger ? { name: MODEL_NAMES.price, version: challenger.version } : undefined);
    for (const v of core.unknownVersions()) {
      try {
        const info = modelInfoFromRegistry(await registry.get(v.name, v.version));
        core.setModelInfo(info);
        log.info({ model: v.name, version: v.version, trainedThrough: info.trainedThroughMs && new Date(info.trainedThroughMs).toISOString(), referenceProblem: info.referenceProblem }, 'model version loaded');
      } catch (err) {
        if ((err as { code?: string }).code !== 'E_MODEL_NOT_FOUND') throw err;
      }
    }
  }

  /** The newest report per task, served without a database round trip (MongoDB has them all). */
  const latest = new Map<Task, MonitoringReport>();
  const latestReport = (task: Task, version?: number): MonitoringReport | undefined => {
    const r = latest.get(task);
    return r && (!version || r.model?.version === version) ? r : undefined;
  };

  // ------------------------------------------------------------------ records
  async function handle(batch: Consumed<Key>[], ctx: BatchContext): Promise<void> {
    const retry = { log, isStopping: ctx.isStopping };
    const key = batch[0]!.topicKey;
    const trace = (m: Consumed<Key>, msg: string, extra: Record<string, unknown>) => {
      if (m.traceId && debug()) log.debug({ traceId: m.traceId, topic: key, ...extra }, msg);
    };
    const outcomesResolved = (outcomes: Outcome[]) => {
      monitorMetrics.resolved.inc(outcomes.length);
      if (debug()) for (const o of outcomes) if (o.traceId) log.debug({ traceId: o.traceId, symbol: o.symbol, asOf: o.asOf, realizedTs: o.realizedTs, realizedReturn: o.realizedReturn, predictedReturn: o.predictedReturn }, 'prediction resolved');
    };
    switch (key) {
      case 'cleanPrices': {
        const bars: Array<{ symbol: string; interval: string; ts: string; close: number }> = [];
        const outcomes: Outcome[] = [];
        for (const m of batch as Consumed<'cleanPrices'>[]) {
          const b = m.envelope.data;
          outcomes.push(...core.observeBar(b));
          if (!b.zeroVolume) bars.push(b);
          trace(m, 'monitored bar', { symbol: b.symbol, ts: b.ts });
        }
        await withDbRetry(() => store.saveBars(bars), retry);
        await withDbRetry(() => store.savePredictions([], outcomes), retry);
        outcomesResolved(outcomes);
        return;
      }
      case 'features': {
        // Vectors carry a schema hash, not names: resolved (feature_schemas) for drift, an unknown one dead-lettered.
        const resolved = await resolveFeatureBatch(batch as Consumed<'features'>[], schemas, {
          data: (m) => m.envelope.data,
          reject: (m, code, reason) => ctx.deadLetter(m, code, reason),
          retry: (fn) => withDbRetry(fn, retry),
        });
        if (resolved.length === 0) return;
        const live = resolved.map(({ item: m, names }) => {
          trace(m, 'monitored features', { symbol: m.envelope.data.symbol, ts: m.envelope.data.ts });
          return core.observeFeatures({ ...m.envelope.data, names: names as string[] });
        });
        await withDbRetry(() => store.saveFeatures(live), retry);
        return;
      }
      case 'pricePredictions':
      case 'pricePredictionsShadow': {
        // Shadow predictions (the challenger's) join exactly like production ones: their keys carry the version.
        const observed: ObservedPrediction[] = [];
        const outcomes: Outcome[] = [];
        for (const m of batch as Consumed<'pricePredictions' | 'pricePredictionsShadow'>[]) {
          const p = m.envelope.data;
          const r = core.observePrediction(p, m.traceId);
          if (r.status === 'pending' || r.status === 'resolved') observed.push(r.prediction);
          if (r.outcome) outcomes.push(r.outcome);
          trace(m, 'monitored prediction', { symbol: p.symbol, asOf: p.asOf, model: `${p.model.name}@${p.model.version}`, status: r.status });
        }
        await withDbRetry(() => store.savePredictions(observed, outcomes), retry);
        outcomesResolved(outcomes);
        return;
      }
      case 'sentimentPredictions': {
        const live = (batch as Consumed<'sentimentPredictions'>[]).map((m) => {
          trace(m, 'monitored sentiment', { symbol: m.envelope.data.symbol, articleId: m.envelope.data.articleId });
          return core.observeSentiment(m.envelope.data);
        });
        await withDbRetry(() => store.saveSentiment(live), retry);
        return;
      }
      case 'modelEvents': {
        for (const m of batch as Consumed<'modelEvents'>[]) {
          const e = m.envelope.data;
          log.info({ kind: e.kind, model: `${e.model.name}@${e.model.version}`, task: e.task }, 'model event');
          await closeIncident(core.onModelEvent(e));
        }
        await withDbRetry(refreshModels, retry);
        return;
      }
    }
  }

  // ------------------------------------------------------------------ evaluation
  async function publishRetrain(task: Task, r: { incidentId: string; model: ModelRef; reason: string; evidence: Record<string, number> }): Promise<void> {
    const env = makeEnvelope('monitorEvents', {
      data: { kind: 'retrain_requested', task, model: r.model, reason: r.reason, evidence: r.evidence, incidentId: r.incidentId },
      source: 'monitor',
      idParts: [r.incidentId],
    });
    await producer.send(topics.monitorEvents, [encode('monitorEvents', env)]);
  }

  const promoter = createPromoter({ registry, store, producer, topics, log, metrics: monitorMetrics });

  let evaluations = 0;
  /** Evaluate under the lock (pure computation), then write and publish outside it. */
  async function evaluateAll(): Promise<void> {
    const now = Date.now();
    const results = await exclusive(async () => {
      await withDbRetry(refreshModels, { log });
      return TASKS.filter((task) => core.hasChanges(task)).map((task) => ({ task, ...core.evaluate(task, now) }));
    });
    for (const { task, report, decision, promotion } of results) {
      monitorMetrics.observe(report);
      latest.set(task, report);
      // At least once: publish before the state that says it was published.
      if (decision?.request) {
        await publishRetrain(task, decision.request);
        monitorMetrics.retrainRequests.inc({ task });
        log.warn({ task, incidentId: decision.request.incidentId, model: decision.request.model, reason: decision.request.reason, evidence: decision.request.evidence }, 'retrain requested');
      }
      if (decision) {
        await withDbRetry(() => store.recordDecision(task, decision, now), { log });
        await withDbRetry(() => store.saveTriggerState(decision.state), { log });
        if (decision.closed) log.info({ task, ...decision.closed }, 'incident closed');
      }
      if (promotion) {
        const applied = await promoter.apply(promotion, now);
        if (applied === 'promoted') {
          await exclusive(async () => {
            await closeIncident(core.setServing('price', promotion.challenger));
            core.setChallenger(undefined);
          });
        } else if (applied === 'stale') await exclusive(async () => core.restorePromotionState(promotion.previous));
      }
      await withDbRetry(() => store.saveReport(report), { log });
      log.debug({ task, model: report.model, action: report.action, breaches: report.breaches.map((b) => b.kind), fdShare: report.featureDrift?.driftedShare, outcomes: report.performance?.n }, 'evaluated');
    }
    if (++evaluations % 20 === 0) {
      const retention = await exclusive(async () => core.retention());
      await withDbRetry(() => store.prune({ ...retention, reportsBeforeMs: now - config.MONITOR_REPORT_RETENTION_MS }), { log });
    }
  }

  /** Evaluates every MONITOR_EVAL_MS; returns the stop (waits for an evaluation in flight). */
  function startEvaluation(): () => Promise<void> {
    let evaluating: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (evaluating || isStopping()) return;
      evaluating = evaluateAll()
        .catch((err) => log.error({ err }, 'evaluation failed'))
        .finally(() => {
          evaluating = undefined;
        });
    }, config.MONITOR_EVAL_MS);
    return async () => {
      clearInterval(timer);
      await evaluating;
    };
  }

  return {
    settings,
    store,
    restore,
    latestReport,
    /** One consumed batch, applied under the lock shared with evaluations and model refreshes. */
    handle: (batch: Consumed<Key>[], ctx: BatchContext) => exclusive(() => handle(batch, ctx)),
    startEvaluation,
  };
}
