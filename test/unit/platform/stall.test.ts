/** Consumer liveness (packages/platform/src/kafka/stall.ts): when an idle member counts as stalled, and its lag. */
import * as assert from 'uvu/assert';
import type { Admin } from 'kafkajs';
import { consumerLag } from '@stock-mlops/platform/kafka/lag';
import { isStalled } from '@stock-mlops/platform/kafka/stall';
import { suite } from '../../harness/index.ts';

const t = suite('consumer liveness');
const base = { idleMs: 200_000, inFlight: 0, lag: 5, joined: true, stallMs: 120_000 };

t('idle past the limit with records waiting on its partitions and nothing in flight: stalled', () => {
  assert.ok(isStalled(base));
});

t('a member that never completed its group join is stalled once idle past the limit, lag or not', () => {
  assert.ok(isStalled({ ...base, joined: false, lag: 0 }));
  assert.not.ok(isStalled({ ...base, joined: false, lag: 0, idleMs: 1_000 }));
});

t('not stalled: a batch in flight, no lag, not idle long enough, or the check disabled', () => {
  assert.not.ok(isStalled({ ...base, inFlight: 1 }), 'a slow handler is not a stall');
  assert.not.ok(isStalled({ ...base, lag: 0 }), 'caught up');
  assert.not.ok(isStalled({ ...base, idleMs: 119_999 }));
  assert.not.ok(isStalled({ ...base, stallMs: 0 }));
});

t('lag counts only the partitions this member owns, from its committed offsets (never committed: from the low watermark)', async () => {
  const admin = {
    fetchTopicOffsets: async (topic: string) =>
      topic === 'a'
        ? [
            { partition: 0, high: '100', low: '0', offset: '100' },
            { partition: 1, high: '50', low: '10', offset: '50' },
            { partition: 2, high: '70', low: '0', offset: '70' },
          ]
        : [{ partition: 0, high: '9', low: '0', offset: '9' }],
    fetchOffsets: async ({ topics }: { topics: string[] }) =>
      topics[0] === 'a'
        ? [{ topic: 'a', partitions: [{ partition: 0, offset: '90' }, { partition: 1, offset: '-1' }, { partition: 2, offset: '0' }] }]
        : [{ topic: 'b', partitions: [{ partition: 0, offset: '9' }] }],
  } as unknown as Admin;
  // Owns a/0 (10 left) and a/1 (never committed: 50 - 10 = 40); a/2 belongs to another member; b/0 is caught up.
  assert.is(await consumerLag(admin, 'g', { a: [0, 1], b: [0] }), 50);
  assert.is(await consumerLag(admin, 'g', {}), 0);
  // A list of topics: every partition (a/2 included: 70 left).
  assert.is(await consumerLag(admin, 'g', ['a', 'b']), 120);
});

t.run();
