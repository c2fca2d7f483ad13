import * as assert from 'uvu/assert';
import { LruCache } from '@stock-mlops/load';
import { suite } from '../../harness/index.ts';

const t = suite('load/lru');

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

t.run();
