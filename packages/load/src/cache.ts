import type { Collection, Db } from 'mongodb';
import type { CleanPriceBar, FeatureVector, PricePrediction } from '@stock-mlops/contracts';
import { COLLECTIONS } from './database.ts';

/**
 * Online store: one latest-state document per symbol (last bar, last features, last
 * prediction), kept in step by the loader, plus a small in-process LRU for readers. This is
 * what the predictor reads for `Predict(symbol)` and WebSocket snapshots.
 */
export interface LatestState {
  _id: string;
  symbol: string;
  bar?: CleanPriceBar;
  barTs?: string;
  features?: FeatureVector;
  featuresTs?: string;
  prediction?: PricePrediction;
  predictionTs?: string;
  updatedAt: string;
}

type Part = 'bar' | 'features' | 'prediction';

export class LatestStateStore {
  private readonly col: Collection<LatestState>;
  /** Per-symbol write chains (see putNewest). */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(db: Db) {
    this.col = db.collection<LatestState>(COLLECTIONS.latest);
  }

  /**
   * Keep only the newest item per symbol and part: one conditional upsert per symbol that
   * matches when the stored item is older or absent. When the stored one is newer, the filter
   * does not match and the upsert's insert hits the existing `_id` (duplicate key): nothing to
   * do.
   *
   * Writes for one symbol are serialized in this process: the loader writes bars, features and
   * predictions of a symbol from parallel partition handlers, and FerretDB 1.x applies an update
   * as read-modify-write of the whole document, so concurrent updates of one document can lose
   * each other's fields (measured). Across loader instances the co-partitioned assignment keeps a
   * symbol's partitions on one instance.
   */
  async putNewest(part: Part, items: Array<{ symbol: string; ts: string; value: CleanPriceBar | FeatureVector | PricePrediction }>): Promise<void> {
    const symbols = [...new Set(items.map((i) => i.symbol))].sort();
    const previous = symbols.map((s) => this.chains.get(s) ?? Promise.resolve());
    const run = Promise.all(previous).then(() => this.write(part, items));
    const settled = run.then(
      () => {},
      () => {},
    );
    for (const s of symbols) this.chains.set(s, settled);
    try {
      await run;
    } finally {
      for (const s of symbols) if (this.chains.get(s) === settled) this.chains.delete(s);
    }
  }

  private async write(part: Part, items: Array<{ symbol: string; ts: string; value: CleanPriceBar | FeatureVector | PricePrediction }>): Promise<void> {
    const newest = new Map<string, { ts: string; value: unknown }>();
    for (const it of items) {
      const cur = newest.get(it.symbol);
      if (!cur || cur.ts < it.ts) newest.set(it.symbol, { ts: it.ts, value: it.value });
    }
    const tsField = `${part}Ts` as const;
    const now = new Date().toISOString();
    for (const [symbol, { ts, value }] of newest) {
      const filter = { _id: symbol, $or: [{ [tsField]: { $lt: ts } }, { [tsField]: { $exists: false } }] };
      const update = { $set: { [part]: value, [tsField]: ts, updatedAt: now, symbol } };
      try {
        await this.col.updateOne(filter as never, update, { upsert: true });
      } catch (err) {
        // Duplicate key: the document exists with a newer item of this part.
        if ((err as { code?: number }).code !== 11000) throw err;
      }
    }
  }

  get(symbol: string): Promise<LatestState | null> {
    return this.col.findOne({ _id: symbol });
  }

  /**
   * The latest prediction of every symbol (a predictor's start-up). One document per symbol, so
   * the read costs what it returns; only the prediction field travels.
   */
  async allPredictions(): Promise<PricePrediction[]> {
    const docs = await this.col.find({}, { projection: { prediction: 1 } }).toArray();
    return docs.flatMap((d) => (d.prediction ? [d.prediction] : []));
  }
}

/**
 * Reader of the online store for request paths (predictor, WebSocket snapshots): an in-process
 * LRU with a short time-to-live in front of `LatestStateStore.get`, so a burst of requests for
 * one symbol costs one database read per TTL. Misses (unknown symbols) are cached too; concurrent
 * misses for one symbol share one read.
 */
export class LatestStateReader {
  private readonly cache: LruCache<LatestState | null>;
  private readonly inflight = new Map<string, Promise<LatestState | null>>();
  private readonly now: () => number;

  constructor(
    private readonly store: Pick<LatestStateStore, 'get'>,
    options: { max?: number; ttlMs?: number; now?: () => number } = {},
  ) {
    this.cache = new LruCache(options.max ?? 1000, options.ttlMs ?? 1000);
    this.now = options.now ?? Date.now;
  }

  async get(symbol: string): Promise<LatestState | null> {
    const hit = this.cache.get(symbol, this.now());
    if (hit !== undefined) return hit;
    let pending = this.inflight.get(symbol);
    if (!pending) {
      pending = this.store.get(symbol).then(
        (v) => {
          this.cache.set(symbol, v, this.now());
          this.inflight.delete(symbol);
          return v;
        },
        (err: unknown) => {
          this.inflight.delete(symbol);
          throw err;
        },
      );
      this.inflight.set(symbol, pending);
    }
    return pending;
  }
}

/** Tiny LRU with a time-to-live, for readers of the online store. */
export class LruCache<V> {
  private readonly map = new Map<string, { value: V; at: number }>();

  constructor(
    private readonly max = 1000,
    private readonly ttlMs = 1000,
  ) {}

  get(key: string, now = Date.now()): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (now - hit.at > this.ttlMs) {
      this.map.delete(key);
      return undefined;
    }
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  set(key: string, value: V, now = Date.now()): void {
    this.map.delete(key);
    this.map.set(key, { value, at: now });
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}
