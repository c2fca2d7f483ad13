import * as assert from 'uvu/assert';
import { LatestStateReader, LruCache, type LatestState } from '@stock-mlops/load';
import { suite } from '../../harness/index.ts';

const t = suite('load/cache');

t('LruCache evicts the least recently used entry beyond its size', () => {
  const c = new LruCache<number>(2, 1_000);
  c.set('a', 1, 0);
  c.set('b', 2, 0);
  assert.is(c.get('a', 1), 1, 'a is now the most recent');
  c.set('c', 3, 2);
  assert.is(c.get('b', 3), undefined, 'b was the least recent: evicted');
  assert.is(c.get('a', 3), 1);
  assert.is(c.get('c', 3), 3);
  assert.is(c.size, 2);
});

t('LruCache entries expire after the time-to-live; set refreshes them', () => {
  const c = new LruCache<string>(10, 100);
  c.set('k', 'v1', 0);
  assert.is(c.get('k', 100), 'v1', 'still valid at exactly the TTL');
  assert.is(c.get('k', 101), undefined, 'expired after it');
  assert.is(c.size, 0, 'an expired entry is dropped');
  c.set('k', 'v2', 200);
  assert.is(c.get('k', 250), 'v2');
});

function fakeStore(values: Record<string, LatestState | null>) {
  const calls: string[] = [];
  let fail = false;
  return {
    calls,
    failNext: () => (fail = true),
    get: async (symbol: string) => {
      calls.push(symbol);
      await new Promise((r) => setTimeout(r, 5));
      if (fail) {
        fail = false;
        throw Object.assign(new Error('db down'), { code: 'E_DB' });
      }
      return values[symbol] ?? null;
    },
  };
}

const state = (symbol: string, barTs: string): LatestState => ({ _id: symbol, symbol, barTs, updatedAt: barTs });

t('LatestStateReader serves repeated reads from memory within the TTL, then reads again', async () => {
  let now = 0;
  const store = fakeStore({ AAPL: state('AAPL', '2020-01-02T00:00:00.000Z') });
  const reader = new LatestStateReader(store, { ttlMs: 1_000, now: () => now });
  assert.is((await reader.get('AAPL'))?.barTs, '2020-01-02T00:00:00.000Z');
  await reader.get('AAPL');
  now = 999;
  await reader.get('AAPL');
  assert.equal(store.calls, ['AAPL'], 'one database read within the TTL');
  now = 1_500;
  await reader.get('AAPL');
  assert.equal(store.calls, ['AAPL', 'AAPL'], 'read again after it');
});

t('LatestStateReader caches unknown symbols, shares concurrent misses and never caches errors', async () => {
  const store = fakeStore({});
  const reader = new LatestStateReader(store, { ttlMs: 60_000 });
  const [a, b, c] = await Promise.all([reader.get('ZZZ'), reader.get('ZZZ'), reader.get('ZZZ')]);
  assert.equal([a, b, c], [null, null, null]);
  assert.equal(store.calls, ['ZZZ'], 'three concurrent misses, one read');
  await reader.get('ZZZ');
  assert.is(store.calls.length, 1, 'a miss is cached too');
  store.failNext();
  const err = await reader.get('MSFT').then(() => undefined, (e: unknown) => e);
  assert.is((err as { code?: string } | undefined)?.code, 'E_DB', 'the read error reaches the caller');
  assert.is(await reader.get('MSFT'), null, 'the failure was not cached: the next call reads again');
  assert.equal(store.calls, ['ZZZ', 'MSFT', 'MSFT']);
});

t.run();
