import * as assert from 'uvu/assert';
import { FeatureSchemaRecord, type FeatureVector } from '@stock-mlops/contracts';
import { checkFeatureVector, FeatureSchemaResolver, resolveFeatureBatch, type FeatureSchemaSource } from '@stock-mlops/load';
import { suite } from '../../harness/index.ts';

const t = suite('load/feature_schemas: resolving feature schema hashes');

const A: FeatureSchemaRecord = { schemaHash: 'a'.repeat(64), schemaVersion: '1.0.0', names: ['x', 'y', 'z'] };
const B: FeatureSchemaRecord = { schemaHash: 'b'.repeat(64), schemaVersion: '2.0.0', names: ['p', 'q'] };
const UNKNOWN = 'c'.repeat(64);

/** A source over a map that counts its lookups and can fail. */
function fakeSource(records: FeatureSchemaRecord[]) {
  const byHash = new Map(records.map((r) => [r.schemaHash, r]));
  const calls: string[] = [];
  let failures = 0;
  const source: FeatureSchemaSource & { calls: string[]; failNext: (n: number) => void } = {
    calls,
    failNext: (n) => (failures = n),
    get: async (hash) => {
      calls.push(hash);
      if (failures > 0) {
        failures--;
        throw new Error('database down');
      }
      return byHash.get(hash);
    },
  };
  return source;
}

const fv = (schemaHash: string, values: number[], names?: string[]): Pick<FeatureVector, 'schemaHash' | 'names' | 'values'> => ({ schemaHash, values, ...(names ? { names } : {}) });

t('the contract record type accepts a schema and rejects one without names or with a bad hash', () => {
  assert.ok(FeatureSchemaRecord.safeParse(A).success);
  assert.not.ok(FeatureSchemaRecord.safeParse({ ...A, names: [] }).success, 'no names');
  assert.not.ok(FeatureSchemaRecord.safeParse({ ...A, schemaHash: 'not-a-hash' }).success, 'bad hash');
  assert.not.ok(FeatureSchemaRecord.safeParse({ ...A, extra: 1 }).success, 'strict');
});

t('a batch resolves each unknown hash once, caches it, and keeps the names in order', async () => {
  const source = fakeSource([A, B]);
  const resolver = new FeatureSchemaResolver(source);
  const rejected: Array<[number, string, string]> = [];
  const batch = [fv(A.schemaHash, [1, 2, 3]), fv(B.schemaHash, [4, 5]), fv(A.schemaHash, [6, 7, 8])];
  const kept = await resolveFeatureBatch(batch, resolver, { data: (x) => x, reject: (x, code, reason) => rejected.push([batch.indexOf(x), code, reason]) });
  assert.equal(rejected, []);
  assert.equal(kept.map((k) => k.names), [A.names, B.names, A.names]);
  assert.equal(source.calls.sort(), [A.schemaHash, B.schemaHash], 'one lookup per hash');
  await resolveFeatureBatch(batch, resolver, { data: (x) => x, reject: () => assert.unreachable('nothing rejected') });
  assert.is(source.calls.length, 2, 'known hashes are not looked up again');
});

t('an unknown hash is rejected with E_UNKNOWN_SCHEMA and a reason naming it; the rest of the batch goes on', async () => {
  const resolver = new FeatureSchemaResolver(fakeSource([A]));
  const batch = [fv(A.schemaHash, [1, 2, 3]), fv(UNKNOWN, [1]), fv(A.schemaHash, [4, 5, 6])];
  const rejected: Array<{ i: number; code: string; reason: string }> = [];
  const kept = await resolveFeatureBatch(batch, resolver, { data: (x) => x, reject: (x, code, reason) => rejected.push({ i: batch.indexOf(x), code, reason }) });
  assert.equal(kept.map((k) => batch.indexOf(k.item)), [0, 2]);
  assert.is(rejected.length, 1);
  assert.is(rejected[0]!.i, 1);
  assert.is(rejected[0]!.code, 'E_UNKNOWN_SCHEMA');
  assert.match(rejected[0]!.reason, UNKNOWN);
});

t('a hash published later is resolved on a later batch (unknown hashes are not cached)', async () => {
  const records: FeatureSchemaRecord[] = [];
  const source: FeatureSchemaSource = { get: async (h) => records.find((r) => r.schemaHash === h) };
  const resolver = new FeatureSchemaResolver(source);
  const reject: string[] = [];
  assert.is((await resolveFeatureBatch([fv(B.schemaHash, [1, 2])], resolver, { data: (x) => x, reject: (_x, code) => reject.push(code) })).length, 0);
  records.push(B);
  assert.is((await resolveFeatureBatch([fv(B.schemaHash, [1, 2])], resolver, { data: (x) => x, reject: (_x, code) => reject.push(code) })).length, 1);
  assert.equal(reject, ['E_UNKNOWN_SCHEMA']);
});

t('a value count that differs from the schema is E_SCHEMA_WIDTH; a vector that carries its names needs no lookup', async () => {
  const source = fakeSource([A]);
  const resolver = new FeatureSchemaResolver(source);
  await resolver.resolve([A.schemaHash]);
  const bad = checkFeatureVector(fv(A.schemaHash, [1, 2]), resolver);
  assert.ok(!bad.ok && bad.code === 'E_SCHEMA_WIDTH' && /3 names, the vector 2 values/.test(bad.reason));
  const before = source.calls.length;
  const kept = await resolveFeatureBatch([fv(UNKNOWN, [1, 2], ['u', 'v'])], resolver, { data: (x) => x, reject: () => assert.unreachable('self-describing vector') });
  assert.equal(kept[0]!.names, ['u', 'v']);
  assert.is(source.calls.length, before, 'no lookup');
});

t('a failing lookup propagates (the batch is retried), through the retry wrapper, and rejects nothing twice', async () => {
  const source = fakeSource([A]);
  const resolver = new FeatureSchemaResolver(source);
  source.failNext(1);
  const batch = [fv(A.schemaHash, [1, 2, 3]), fv(UNKNOWN, [1])];
  const rejected: string[] = [];
  const err = await resolveFeatureBatch(batch, resolver, { data: (x) => x, reject: (_x, code) => rejected.push(code) }).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.match(err?.message ?? 'resolved', /database down/);
  assert.equal(rejected, [], 'nothing rejected while the lookup failed');
  source.failNext(2);
  let attempts = 0;
  const retry = async <R>(fn: () => Promise<R>): Promise<R> => {
    for (;;) {
      attempts++;
      try {
        return await fn();
      } catch (err) {
        if (attempts > 5) throw err;
      }
    }
  };
  const kept = await resolveFeatureBatch(batch, resolver, { data: (x) => x, reject: (_x, code) => rejected.push(code), retry });
  assert.ok(attempts >= 2, `retried (${attempts} attempts)`);
  assert.is(kept.length, 1);
  assert.equal(rejected, ['E_UNKNOWN_SCHEMA'], 'rejected once, after the lookup succeeded');
});

t.run();
