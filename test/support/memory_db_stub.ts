/**
 * A stub of the few MongoDB calls the model registry makes (`ModelStore`), in memory, for unit
 * tests of registry logic without a database: equality filters, `$set`/`$inc`, upsert, projections
 * that drop fields. Not a MongoDB: anything else throws.
 */
import type { Db } from 'mongodb';

type Doc = Record<string, unknown>;

const matches = (doc: Doc, filter: Doc): boolean =>
  Object.entries(filter).every(([k, v]) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) throw new Error(`memory db stub: unsupported filter on ${k}`);
    return doc[k] === v;
  });

function applyUpdate(doc: Doc, update: Doc): Doc {
  const out = { ...doc };
  for (const [op, fields] of Object.entries(update)) {
    for (const [k, v] of Object.entries(fields as Doc)) {
      if (op === '$set') out[k] = v;
      else if (op === '$inc') out[k] = ((out[k] as number | undefined) ?? 0) + (v as number);
      else throw new Error(`memory db stub: unsupported update ${op}`);
    }
  }
  return out;
}

function project(doc: Doc, projection?: Doc): Doc {
  const out = structuredClone(doc);
  for (const [k, v] of Object.entries(projection ?? {})) if (v === 0) delete out[k];
  return out;
}

class CollectionStub {
  readonly docs = new Map<unknown, Doc>();

  private all(filter: Doc): Doc[] {
    return [...this.docs.values()].filter((d) => matches(d, filter));
  }

  async createIndex(): Promise<string> {
    return 'stub';
  }

  async insertOne(doc: Doc) {
    if (this.docs.has(doc._id)) throw Object.assign(new Error('duplicate key'), { code: 11000 });
    this.docs.set(doc._id, structuredClone(doc));
    return { acknowledged: true, insertedId: doc._id };
  }

  async insertMany(docs: Doc[]) {
    for (const d of docs) await this.insertOne(d);
    return { acknowledged: true, insertedCount: docs.length };
  }

  async findOne(filter: Doc, opts: { projection?: Doc } = {}) {
    const d = this.all(filter)[0];
    return d ? project(d, opts.projection) : null;
  }

  find(filter: Doc, opts: { projection?: Doc } = {}) {
    const docs = this.all(filter).map((d) => project(d, opts.projection));
    return { toArray: async () => docs };
  }

  async updateOne(filter: Doc, update: Doc, opts: { upsert?: boolean } = {}) {
    const cur = this.all(filter)[0];
    if (cur) {
      this.docs.set(cur._id, applyUpdate(cur, update));
      return { matchedCount: 1, modifiedCount: 1, upsertedCount: 0 };
    }
    if (!opts.upsert) return { matchedCount: 0, modifiedCount: 0, upsertedCount: 0 };
    const doc = applyUpdate({ ...filter }, update);
    this.docs.set(doc._id, doc);
    return { matchedCount: 0, modifiedCount: 0, upsertedCount: 1 };
  }

  async findOneAndUpdate(filter: Doc, update: Doc, opts: { upsert?: boolean } = {}) {
    await this.updateOne(filter, update, opts);
    return this.findOne(filter);
  }

  async deleteOne(filter: Doc) {
    const cur = this.all(filter)[0];
    if (cur) this.docs.delete(cur._id);
    return { acknowledged: true, deletedCount: cur ? 1 : 0 };
  }

  async deleteMany(filter: Doc) {
    const gone = this.all(filter);
    for (const d of gone) this.docs.delete(d._id);
    return { acknowledged: true, deletedCount: gone.length };
  }
}

/** An in-memory stand-in for `Db`, enough for `new ModelStore(db)`. */
export function memoryDbStub(): Db {
  const collections = new Map<string, CollectionStub>();
  return {
    collection(name: string) {
      let c = collections.get(name);
      if (!c) collections.set(name, (c = new CollectionStub()));
      return c;
    },
  } as unknown as Db;
}
