import { createHash } from 'node:crypto';
import type { AnyBulkWriteOperation, Collection, Db, Document, Filter } from 'mongodb';
import type {
  CleanFinancialFact,
  CleanNewsArticle,
  CleanPriceBar,
  FeatureVector,
  PricePrediction,
  SentimentPrediction,
} from '@stock-mlops/contracts';
import type { LruCache } from './lru.ts';

/**
 * MongoDB collections of the pipeline, each keyed by its natural key as `_id` (the unique index
 * every MongoDB-wire server has), so a replay or a redelivery can never create a second
 * document for the same bar, vector, prediction, article or fact. Documents are flat (FerretDB
 * 1.x: no nested arrays, no NaN, no `$`/`.` keys).
 *
 * Writes are unordered bulk inserts that treat existing keys specially (`upsertMany`,
 * `insertIfAbsent`) rather than per-document upserts: FerretDB 1.x (SQLite) resolves every
 * filter — `_id` included — by scanning the collection (measured: a findOne by `_id` ≈ 240 ms at
 * 5,000 feature documents), while an insert checks uniqueness in the `_id` index.
 */
export const COLLECTIONS = {
  bars: 'bars',
  features: 'features',
  predictions: 'price_predictions',
  /** The challenger's shadow predictions (topic `pricePredictionsShadow`), keyed like `predictions`. */
  shadowPredictions: 'price_predictions_shadow',
  sentiment: 'sentiment_predictions',
  news: 'news',
  financials: 'financial_facts',
  latest: 'latest_state',
  /** The predictor's checkpoint of each symbol's newest feature vectors (services/predictor/src/history_checkpoint.ts). */
  predictorHistory: 'predictor_history',
  /** Feature schemas (names, version) by hash, written by the transformer at startup (feature_schemas.ts). */
  featureSchemas: 'feature_schemas',
} as const;

/** Natural key of a bar and of its feature vector: (symbol, interval, bar start time). */
export const barKey = (b: { symbol: string; interval: string; ts: string }) => `${b.symbol}|${b.interval}|${b.ts}`;
export const featureKey = barKey;
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

export interface UpsertResult {
  inserted: number;
  /** Already stored with the same content. */
  unchanged: number;
  /** Already stored with other content, replaced. */
  replaced: number;
}

const DUPLICATE_KEY = 11000;

/** insertMany, unordered; returns the documents whose `_id` already existed. Any other write error throws. */
async function insertNew<T extends { _id: string }>(col: Collection<{ _id: string }>, docs: readonly T[]): Promise<T[]> {
  try {
    await col.insertMany(docs.map((d) => ({ ...d })), { ordered: false });
    return [];
  } catch (err) {
    const writeErrors = (err as { writeErrors?: Array<{ index: number; code?: number }> | { index: number; code?: number } }).writeErrors;
    const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
    if (list.length === 0 || list.some((w) => w.code !== DUPLICATE_KEY)) throw err;
    return list.map((w) => docs[w.index] as T);
  }
}

/** Compares a stored document with a new one, key order and trace id (differs between replays) ignored. */
function sameContent(stored: Document | undefined, next: Document): boolean {
  return stored !== undefined && stableJson(stored) === stableJson(next);
}

/** Content fingerprint of a document this process writes (trace id excluded, key order normalised). */
function fingerprint(doc: Document): string {
  return createHash('sha1').update(stableJson(doc)).digest('base64');
}

function stableJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(stableJson).join(',')}]`;
  if (x !== null && typeof x === 'object') {
    const keys = Object.keys(x).filter((k) => k !== 'traceId').sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson((x as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(x) ?? 'null';
}

export class Database {
  /**
   * Optional memory of what this process last wrote per `collection|_id` (a fingerprint of the
   * content): a redelivered document whose fingerprint matches needs no read-back. Owned keys
   * only — clear it when ownership may have moved (a consumer-group rebalance).
   */
  constructor(
    readonly db: Db,
    private readonly written?: LruCache<string>,
  ) {}

  /** Forget remembered writes (after a rebalance another instance may have written these keys). */
  forgetWrites(): void {
    this.written?.clear();
  }

  collection<T extends Document>(name: (typeof COLLECTIONS)[keyof typeof COLLECTIONS]): Collection<T> {
    return this.db.collection<T>(name);
  }

  async ensureIndexes(): Promise<void> {
    await this.db.collection(COLLECTIONS.bars).createIndex({ symbol: 1, ts: 1 });
    await this.db.collection(COLLECTIONS.features).createIndex({ symbol: 1, ts: 1 });
    await this.db.collection(COLLECTIONS.predictions).createIndex({ symbol: 1, asOf: 1 });
    await this.db.collection(COLLECTIONS.shadowPredictions).createIndex({ symbol: 1, asOf: 1 });
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

  /**
   * Idempotent upsert by `_id`, last write wins: keep the last copy of each `_id` in the batch →
   * unordered insertMany → for the keys that already existed, one read of those documents and a
   * replace of only the ones whose content differs (`traceId` ignored). Replays and
   * redeliveries (same key, same content: the pipeline is deterministic) cost one indexed insert
   * each plus one read per batch; a changed document (e.g. features recomputed under a new
   * feature schema) is still replaced, which `insertIfAbsent` would not do.
   */
  async upsertMany<T extends { _id: string }>(collection: string, docs: readonly T[]): Promise<UpsertResult> {
    const byId = new Map<string, T>();
    for (const d of docs) {
      byId.delete(d._id);
      byId.set(d._id, d);
    }
    const unique = [...byId.values()];
    if (unique.length === 0) return { inserted: 0, unchanged: 0, replaced: 0 };
    const col = this.db.collection<{ _id: string }>(collection);
    const fingerprints = this.written ? new Map(unique.map((d) => [d._id, fingerprint(d)])) : undefined;
    const remember = (ds: readonly T[]) => {
      if (fingerprints) for (const d of ds) this.written!.set(`${collection}|${d._id}`, fingerprints.get(d._id)!);
    };
    const existing = await insertNew(col, unique);
    // Keys this process wrote with the same content need no read-back.
    const unsure = fingerprints ? existing.filter((d) => this.written!.get(`${collection}|${d._id}`) !== fingerprints.get(d._id)) : existing;
    let changed: T[] = [];
    if (unsure.length > 0) {
      const stored = await readByIds(col, unsure.map((d) => d._id));
      changed = unsure.filter((d) => !sameContent(stored.get(d._id), d));
    }
    if (changed.length > 0) {
      // upsert: a key deleted between the insert and the read is created again.
      const ops: AnyBulkWriteOperation<{ _id: string }>[] = changed.map((d) => ({ replaceOne: { filter: { _id: d._id }, replacement: { ...d }, upsert: true } }));
      await col.bulkWrite(ops, { ordered: false });
    }
    remember(unique);
    return { inserted: unique.length - existing.length, unchanged: existing.length - changed.length, replaced: changed.length };
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
/** How many `_id` lookups of one read-back run at once. */
const READ_BACK_CONCURRENCY = 16;

/**
 * The stored documents of these keys, one `_id` equality lookup each (a bounded number in
 * flight). Not one `{_id: {$in: keys}}`: FerretDB does not push `$in` down and scans the whole
 * collection for it (12 s for 500 keys at 20k documents, measured), while `_id` equality is an
 * index lookup on every backend; the read then costs what it returns.
 */
export async function readByIds<T extends { _id: string }>(col: Collection<T>, ids: readonly string[]): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  for (let i = 0; i < ids.length; i += READ_BACK_CONCURRENCY) {
    const docs = await Promise.all(ids.slice(i, i + READ_BACK_CONCURRENCY).map((id) => col.findOne({ _id: id } as Filter<T>)));
    for (const d of docs) if (d) out.set(d._id, d as T);
  }
  return out;
}

export async function allFeatureDocs(db: Db): Promise<Array<FeatureVector & { eventId: string }>> {
  const docs = await db.collection(COLLECTIONS.features).find({}, { projection: { _id: 0, traceId: 0 } }).toArray();
  return docs as unknown as Array<FeatureVector & { eventId: string }>;
}
