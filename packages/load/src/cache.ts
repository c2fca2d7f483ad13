import type { Collection, Db } from 'mongodb';
import type { CleanPriceBar, FeatureVector, PricePrediction } from '@stock-mlops/contracts';
import { COLLECTIONS } from './database.ts';

/**
 * Online store: one latest-state document per symbol (last bar, last features, last
 * prediction), kept in step by the loader. The predictor reads the predictions of every symbol
 * once at start (`allPredictions`) and keeps them in memory from the stream after that.
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
