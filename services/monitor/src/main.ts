/**
 * monitor: watches the served models and closes the loop.
 * - consumes clean prices, features, price and sentiment predictions, model events;
 * - joins each price prediction with its realized outcome (the bar `horizon` bars later) and
 *   keeps rolling MAE / directional accuracy / IC per model version and symbol;
 * - measures feature, prediction and sentiment-label drift against the serving version's
 *   reference (stored with the version in the registry);
 * - on a breach publishes one `retrain_requested` monitor event per incident (cool-down,
 *   de-duplication) and records an alert; reports go to MongoDB and gRPC GetMonitoringReport.
 * The logic is in packages/monitor; this file wires Kafka, MongoDB and gRPC around it.
 */
import { encode, makeEnvelope, type ModelRef } from '@stock-mlops/contracts';
import { serialized, startService, withDbRetry, type Consumed } from '@stock-mlops/platform';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { MonitorCore, modelInfoFromRegistry, type ClosedIncident, type MonitoringReport, type ObservedPrediction, type Outcome, type Task } from '@stock-mlops/monitor';
import { MonitorEnv, settingsFrom } from './config.ts';
import { startMonitorGrpc, SERVICE_NAME } from './grpc_server.ts';
import { createMonitorMetrics } from './metrics.ts';
import { MonitorStore } from './store.ts';

const TASKS: readonly Task[] = ['price', 'sentiment'];
/** Registry names of the models (PRICE_MODEL / SENTIMENT_MODEL of ml_service, which would load tfjs here). */
const MODEL_NAMES: Record<Task, string> = { price: 'price', sentiment: 'sentiment' };

const svc = await startService({ name: 'monitor', env: MonitorEnv, mongo: true });
const { config, log, topics, producer, shutdown, metrics } = svc;
const db = svc.mongo!.db;
const settings = settingsFrom(config);
const store = new MonitorStore(db);
const registry = new ModelStore(db);
const monitorMetrics = createMonitorMetrics(metrics);
const core = new MonitorCore(settings);
const debug = () => log.isLevelEnabled('debug');

/** Batches, evaluations and model refreshes share the core: one at a time. */
const exclusive = serialized();

// ------------------------------------------------------------------ restore state
const startedAt = Date.now();
await withDbRetry(() => store.ensureIndexes(), { log });
log.debug({ ms: Date.now() - startedAt }, 'indexes ready');
const restored = await withDbRetry(() => store.load(settings), { log });
for (const s of restored.triggers) core.restoreTriggerState(s);
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
await withDbRetry(refreshModels, { log });

// ------------------------------------------------------------------ gRPC
/** The newest report per task, served without a database round trip (MongoDB has them all). */
const latest = new Map<Task, MonitoringReport>();
const grpc = await startMonitorGrpc({
  host: config.MONITOR_GRPC_HOST,
  port: config.MONITOR_GRPC_PORT,
  log,
  store,
  latest: (task, version) => {
    const r = latest.get(task);
    return r && (!version || r.model?.version === version) ? r : undefined;
  },
});
shutdown.add('grpc', grpc.close);
log.info({ grpc: `${config.MONITOR_GRPC_HOST}:${grpc.port}` }, 'monitor listening');

// ------------------------------------------------------------------ records
type Key = 'cleanPrices' | 'features' | 'pricePredictions' | 'sentimentPredictions' | 'modelEvents';

async function handle(batch: Consumed<Key>[], isStopping: () => boolean): Promise<void> {
  const retry = { log, isStopping };
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
      const live = (batch as Consumed<'features'>[]).map((m) => {
        trace(m, 'monitored features', { symbol: m.envelope.data.symbol, ts: m.envelope.data.ts });
        return core.observeFeatures(m.envelope.data);
      });
      await withDbRetry(() => store.saveFeatures(live), retry);
      return;
    }
    case 'pricePredictions': {
      const observed: ObservedPrediction[] = [];
      const outcomes: Outcome[] = [];
      for (const m of batch as Consumed<'pricePredictions'>[]) {
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

await svc.consume({
  group: 'monitor',
  subscribe: ['cleanPrices', 'features', 'pricePredictions', 'sentimentPredictions', 'modelEvents'] as const,
  stage: 'monitor',
  // Keep the group membership alive while an evaluation holds the core.
  heartbeatWhileHandling: true,
  handle: (batch, ctx) => exclusive(() => handle(batch, ctx.isStopping)),
});

// ------------------------------------------------------------------ evaluation
async function publishRetrain(task: Task, r: { incidentId: string; model: ModelRef; reason: string; evidence: Record<string, number> }): Promise<void> {
  const env = makeEnvelope('monitorEvents', {
    data: { kind: 'retrain_requested', task, model: r.model, reason: r.reason, evidence: r.evidence, incidentId: r.incidentId },
    source: 'monitor',
    idParts: [r.incidentId],
  });
  await producer.send(topics.monitorEvents, [encode('monitorEvents', env)]);
}

let evaluations = 0;
/** Evaluate under the lock (pure computation), then write and publish outside it. */
async function evaluateAll(): Promise<void> {
  const now = Date.now();
  const results = await exclusive(async () => {
    await withDbRetry(refreshModels, { log });
    return TASKS.filter((task) => core.hasChanges(task)).map((task) => ({ task, ...core.evaluate(task, now) }));
  });
  for (const { task, report, decision } of results) {
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
    await withDbRetry(() => store.saveReport(report), { log });
    log.debug({ task, model: report.model, action: report.action, breaches: report.breaches.map((b) => b.kind), fdShare: report.featureDrift?.driftedShare, outcomes: report.performance?.n }, 'evaluated');
  }
  if (++evaluations % 20 === 0) {
    const retention = await exclusive(async () => core.retention());
    await withDbRetry(() => store.prune({ ...retention, reportsBeforeMs: now - config.MONITOR_REPORT_RETENTION_MS }), { log });
  }
}

let evaluating: Promise<void> | undefined;
const timer = setInterval(() => {
  if (evaluating || shutdown.isStopping) return;
  evaluating = evaluateAll()
    .catch((err) => log.error({ err }, 'evaluation failed'))
    .finally(() => {
      evaluating = undefined;
    });
}, config.MONITOR_EVAL_MS);
shutdown.add('evaluation', async () => {
  clearInterval(timer);
  await evaluating;
});

grpc.health.setStatus('', 'SERVING');
grpc.health.setStatus(SERVICE_NAME, 'SERVING');
svc.setReady('monitor', true);
log.info({ settings }, 'monitor running');
