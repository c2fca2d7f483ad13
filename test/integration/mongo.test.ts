/**
 * Real database: a document written before a database restart is read back after it, and the
 * loader's idempotent upserts and the model registry work on the MongoDB wire protocol.
 */
import * as assert from 'uvu/assert';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import { connectMongo, withDbRetry } from '@stock-mlops/platform';
import { Database, LatestStateStore } from '@stock-mlops/load';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { infraCtl } from '../../scripts/lib/infra.ts';
import { suite } from '../harness/index.ts';
import { requireInfra, uniqueId } from '../support/stack.ts';

const t = suite('mongodb (real server)', { timeoutMs: 120_000 });
const log = pino({ level: 'silent' });

t('a document written before a database restart is read back after it', async () => {
  const { MONGO_URL } = requireInfra();
  const dbName = uniqueId('m');
  const h = await connectMongo(MONGO_URL, dbName, log);
  try {
    await h.db.collection('probe').insertOne({ _id: 'k1' as never, value: 42, at: new Date().toISOString() });
    infraCtl('restart', 'mongo');
    // The same client reconnects on its own; retries bridge the restart.
    const doc = await withDbRetry(() => h.db.collection('probe').findOne({ _id: 'k1' as never }), { log, maxDelayMs: 1_000 });
    assert.is(doc?.value, 42);
    // A brand-new client sees it too.
    const fresh = new MongoClient(MONGO_URL);
    await fresh.connect();
    assert.is((await fresh.db(dbName).collection('probe').findOne({ _id: 'k1' as never }))?.value, 42);
    await fresh.close();
  } finally {
    await h.db.dropDatabase().catch(() => {});
    await h.close();
  }
});

t('an update command of 300 statements over existing documents is answered (FerretDB 1.24 held one connection per statement and hung past 100)', async () => {
  const { MONGO_URL } = requireInfra();
  // A short socket timeout turns a hang into a clear network-timeout error instead of a test timeout.
  const client = new MongoClient(MONGO_URL, { socketTimeoutMS: 30_000, serverSelectionTimeoutMS: 10_000 });
  const db = client.db(uniqueId('m'));
  try {
    const col = db.collection<{ _id: string; v: number }>('upserts');
    const upserts = (v: number) => Array.from({ length: 300 }, (_, i) => ({ updateOne: { filter: { _id: `k${i}` }, update: { $set: { v } }, upsert: true } }));
    const inserted = await col.bulkWrite(upserts(1), { ordered: false });
    assert.is(inserted.upsertedCount, 300);
    // A redelivered batch: every statement matches a stored document (what the loader does after a restart).
    const updated = await col.bulkWrite(upserts(2), { ordered: false });
    assert.is(updated.matchedCount, 300);
    // Concurrent commands on one database share its connection pool.
    const concurrent = await Promise.all([3, 4, 5, 6].map((v) => col.bulkWrite(upserts(v), { ordered: false })));
    assert.equal(concurrent.map((r) => r.matchedCount), [300, 300, 300, 300]);
    assert.is(await col.countDocuments({ v: { $gte: 3 } }), 300);
  } finally {
    await db.dropDatabase().catch(() => {});
    await client.close();
  }
});

t('upserts on natural keys are idempotent and the latest-state store keeps only the newest', async () => {
  const { MONGO_URL } = requireInfra();
  const h = await connectMongo(MONGO_URL, uniqueId('m'), log);
  try {
    const db = new Database(h.db);
    await db.ensureIndexes();
    const docs = [1, 2, 3].map((i) => ({ _id: `X|1d|2020-01-0${i}`, symbol: 'X', close: i }));
    const first = await db.insertIfAbsent('bars', docs);
    const second = await db.insertIfAbsent('bars', [...docs, { _id: 'X|1d|2020-01-04', symbol: 'X', close: 4 }]);
    assert.equal(first, { inserted: 3, duplicates: 0 });
    assert.equal(second, { inserted: 1, duplicates: 3 }, 'redelivered documents are recognised as duplicates');
    assert.is(await db.count('bars'), 4);
    const latest = new LatestStateStore(h.db);
    const bar = (ts: string, close: number) => ({ symbol: 'X', ts, value: { symbol: 'X', ts, close } as never });
    await latest.putNewest('bar', [bar('2020-01-02T00:00:00.000Z', 2), bar('2020-01-01T00:00:00.000Z', 1)]);
    await latest.putNewest('bar', [bar('2020-01-01T00:00:00.000Z', 1)]);
    const s = await latest.get('X');
    assert.is(s?.barTs, '2020-01-02T00:00:00.000Z', 'an older bar never overwrites a newer one');
    await latest.putNewest('bar', [bar('2020-01-03T00:00:00.000Z', 3)]);
    assert.is((await latest.get('X'))?.barTs, '2020-01-03T00:00:00.000Z');
  } finally {
    await h.db.dropDatabase().catch(() => {});
    await h.close();
  }
});

t('the model registry stores chunked artifacts, moves aliases and rolls back', async () => {
  const { MONGO_URL } = requireInfra();
  const h = await connectMongo(MONGO_URL, uniqueId('m'), log);
  try {
    const store = new ModelStore(h.db);
    await store.ensureIndexes();
    const weights = new Uint8Array(2.5 * 1024 * 1024).map((_, i) => i % 251);
    const base = {
      name: 'price',
      task: 'price' as const,
      metrics: { rmse: 1 },
      params: {},
      featureSchemaHash: 'abc',
      normalization: null,
      reference: null,
      dataWindow: null,
      lineage: {},
      gitSha: 'test',
    };
    const v1 = await store.register({ ...base, artifacts: { json: { a: 1 }, weights } });
    const v2 = await store.register({ ...base, artifacts: { json: { a: 2 }, weights: weights.slice(0, 10) } });
    assert.is(v1.version, 1);
    assert.is(v2.version, 2);
    const back = await store.loadArtifacts('price', 1);
    assert.is(back.weights.length, weights.length);
    assert.ok(back.weights.every((b, i) => b === weights[i]), 'weights round-trip byte for byte across chunks');
    assert.equal(back.json, { a: 1 });
    await store.setAlias('price', 'production', 1, 'first');
    await store.setAlias('price', 'production', 2, 'second');
    assert.is((await store.resolve('price@production')).version, 2);
    assert.is((await store.get('price', 1)).status, 'archived');
    const rb = await store.rollback('price', 'production', 'test rollback');
    assert.equal(rb, { from: 2, to: 1 });
    assert.is((await store.resolve('price')).version, 1);
    assert.is((await store.get('price', 1)).status, 'production');
    const err = await store.rollback('price').then(() => undefined, (e: unknown) => e as { code?: string });
    assert.is(err?.code, 'E_NO_PREVIOUS', 'a second rollback has nowhere to go');
  } finally {
    await h.db.dropDatabase().catch(() => {});
    await h.close();
  }
});

t.run();
