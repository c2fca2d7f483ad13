import type { Collection, Db, Document } from 'mongodb';
import type {
  CleanFinancialFact,
  CleanNewsArticle,
  CleanPriceBar,
  FeatureVector,
  PricePrediction,
  SentimentPrediction,
} from '@stock-mlops/contracts';

/**
 * MongoDB collections of the pipeline, each keyed by its natural key as `_id` (a unique index
 * by construction), written with unordered bulk upserts so that replays and redeliveries are
 * idempotent. Documents are flat (FerretDB 1.x: no nested arrays, no NaN, no `$`/`.` keys).
 */
export const COLLECTIONS = {
  bars: 'bars',
  features: 'features',
  predictions: 'price_predictions',
  sentiment: 'sentiment_predictions',
  news: 'news',
  financials: 'financial_facts',
  latest: 'latest_state',
} as const;

export const barKey = (b: Pick<CleanPriceBar, 'symbol' | 'interval' | 'ts'>) => `${b.symbol}|${b.interval}|${b.ts}`;
export const featureKey = (f: Pick<FeatureVector, 'symbol' | 'interval' | 'ts'>) => `${f.symbol}|${f.interval}|${f.ts}`;
export const predictionKey = (p: PricePrediction) => `${p.symbol}|${p.interval}|${p.asOf}|${p.model.name}|${p.model.version}`;
export const sentimentKey = (p: SentimentPrediction) => `${p.articleId}|${p.symbol}|${p.model.name}|${p.model.version}`;
export const newsKey = (n: CleanNewsArticle) => `${n.id}|${n.symbol}`;
export const factKey = (f: CleanFinancialFact) =>
  [f.symbol, f.concept, f.unit, f.periodStart ?? '', f.periodEnd, f.form, f.accession ?? '', f.filed].join('|');

export interface Stored<T> {
  _id: string;
  data: T;
  eventId: string;
  updatedAt: string;
}

export type BarDoc = CleanPriceBar & { _id: string; eventId: string };
export type FeatureDoc = FeatureVector & { _id: string; eventId: string };
export type PredictionDoc = PricePrediction & { _id: string; eventId: string };

export class Database {
  constructor(readonly db: Db) {}

  collection<T extends Document>(name: (typeof COLLECTIONS)[keyof typeof COLLECTIONS]): Collection<T> {
    return this.db.collection<T>(name);
  }

  async ensureIndexes(): Promise<void> {
    await this.db.collection(COLLECTIONS.bars).createIndex({ symbol: 1, ts: 1 });
    await this.db.collection(COLLECTIONS.features).createIndex({ symbol: 1, ts: 1 });
    await this.db.collection(COLLECTIONS.predictions).createIndex({ symbol: 1, asOf: 1 });
    await this.db.collection(COLLECTIONS.news).createIndex({ symbol: 1, publishedAt: 1 });
    await this.db.collection(COLLECTIONS.financials).createIndex({ symbol: 1, filed: 1 });
  }

  /**
   * Idempotent write of documents keyed by their natural `_id`: insert what is new, keep what is
   * already there (first write wins, like the cleaner's "first source wins"). Duplicate-key
   * errors (11000) from redeliveries are expected and ignored; any other error is thrown.
   *
   * Why not `updateOne(..., {upsert: true})`: on FerretDB's SQLite backend an update by `_id`
   * scans the collection (measured ~15 ms per document at 1k documents, growing with size),
   * while an unordered `insertMany` checks `_id` uniqueness in the storage index (~0.5 ms per
   * document). Our documents are deterministic functions of their key, so both give the same state.
   */
  async insertIfAbsent<T extends { _id: string }>(collection: string, docs: T[]): Promise<{ inserted: number; duplicates: number }> {
    if (docs.length === 0) return { inserted: 0, duplicates: 0 };
    try {
      const r = await this.db.collection<{ _id: string }>(collection).insertMany(docs.map((d) => ({ ...d })), { ordered: false });
      return { inserted: r.insertedCount, duplicates: 0 };
    } catch (err) {
      const e = err as { code?: number; writeErrors?: Array<{ code?: number }> | { code?: number }; insertedCount?: number; result?: { insertedCount?: number } };
      const writeErrors = Array.isArray(e.writeErrors) ? e.writeErrors : e.writeErrors ? [e.writeErrors] : [];
      if (writeErrors.length > 0 && writeErrors.every((w) => w.code === 11000)) {
        const inserted = e.insertedCount ?? e.result?.insertedCount ?? docs.length - writeErrors.length;
        return { inserted, duplicates: writeErrors.length };
      }
      throw err;
    }
  }

  async featuresFor(symbol: string, interval = '1d'): Promise<FeatureDoc[]> {
    const docs = await this.db.collection(COLLECTIONS.features).find({ symbol, interval }).sort({ ts: 1 }).toArray();
    return docs as unknown as FeatureDoc[];
  }

  async symbolsWithFeatures(): Promise<string[]> {
    const all = (await this.db.collection(COLLECTIONS.features).distinct('symbol')) as string[];
    return all.sort();
  }

  async count(collection: string, filter: Document = {}): Promise<number> {
    return this.db.collection(collection).countDocuments(filter);
  }
}

/** Every stored feature vector (for training), without MongoDB's `_id`. */
export async function allFeatureDocs(db: Db): Promise<Array<FeatureVector & { eventId: string }>> {
  const docs = await db.collection(COLLECTIONS.features).find({}, { projection: { _id: 0, traceId: 0 } }).toArray();
  return docs as unknown as Array<FeatureVector & { eventId: string }>;
}
