/**
 * The transformer's ordered state saves (pipelined batches): a save runs after its batch's sends
 * and after the earlier saves; a failure poisons the later saves until reset(); saves of state
 * computed before a reset never write.
 */
import * as assert from 'uvu/assert';
import { SaveQueue, StaleStateError } from '../../../services/transformer/src/save_queue.ts';
import { suite } from '../../harness/index.ts';

const t = suite('transformer/save_queue');

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const settle = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => e);

t('saves run in enqueue order, each after its own sends, even when a later batch is acknowledged first', async () => {
  const q = new SaveQueue();
  const order: string[] = [];
  const sentA = deferred();
  const a = q.enqueue(sentA.promise, async () => void order.push('A'));
  const b = q.enqueue(Promise.resolve(), async () => void order.push('B'));
  const c = q.enqueue(Promise.resolve(), async () => void order.push('C'));
  await Promise.resolve();
  await new Promise((r) => setImmediate(r));
  assert.equal(order, [], 'nothing is written while the first batch is unacknowledged');
  sentA.resolve();
  await Promise.all([a, b, c]);
  assert.equal(order, ['A', 'B', 'C']);
});

t('a failed send fails that save and every later one without writing; after reset() saves run again', async () => {
  const q = new SaveQueue();
  const written: string[] = [];
  const sentA = deferred();
  const a = q.enqueue(Promise.resolve(), async () => void written.push('A'));
  const b = q.enqueue(sentA.promise, async () => void written.push('B'));
  const c = q.enqueue(Promise.resolve(), async () => void written.push('C'));
  const boom = new Error('produce failed');
  sentA.reject(boom);
  assert.is(await settle(a), 'ok');
  assert.is(await settle(b), boom);
  assert.is(await settle(c), boom, 'C was computed on state that includes B: not saved');
  assert.equal(written, ['A']);
  // Without a reset the queue stays poisoned …
  assert.is(await settle(q.enqueue(Promise.resolve(), async () => void written.push('D'))), boom);
  // … the transformer drops its cached state and resets; saves of state computed afterwards run.
  q.reset();
  assert.is(await settle(q.enqueue(Promise.resolve(), async () => void written.push('E'))), 'ok');
  assert.equal(written, ['A', 'E']);
});

t('a failed write fails the later saves too', async () => {
  const q = new SaveQueue();
  const written: string[] = [];
  const conflict = new Error('E_STATE_CONFLICT');
  const a = q.enqueue(Promise.resolve(), async () => {
    throw conflict;
  });
  const b = q.enqueue(Promise.resolve(), async () => void written.push('B'));
  assert.is(await settle(a), conflict);
  assert.is(await settle(b), conflict);
  assert.equal(written, []);
});

t('saves enqueued before reset() do not write (their state was dropped); settled() waits for all of them', async () => {
  const q = new SaveQueue();
  const written: string[] = [];
  const sentA = deferred();
  const a = q.enqueue(sentA.promise, async () => void written.push('A'));
  q.reset();
  const b = q.enqueue(Promise.resolve(), async () => void written.push('B'));
  let settled = false;
  const all = q.settled().then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.is(settled, false, 'A is still waiting for its sends');
  sentA.resolve();
  assert.instance(await settle(a), StaleStateError);
  assert.is(await settle(b), 'ok');
  await all;
  assert.equal(written, ['B']);
});

t('a send failing before its turn is not an unhandled rejection', async () => {
  const q = new SaveQueue();
  const first = deferred();
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const a = q.enqueue(first.promise, async () => {});
    const b = q.enqueue(Promise.reject(new Error('early failure')), async () => {});
    await new Promise((r) => setImmediate(r));
    first.resolve();
    assert.is(await settle(a), 'ok');
    assert.is(((await settle(b)) as Error).message, 'early failure');
    await new Promise((r) => setImmediate(r));
    assert.equal(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

t.run();
