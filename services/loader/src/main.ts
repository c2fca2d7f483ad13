/**
 * loader: writes clean bars, features, predictions, news and financial facts to MongoDB with
 * idempotent bulk upserts on natural keys (`_id`; insert first, replace only changed content —
 * see Database.upsertMany), and keeps the latest-state document per symbol. Offsets are committed
 * only after the write is acknowledged; while the database is down the batch is retried with
 * backoff (heartbeating meanwhile), so nothing is lost or duplicated.
 */
import { z } from 'zod';
import client from 'prom-client';
import type { DataTopicKey } from '@stock-mlops/contracts';
import { startService, withDbRetry, type Consumed } from '@stock-mlops/platform';
import { CopartitionAssigner } from '@stock-mlops/platform/kafka/copartition';
import { barKey, COLLECTIONS, Database, factKey, featureKey, LatestStateStore, LruCache, newsKey, predictionKey, sentimentKey } from '@stock-mlops/load';

const Env = z.object({
  LOADER_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
  /** Documents whose last written content this instance remembers (0 disables: every duplicate key is read back). */
  LOADER_WRITE_MEMORY: z.coerce.number().int().min(0).max(10_000_000).default(100_000),
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
});
const svc = await startService({ name: 'loader', env: Env, mongo: true });
const { log, metrics, config } = svc;
// Remembers what this instance wrote, so redeliveries of recent records need no read-back (see Database.upsertMany).
const database = new Database(svc.mongo!.db, config.LOADER_WRITE_MEMORY > 0 ? new LruCache<string>(config.LOADER_WRITE_MEMORY, Number.POSITIVE_INFINITY) : undefined);
const latest = new LatestStateStore(svc.mongo!.db);
await withDbRetry(() => database.ensureIndexes(), { log });
const written = new client.Counter({
  name: 'stockmlops_loader_documents_total',
  help: 'Documents written by the loader: inserted, already stored unchanged, or replaced',
  labelNames: ['collection', 'outcome'] as const,
  registers: [metrics.registry],
});

type LoadedKey = 'cleanPrices' | 'features' | 'pricePredictions' | 'sentimentPredictions' | 'cleanNews' | 'cleanFinancials';
const SUBSCRIBE: readonly LoadedKey[] = ['cleanPrices', 'features', 'pricePredictions', 'sentimentPredictions', 'cleanNews', 'cleanFinancials'];

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

await svc.consume({
  group: 'loader',
  subscribe: SUBSCRIBE,
  stage: 'load',
  partitionsConsumedConcurrently: config.LOADER_CONCURRENCY,
  sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
  // One instance owns all of a symbol's partitions, so its latest-state writes are serialized in one process.
  partitionAssigners: [CopartitionAssigner],
  // Keys may have moved from another instance: its writes are not in our memory.
  beforeRun: (c) => c.on(c.events.GROUP_JOIN, () => database.forgetWrites()),
  // Keep the group session alive while the database is slow or down (the batch is retried
  // with backoff until it is acknowledged; only then are the offsets committed).
  heartbeatWhileHandling: true,
  handle: async (batch, ctx) => {
    const { collection, docs } = toDocs(batch);
    const retry = { log, isStopping: ctx.isStopping };
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
});
svc.setReady('consumer', true);
log.info('loader running');
