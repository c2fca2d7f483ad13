/**
 * Feature schemas stored once per hash. Feature vectors on the features topic carry the schema
 * hash and the values, not the names (docs/api.md); the transformer stores its schema here (and
 * on the compacted `stock.schemas.v1` topic) before it produces any vector, and every consumer
 * resolves a hash it does not know through a `FeatureSchemaResolver` before it uses the values.
 * A vector whose hash cannot be resolved, or whose value count differs from its schema's names,
 * is rejected with a code and a reason (the consumer dead-letters it).
 */
import type { Db } from 'mongodb';
import { FeatureSchemaRecord, type FeatureVector } from '@stock-mlops/contracts';
import { COLLECTIONS } from './database.ts';
import { LruCache } from './lru.ts';

/** Where unknown hashes are looked up (MongoDB in the services, a fake in unit tests). */
export interface FeatureSchemaSource {
  get(hash: string): Promise<FeatureSchemaRecord | undefined>;
}

/** The `feature_schemas` collection: one document per hash (`_id` = the hash). */
export class FeatureSchemaStore implements FeatureSchemaSource {
  constructor(private readonly db: Db) {}

  /** Idempotent: the same hash always names the same schema. */
  async put(record: FeatureSchemaRecord): Promise<void> {
    const r = FeatureSchemaRecord.parse(record);
    await this.db.collection<{ _id: string }>(COLLECTIONS.featureSchemas).replaceOne({ _id: r.schemaHash }, { ...r }, { upsert: true });
  }

  /** The stored schema of a hash; undefined when there is none (or the document is not a valid schema). */
  async get(hash: string): Promise<FeatureSchemaRecord | undefined> {
    const d = await this.db.collection<{ _id: string }>(COLLECTIONS.featureSchemas).findOne({ _id: hash }, { projection: { _id: 0 } });
    const r = FeatureSchemaRecord.safeParse(d);
    return r.success && r.data.schemaHash === hash ? r.data : undefined;
  }
}

/** Schemas by hash, cached (a schema never changes under its hash); unknown hashes are looked up in the source. */
export class FeatureSchemaResolver {
  private readonly cache: LruCache<FeatureSchemaRecord>;

  constructor(
    private readonly source: FeatureSchemaSource,
    maxEntries = 256,
  ) {
    this.cache = new LruCache(maxEntries, Number.POSITIVE_INFINITY);
  }

  /** A schema already resolved by this process. */
  known(hash: string): FeatureSchemaRecord | undefined {
    return this.cache.get(hash);
  }

  /** Looks up the hashes not cached yet (each once); the source's errors propagate (retry the batch). */
  async resolve(hashes: Iterable<string>): Promise<void> {
    const missing = [...new Set(hashes)].filter((h) => this.cache.get(h) === undefined);
    const found = await Promise.all(missing.map((h) => this.source.get(h)));
    for (const r of found) if (r) this.cache.set(r.schemaHash, r);
  }
}

export type SchemaCheck = { ok: true; names: readonly string[] } | { ok: false; code: 'E_UNKNOWN_SCHEMA' | 'E_SCHEMA_WIDTH'; reason: string };

/**
 * The names of a vector's values: its own names when it carries them (vectors written before
 * schemas were stored once, or by external producers), else its resolved schema's.
 */
export function checkFeatureVector(fv: Pick<FeatureVector, 'schemaHash' | 'names' | 'values'>, resolver: FeatureSchemaResolver): SchemaCheck {
  if (fv.names) return { ok: true, names: fv.names };
  const schema = resolver.known(fv.schemaHash);
  if (!schema) return { ok: false, code: 'E_UNKNOWN_SCHEMA', reason: `unknown feature schema ${fv.schemaHash}: not in ${COLLECTIONS.featureSchemas} (a producer publishes its schema to stock.schemas.v1 before its vectors)` };
  if (schema.names.length !== fv.values.length) {
    return { ok: false, code: 'E_SCHEMA_WIDTH', reason: `feature schema ${fv.schemaHash} has ${schema.names.length} names, the vector ${fv.values.length} values` };
  }
  return { ok: true, names: schema.names };
}

export interface ResolveBatchOptions<T> {
  data: (item: T) => Pick<FeatureVector, 'schemaHash' | 'names' | 'values'>;
  /** Called once per rejected item (the consumer dead-letters it). */
  reject: (item: T, code: string, reason: string) => void;
  /** Wraps the lookups (e.g. withDbRetry); default: called once. */
  retry?: <R>(fn: () => Promise<R>) => Promise<R>;
}

/**
 * Resolves the unknown hashes of a batch of feature vectors, then keeps the items whose names are
 * known (with them) and rejects the others. Lookups happen before any item is rejected, so a
 * retried lookup never rejects an item twice.
 */
export async function resolveFeatureBatch<T>(batch: readonly T[], resolver: FeatureSchemaResolver, opts: ResolveBatchOptions<T>): Promise<Array<{ item: T; names: readonly string[] }>> {
  const unknown = batch.map(opts.data).filter((d) => !d.names && !resolver.known(d.schemaHash)).map((d) => d.schemaHash);
  if (unknown.length > 0) await (opts.retry ?? ((fn) => fn()))(() => resolver.resolve(unknown));
  const kept: Array<{ item: T; names: readonly string[] }> = [];
  for (const item of batch) {
    const c = checkFeatureVector(opts.data(item), resolver);
    if (c.ok) kept.push({ item, names: c.names });
    else opts.reject(item, c.code, c.reason);
  }
  return kept;
}
