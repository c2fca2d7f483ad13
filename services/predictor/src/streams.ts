/**
 * The predictor's Kafka streams:
 * - features (shared consumer group: replicas split the work) → price predictions topic, with
 *   the feature history checkpointed before the commit; then, off that path (in the inference
 *   queue's idle lane: production first), the challenger's shadow predictions of the same
 *   features → the shadow topic (shadow.ts);
 * - clean news (shared group) → sentiment predictions topic, once a sentiment model exists;
 * - the price prediction stream in broadcast (one group per replica) → the core's latest
 *   predictions (gRPC StreamPredictions and WebSocket subscribers of every replica);
 * - model events (one group per replica) and registry polling → hot swaps of production and of
 *   the challenger.
 */
import { makeEnvelope, encode, TRACE_HEADER, type ModelEvent } from '@stock-mlops/contracts';
import { FeatureSchemaResolver, FeatureSchemaStore, resolveFeatureBatch } from '@stock-mlops/load';
import type { ShadowScorer } from '@stock-mlops/ml/inference/shadow_scorer';
import { withDbRetry, type Consumed, type ServiceContext } from '@stock-mlops/platform';
import type { PredictorEnv } from './config.ts';
import { PRICE_MODEL_NAME, SERVED_MODELS, type ServedModelName } from './model_loader.ts';
import { SymbolOwnership } from './ownership.ts';
import type { Serving } from './serving.ts';

/** Model events that move an alias the predictor serves from (production, challenger). */
const ALIAS_EVENTS = new Set<ModelEvent['kind']>(['promoted', 'rolled_back', 'challenger_set', 'challenger_cleared']);

function traceHeaders(traceId: string | undefined): Record<string, string> {
  return traceId ? { [TRACE_HEADER]: traceId } : {};
}

export interface StreamsDeps extends Omit<Serving, 'whenIdle'> {
  svc: ServiceContext<PredictorEnv>;
  /** A price model is serving (called after each sync that finds one). */
  onServing: () => void;
  /** Scores the challenger, if any, on what production just published. */
  shadow: ShadowScorer;
}

/** Starts the broadcast and model-event consumers, syncs the production models, polls the registry; returns the poll's stop. */
export async function startStreams({ svc, core, catalog, checkpoint, onServing, shadow }: StreamsDeps): Promise<{ stopPolling: () => void }> {
  const { config, log, topics, producer } = svc;
  // Stable across restarts (INSTANCE_ID, PREDICTOR_INSTANCE_ID, the pod name or a local slot), so the broadcast groups do not pile up.
  const instance = svc.instanceId;
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

  const ownership = new SymbolOwnership();
  const schemas = new FeatureSchemaResolver(new FeatureSchemaStore(svc.mongo!.db));
  const startFeatureConsumer = () =>
    startOnce('features-consumer', () =>
      svc.consume({
        group: 'predictor',
        subscribe: ['features'] as const,
        stage: 'predict',
        // Partitions may have moved: reload each symbol's checkpoint on its next vector, and forget
        // the history of symbols whose partition went to another replica (it would only go stale).
        beforeRun: (c) =>
          c.on(c.events.GROUP_JOIN, (e) => {
            checkpoint.reset();
            const mine = e.payload.memberAssignment[topics.features] ?? [];
            for (const symbol of ownership.assigned(mine)) core.history.drop(symbol);
          }),
        handle: async (consumed, ctx) => {
          // Vectors carry a schema hash, not names: one this process does not know is looked up
          // (feature_schemas); an unknown one is dead-lettered before its values are used.
          const resolved = await resolveFeatureBatch(consumed, schemas, {
            data: (m) => m.envelope.data,
            reject: (m, code, reason) => ctx.deadLetter(m, code, reason),
            retry: (fn) => withDbRetry(fn, { log, isStopping: ctx.isStopping }),
          });
          if (resolved.length === 0) return;
          const batch = resolved.map((r) => r.item);
          for (const m of batch) ownership.seen(m.envelope.data.symbol, m.partition);
          const vectors = batch.map((m) => m.envelope.data);
          await withDbRetry(() => checkpoint.ensure(vectors), { log, isStopping: ctx.isStopping });
          const { predictions, rejected } = await core.onFeatures(vectors);
          const bySource = new Map(batch.map((m) => [`${m.envelope.data.symbol}|${m.envelope.data.ts}`, m]));
          for (const r of rejected) {
            const src = bySource.get(`${r.fv.symbol}|${r.fv.ts}`);
            if (src) ctx.deadLetter(src, r.code, r.reason);
          }
          const envelopes = predictions.map((p) => {
            const src = bySource.get(`${p.symbol}|${p.asOf}`);
            const env = makeEnvelope('pricePredictions', {
              data: p,
              source: 'predictor',
              idParts: [p.symbol, p.interval, p.asOf, p.model.name, p.model.version],
              eventTime: p.asOf,
              ...(src?.traceId ? { traceId: src.traceId } : {}),
            });
            if (src?.traceId && log.isLevelEnabled('debug')) log.debug({ traceId: src.traceId, symbol: p.symbol, asOf: p.asOf, version: p.model.version }, 'predicted');
            return env;
          });
          await producer.send(topics.pricePredictions, envelopes.map((env) => ({ ...encode('pricePredictions', env), headers: traceHeaders(env.traceId) })));
          // Published: the challenger scores the same features once the inference queue is idle (bounded drop-oldest queue, never awaited).
          shadow.offer(envelopes.map((env) => ({ prediction: env.data, eventId: env.eventId, traceId: env.traceId })));
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
    if (models.includes(PRICE_MODEL_NAME)) results.push(await catalog.syncChallenger(reason));
    if (core.serving) {
      onServing();
      await startFeatureConsumer();
    }
    if (core.sentiment) await startNewsConsumer();
    for (const r of results) if (r.error && !r.error.startsWith('E_LOAD_FAILED_BEFORE')) log.warn({ model: r.model, version: r.version, error: r.error }, 'model sync failed');
  }

  await svc.consume({
    group: `predictor-broadcast-${instance}`,
    subscribe: ['pricePredictions'] as const,
    stage: 'predict',
    fromBeginning: false,
    handle: async (batch) => {
      for (const m of batch) core.onPrediction(m.envelope.data);
    },
  });

  await svc.consume({
    group: `predictor-models-${instance}`,
    subscribe: ['modelEvents'] as const,
    stage: 'predict',
    fromBeginning: false,
    handle: async (batch) => {
      for (const m of batch) {
        const e = m.envelope.data;
        const name = e.model.name as ServedModelName;
        if ((SERVED_MODELS as readonly string[]).includes(name) && ALIAS_EVENTS.has(e.kind)) {
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
  return { stopPolling: () => clearInterval(poll) };
}
