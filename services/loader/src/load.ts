/**
 * The loader's writes: a consumed batch becomes documents keyed by their natural key (`_id`),
 * upserted in bulk (see Database.upsertMany; the challenger's shadow predictions into their own
 * collection), then the latest-state document per symbol (production only); both
 * retried with backoff while the database is down. Sentiment labels go to load_labels.ts. No Kafka here: main.ts subscribes the consumer.
 */
import type { Db } from 'mongodb';
import client from 'prom-client';
import type { DataTopicKey } from '@stock-mlops/contracts';
import { withDbRetry, type BatchContext, type Consumed, type Logger, type Metrics } from '@stock-mlops/platform';
import { barKey, COLLECTIONS, Database, factKey, featureKey, FeatureSchemaResolver, FeatureSchemaStore, LatestStateStore, LruCache, newsKey, predictionKey, resolveFeatureBatch, sentimentKey } from '@stock-mlops/load';
import type { LoaderConfig } from './config.ts';
import { createLabelLoader } from './load_labels.ts';

export type LoadedKey = 'cleanPrices' | 'features' | 'pricePredictions' | 'pricePredictionsShadow' | 'sentimentPredictions' | 'cleanNews' | 'cleanFinancials';
export type SubscribedKey = LoadedKey | 'sentimentLabels';
export const SUBSCRIBE: readonly SubscribedKey[] = ['cleanPrices', 'features', 'pricePredictions', 'pricePredictionsShadow', 'sentimentPredictions', 'cleanNews', 'cleanFinancials', 'sentimentLabels'];

/** Pure mapping from a consumed record to its document (natural key as `_id`). */
function toDocs(batch: Consumed<LoadedKey>[]): { collection: string; docs: Array<{ _id: string } & Record<string, unknown>> } {
  const key: DataTopicKey = batch[0]!.topicKey;
  const withMeta = <T extends object>(id: string, data: T, m: Consumed<LoadedKey>) => ({
    _id: id,
    ...data,
    eventId: m.envelope.eventId,
    ...(m.traceId ? { traceId: m.traceId } : {}),
  });
  switch (key) {
    case 'cleanPrices':
      return { collection: COLLECTIONS.bars, docs: batch.map((m) => { const d = m.envelope.data as Parameters<typeof barKey>[0] & object; return withMeta(barKey(d), d, m); }) };
    case 'features':
      return { collection: COLLECTIONS.features, docs: batch.map((m) => { const d = m.envelope.data as Parameters<typeof featureKey>[0] & object; return withMeta(featureKey(d), d, m); }) };
    case 'pricePredictions':
      return { collection: COLLECTIONS.predictions, docs: batch.map((m) => { const d = m.envelope.data as Parameters<typeof predictionKey>[0]; return withMeta(predictionKey(d), d, m); }) };
    // The challenger's predictions: their own collection, same key; never the latest state (clients get production only).
    case 'pricePredictionsShadow':
      return { collection: COLLECTIONS.shadowPredictions, docs: batch.map((m) => { const d = m.envelope.data as Parameters<typeof predictionKey>[0]; return withMeta(predictionKey(d), d, m); }) };
    case 'sentimentPredictions':
      return { collection: COLLECTIONS.sentiment, docs: batch.map((m) => { const d = m.envelope.data as Parameters<typeof sentimentKey>[0]; return withMeta(sentimentKey(d), d, m); }) };
    case 'cleanNews':
      return { collection: COLLECTIONS.news, docs: batch.map((m) => { const d = m.envelope.data as Parameters<typeof newsKey>[0]; return withMeta(newsKey(d), d, m); }) };
    case 'cleanFinancials':
      return { collection: COLLECTIONS.financials, docs: batch.map((m) => { const d = m.envelope.data as Parameters<typeof factKey>[0]; return withMeta(factKey(d), d, m); }) };
    default:
      throw new Error(`loader does not handle ${key}`);
  }
}

export interface LoaderDeps {
  db: Db;
  config: Pick<LoaderConfig, 'LOADER_WRITE_MEMORY' | 'LABELS_MAX_PER_LABELLER_PER_WINDOW' | 'LABELS_WINDOW_SECONDS'>;
  log: Logger;
  metrics: Metrics;
}

export function createLoader({ db, config, log, metrics }: LoaderDeps) {
  // Remembers what this instance wrote, so redeliveries of recent records need no read-back (see Database.upsertMany).
  const database = new Database(db, config.LOADER_WRITE_MEMORY > 0 ? new LruCache<string>(config.LOADER_WRITE_MEMORY, Number.POSITIVE_INFINITY) : undefined);
  const latest = new LatestStateStore(db);
  const schemas = new FeatureSchemaResolver(new FeatureSchemaStore(db));
  const handleLabels = createLabelLoader({ db, config, log, metrics });
  const written = new client.Counter({
    name: 'stockmlops_loader_documents_total',
    help: 'Documents written by the loader: inserted, already stored unchanged, or replaced',
    labelNames: ['collection', 'outcome'] as const,
    registers: [metrics.registry],
  });

  return {
    ensureIndexes: () => withDbRetry(() => database.ensureIndexes(), { log }),
    /** Keys may have moved from another instance: its writes are not in our memory. */
    onAssigned: () => database.forgetWrites(),
    handle: async (all: Consumed<SubscribedKey>[], ctx: BatchContext): Promise<void> => {
      // A batch is one topic-partition: labels have their own checks and merge (load_labels.ts).
      if (all[0]!.topicKey === 'sentimentLabels') return handleLabels(all as Consumed<'sentimentLabels'>[], ctx);
      let batch = all as Consumed<LoadedKey>[];
      const retry = { log, isStopping: ctx.isStopping };
      // Feature vectors carry a schema hash, not names: an unknown hash is dead-lettered, not stored.
      if (batch[0]!.topicKey === 'features') {
        const resolved = await resolveFeatureBatch(batch as Consumed<'features'>[], schemas, {
          data: (m) => m.envelope.data,
          reject: (m, code, reason) => ctx.deadLetter(m, code, reason),
          retry: (fn) => withDbRetry(fn, retry),
        });
        if (resolved.length === 0) return;
        batch = resolved.map((r) => r.item);
      }
      const { collection, docs } = toDocs(batch);
      const r = await withDbRetry(() => database.upsertMany(collection, docs), retry);
      written.inc({ collection, outcome: 'inserted' }, r.inserted);
      written.inc({ collection, outcome: 'unchanged' }, r.unchanged);
      written.inc({ collection, outcome: 'replaced' }, r.replaced);
      const k = batch[0]!.topicKey;
      if (k === 'cleanPrices' || k === 'features' || k === 'pricePredictions') {
        const part = k === 'cleanPrices' ? 'bar' : k === 'features' ? 'features' : 'prediction';
        const items = batch.map((m) => {
          const d = m.envelope.data as { symbol: string; ts?: string; asOf?: string };
          return { symbol: d.symbol, ts: (d.ts ?? d.asOf)!, value: m.envelope.data as never };
        });
        await withDbRetry(() => latest.putNewest(part, items), retry);
      }
      log.debug({ collection, n: docs.length, ...r }, 'upserted');
      // One line per traced record, so a trace id can be followed through this stage too.
      if (log.isLevelEnabled('debug')) {
        docs.forEach((d, i) => {
          const traceId = batch[i]!.traceId;
          if (traceId) log.debug({ traceId, collection, key: d._id }, 'loaded');
        });
      }
    },
  };
}
