/**
 * Start-up and per-message database reads cost what they return, not what a collection holds.
 *
 * The real code paths that services run at start-up or per message (loader writes and
 * read-back after a restart, the latest-state store, the predictor's history checkpoints, model
 * loading, the transformer's state, the extractor's cursors, the monitor's restore) run against
 * the real server with command monitoring on. Every command they send is then judged:
 *   - on a collection that holds one document per key (symbol, provider|symbol, model alias…) or
 *     a pruned window, any read is bounded by that key space: allowed, and listed below with why;
 *   - anywhere else (the stream's collections: bars, features, predictions, …, and the registry's
 *     versions and artifacts) a read must be an `_id` equality lookup, and the server's own
 *     `explain` must confirm it: FerretDB's `filterPushdown` flag and an index in its backend's
 *     plan, or an `_id`/index plan on mongod.
 * A `$in`, a `{symbol}` filter, a `distinct` or a count on those collections fails the test.
 */
import * as assert from 'uvu/assert';
import { MongoClient, type CommandStartedEvent, type Db, type Document } from 'mongodb';
import pino from 'pino';
import type { FeatureVector, PricePrediction } from '@stock-mlops/contracts';
import { COLLECTIONS, Database, LatestStateStore, LruCache, featureKey, type FeatureDoc } from '@stock-mlops/load';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { PIPELINE_SCHEMA, SymbolPipeline } from '@stock-mlops/transform';
import { mongoCheckpointStore } from '../../services/predictor/src/checkpoint_store.ts';
import { STATE_COLLECTION, StateStore } from '../../services/transformer/src/state_store.ts';
import { createMongoCursorStore, CURSOR_COLLECTION } from '@stock-mlops/extract/mongo_cursor_store';
import { MONITOR_COLLECTIONS, MonitorStore } from '../../services/monitor/src/store.ts';
import { suite } from '../harness/index.ts';
import { promote, randomPriceModel } from '../support/predictor/fixtures.ts';
import { requireInfra, uniqueId } from '../support/stack.ts';

const t = suite('query cost: start-up and per-message reads', { timeoutMs: 180_000 });
const log = pino({ level: 'silent' });

/** Collections whose size is bounded by a key space or a pruned window, not by the stream. */
const BOUNDED: Record<string, string> = {
  [COLLECTIONS.latest]: 'one document per symbol',
  [COLLECTIONS.predictorHistory]: 'one checkpoint per symbol',
  [STATE_COLLECTION]: 'one state per symbol',
  [CURSOR_COLLECTION]: 'one cursor per provider and symbol',
  model_aliases: 'one document per model and alias',
  model_counters: 'one counter per model',
  ...Object.fromEntries(Object.values(MONITOR_COLLECTIONS).map((c) => [c, "the monitor's pruned windows"])),
};
const READS = new Set(['find', 'count', 'distinct', 'aggregate']);

interface Seen {
  name: string;
  collection: string;
  filter: Document | undefined;
  command: Document;
}

function fv(symbol: string, i: number): FeatureVector {
  return {
    symbol,
    interval: '1d',
    ts: new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString(),
    close: 100 + i,
    schemaVersion: PIPELINE_SCHEMA.version,
    schemaHash: PIPELINE_SCHEMA.hash,
    values: Array.from({ length: 4 }, (_, j) => i + j / 10),
  };
}

function recorder(client: MongoClient, dbName: string): { seen: Seen[] } {
  const seen: Seen[] = [];
  client.on('commandStarted', (e: CommandStartedEvent) => {
    if (e.databaseName !== dbName) return;
    const c = e.command;
    const name = e.commandName;
    const collection = String(c[name] ?? '');
    if (READS.has(name)) seen.push({ name, collection, filter: (c.filter ?? c.query) as Document | undefined, command: c });
    else if (name === 'update' || name === 'delete') {
      for (const s of (c.updates ?? c.deletes ?? []) as Array<{ q: Document }>) seen.push({ name, collection, filter: s.q, command: c });
    }
  });
  return { seen };
}

const isIdEquality = (f: Document | undefined): boolean => !!f && Object.keys(f).length === 1 && ['string', 'number'].includes(typeof f._id);

/**
 * The server's word that an `_id` lookup reads only the matching document. On FerretDB,
 * `filterPushdown` alone is not enough: 1.24's SQLite backend pushed `_id` equality down with an
 * expression its `_id` index did not match, and the plan said `SCAN` (each lookup read the whole
 * table; scripts/infra/ferretdb/ patches that). So the backend's own plan must use an index too.
 */
async function confirmedByExplain(db: Db, s: Seen): Promise<string | undefined> {
  const e = await db.command({ explain: { find: s.collection, filter: s.filter }, verbosity: 'queryPlanner' });
  if (typeof e.filterPushdown === 'boolean') {
    if (!e.filterPushdown) return 'FerretDB did not push the filter down';
    const plan = JSON.stringify(e.queryPlanner?.Plan ?? {});
    return /USING (COVERING )?INDEX|Index Scan|Index Only Scan/.test(plan) ? undefined : `FerretDB's backend plan reads the table: ${plan.slice(0, 200)}`;
  }
  const plan = JSON.stringify(e.queryPlanner?.winningPlan ?? {});
  return /IDHACK|EXPRESS|IXSCAN/.test(plan) ? undefined : `plan ${plan.slice(0, 200)}`;
}

t('every read the services issue at start-up or per message is bounded or an _id lookup the server pushes down', async () => {
  const { MONGO_URL } = requireInfra();
  const dbName = uniqueId('qc').slice(0, 40);
  const client = new MongoClient(MONGO_URL, { monitorCommands: true });
  await client.connect();
  const db = client.db(dbName);
  const { seen } = recorder(client, dbName);
  try {
    // Stream-sized collections with other symbols' documents already in them.
    const other: FeatureDoc[] = Array.from({ length: 300 }, (_, i) => ({ ...fv(`OTHER${i % 7}`, i), _id: featureKey(fv(`OTHER${i % 7}`, i)), eventId: `o${i}` }));
    await db.collection(COLLECTIONS.features).insertMany(other as never[]);

    // Loader: first write, then the same batch redelivered to a restarted loader (no memory of its writes).
    const batch = Array.from({ length: 40 }, (_, i) => ({ ...fv('AAA', i), _id: featureKey(fv('AAA', i)), eventId: `e${i}` }));
    await new Database(db, new LruCache(1000)).upsertMany(COLLECTIONS.features, batch);
    await new Database(db, new LruCache(1000)).upsertMany(COLLECTIONS.features, batch);
    await new Database(db).insertIfAbsent(COLLECTIONS.bars, [{ _id: 'AAA|1d|x', symbol: 'AAA' }]);

    // Latest-state store: the loader's per-batch write, the request path's read, the predictor's start-up.
    const latest = new LatestStateStore(db);
    const prediction = { symbol: 'AAA', interval: '1d', asOf: batch[39]!.ts } as unknown as PricePrediction;
    await latest.putNewest('features', [{ symbol: 'AAA', ts: batch[39]!.ts, value: fv('AAA', 39) }]);
    await latest.putNewest('prediction', [{ symbol: 'AAA', ts: batch[39]!.ts, value: prediction }]);
    await latest.get('AAA');
    assert.is((await latest.allPredictions()).length, 1);

    // Predictor: history checkpoints (per batch and at start-up), then loading the production model.
    const checkpoints = mongoCheckpointStore(db);
    await checkpoints.save([{ symbol: 'AAA', vectors: batch.slice(-20).map(({ _id, eventId, ...v }) => v) }]);
    assert.is((await checkpoints.load(['AAA', 'BBB'])).get('AAA')?.length, 20);
    assert.is((await checkpoints.loadAll()).length, 1);
    const store = new ModelStore(db);
    const version = await promote(store, 'price', await (await randomPriceModel(3)).serialize());
    const alias = await store.getAlias('price', 'production');
    assert.is(alias?.version, version);
    const v = await store.get('price', version);
    assert.is(v.version, version);
    assert.ok((await store.loadArtifacts('price', version)).weights.byteLength > 0);

    // Transformer state per symbol; extractor cursors; the monitor's restore.
    const states = new StateStore(db, log);
    const held = await states.load('AAA', () => SymbolPipeline.create('AAA'));
    await states.save([['AAA', held]]);
    await states.pendingOn([0]);
    const cursors = createMongoCursorStore(db);
    await cursors.set('csv-replay', 'AAA', { cursor: '2020-01-01' });
    assert.is((await cursors.get('csv-replay', 'AAA'))?.cursor, '2020-01-01');
    await new MonitorStore(db).load({ maxBarsPerSeries: 10, driftWindow: 10 });

    // Judge every command.
    const problems: string[] = [];
    const judged = new Set<string>();
    for (const s of seen) {
      if (BOUNDED[s.collection]) continue;
      const what = `${s.name} on ${s.collection} ${JSON.stringify(s.filter ?? {}).slice(0, 160)}`;
      if (s.name !== 'find' && s.name !== 'update' && s.name !== 'delete') {
        problems.push(`${what}: a ${s.name} reads the whole collection`);
        continue;
      }
      if (!isIdEquality(s.filter)) {
        problems.push(`${what}: not an _id equality lookup`);
        continue;
      }
      if (s.name === 'find' && !judged.has(s.collection)) {
        judged.add(s.collection);
        const why = await confirmedByExplain(db, s);
        if (why) problems.push(`${what}: ${why}`);
      }
    }
    assert.ok(seen.some((s) => s.collection === COLLECTIONS.features && s.name === 'find'), 'the redelivered batch was read back');
    assert.ok(judged.has('model_artifacts') && judged.has('model_versions'), 'model loading was judged');
    assert.equal(problems, [], problems.join('\n'));
  } finally {
    await db.dropDatabase().catch(() => {});
    await client.close();
  }
});

t('the judge itself fails the read shapes that scan: $in, a symbol filter, distinct, count', async () => {
  const { MONGO_URL } = requireInfra();
  const dbName = uniqueId('qcneg').slice(0, 40);
  const client = new MongoClient(MONGO_URL, { monitorCommands: true });
  await client.connect();
  const db = client.db(dbName);
  const { seen } = recorder(client, dbName);
  try {
    const col = db.collection(COLLECTIONS.features);
    await col.insertMany([{ _id: 'a', symbol: 'A' }, { _id: 'b', symbol: 'B' }] as never[]);
    await col.find({ _id: { $in: ['a', 'b'] } } as never).toArray();
    await col.find({ symbol: 'A' }).sort({ ts: -1 }).limit(1).toArray();
    await col.distinct('symbol');
    await col.countDocuments();
    const flagged = seen.filter((s) => !BOUNDED[s.collection] && (s.name !== 'find' || !isIdEquality(s.filter)));
    assert.is(flagged.length, 4, JSON.stringify(seen.map((s) => s.name)));
    // And the server confirms that an `_id` lookup, and only it, is pushed down to an index.
    assert.is(await confirmedByExplain(db, { name: 'find', collection: COLLECTIONS.features, filter: { _id: 'a' }, command: {} }), undefined);
    assert.ok(await confirmedByExplain(db, { name: 'find', collection: COLLECTIONS.features, filter: { symbol: 'A' }, command: {} }));
  } finally {
    await db.dropDatabase().catch(() => {});
    await client.close();
  }
});

t.run();
