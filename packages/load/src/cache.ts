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

  constructor(db: Db) {
    this.col = db.collection<LatestState>(COLLECTIONS.latest);
  }

  /**
   * Keep only the newest item per symbol: the update matches when the stored one is older.
   * One writer per symbol (Kafka partitions are keyed by symbol), so no transaction is needed.
   */
  async putNewest(part: Part, items: Array<{ symbol: string; ts: string; value: CleanPriceBar | FeatureVector | PricePrediction }>): Promise<void> {
    const newest = new Map<string, { ts: string; value: unknown }>();
    for (const it of items) {
      const cur = newest.get(it.symbol);
      if (!cur || cur.ts < it.ts) newest.set(it.symbol, { ts: it.ts, value: it.value });
    }
    const tsField = `${part}Ts` as const;
    const now = new Date().toISOString();
    for (const [symbol, { ts, value }] of newest) {
      const set = { [part]: value, [tsField]: ts, updatedAt: now, symbol };
      const r = await this.col.updateOne({ _id: symbol, [tsField]: { $lt: ts } }, { $set: set });
      if (r.matchedCount === 0) {
        const existing = await this.col.findOne({ _id: symbol }, { projection: { [tsField]: 1 } });
        if (!existing) {
          await this.col.updateOne({ _id: symbol }, { $setOnInsert: set }, { upsert: true });
        } else if (existing[tsField] === undefined) {
          await this.col.updateOne({ _id: symbol, [tsField]: { $exists: false } }, { $set: set });
        }
      }
    }
  }

  get(symbol: string): Promise<LatestState | null> {
    return this.col.findOne({ _id: symbol });
  }

  all(): Promise<LatestState[]> {
    return this.col.find({}).toArray();
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
}
