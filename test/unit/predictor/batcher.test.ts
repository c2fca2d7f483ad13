import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { BatchError, MicroBatcher, MIN_SPLIT, type BatcherOptions, type BatchStats, type Scheduler } from '@stock-mlops/ml/inference/batcher';

/** A manual clock: timers fire only when the test advances time. */
function fakeScheduler(): Scheduler & { advance: (ms: number) => Promise<void>; pending: () => number } {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let nextId = 0;
  const settle = () => new Promise<void>((r) => setImmediate(r));
  return {
    now: () => now,
    schedule(fn, ms) {
      const id = nextId++;
      timers.push({ at: now + ms, fn, id });
      return () => void (timers = timers.filter((t) => t.id !== id));
    },
    async advance(ms) {
      const end = now + ms;
      await settle();
      for (;;) {
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t.id !== due.id);
        now = Math.max(now, due.at);
        due.fn();
        await settle();
      }
      now = end;
      await settle();
    },
    pending: () => timers.length,
  };
}

function setup(opts: BatcherOptions, run?: (xs: number[]) => number[] | Promise<number[]>) {
  const sched = fakeScheduler();
  const calls: number[][] = [];
  const stats: BatchStats[] = [];
  const b = new MicroBatcher<number, number>(
    opts,
    (xs) => {
      calls.push([...xs]);
      return run ? run(xs) : xs.map((x) => x * 10);
    },
    sched,
    (s) => stats.push(s),
  );
  return { b, sched, calls, stats };
}

const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e as { code?: string }).code ?? 'no code');

const t = suite('micro-batcher');

t('items arriving together run as one batch once the delay is up, each gets its own result', async () => {
  const { b, sched, calls } = setup({ maxBatch: 8, maxDelayMs: 5, maxQueue: 100 });
  const ps = [1, 2, 3].map((x) => b.submit(x));
  await sched.advance(4);
  assert.equal(calls, [], 'nothing runs before the delay');
  await sched.advance(1);
  assert.equal(calls, [[1, 2, 3]]);
  const out = await Promise.all(ps);
  assert.equal(out.map((o) => o.value), [10, 20, 30]);
  assert.ok(out.every((o) => o.batchSize === 3 && o.queuedMs === 5));
});

t('a full batch runs at once without waiting for the delay, and never exceeds maxBatch', async () => {
  const { b, sched, calls } = setup({ maxBatch: 4, maxDelayMs: 1_000, maxQueue: 100 });
  const ps = Array.from({ length: 10 }, (_, i) => b.submit(i));
  await sched.advance(0);
  assert.equal(calls.slice(0, 2), [[0, 1, 2, 3], [4, 5, 6, 7]], 'two full batches ran immediately');
  assert.is(calls.length, 2, 'the partial remainder waits for its delay');
  await sched.advance(1_000);
  assert.equal(calls[2], [8, 9]);
  assert.equal((await Promise.all(ps)).map((o) => o.value), Array.from({ length: 10 }, (_, i) => i * 10));
});

t('maxBatch 1 disables batching: every item is its own model call', async () => {
  const { b, sched, calls } = setup({ maxBatch: 1, maxDelayMs: 0, maxQueue: 100 });
  const ps = [1, 2, 3].map((x) => b.submit(x));
  await sched.advance(0);
  await Promise.all(ps);
  assert.equal(calls, [[1], [2], [3]]);
});

t('one batch runs at a time; items that arrive meanwhile form the next batch', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  let first = true;
  const { b, sched, calls } = setup({ maxBatch: 10, maxDelayMs: 0, maxQueue: 100 }, async (xs) => {
    if (first) {
      first = false;
      await gate;
    }
    return xs;
  });
  const p1 = b.submit(1);
  await sched.advance(0);
  const p2 = [2, 3, 4].map((x) => b.submit(x));
  await sched.advance(10);
  assert.equal(calls, [[1]], 'second batch waits for the running one');
  release();
  await p1;
  await sched.advance(0);
  await Promise.all(p2);
  assert.equal(calls, [[1], [2, 3, 4]]);
});

/** A run function whose batches complete only when the test says so; logs starts and completions. */
function gatedRun(log: string[]) {
  const gates: Array<() => void> = [];
  const run = async (xs: number[]) => {
    log.push(`run ${xs.join(',')}`);
    await new Promise<void>((r) => gates.push(r));
    return xs.map((x) => x * 10);
  };
  return { run, complete: () => gates.shift()!() };
}

t('pipelined: the next batch is handed over before the completed batch\'s callers are answered', async () => {
  const log: string[] = [];
  const g = gatedRun(log);
  const { b, sched, calls } = setup({ maxBatch: 10, maxDelayMs: 0, maxQueue: 100, pipelined: true }, g.run);
  const p1 = b.submit(1).then((o) => log.push(`answer ${o.value}`));
  await sched.advance(0);
  const p2 = [2, 3].map((x) => b.submit(x).then((o) => log.push(`answer ${o.value}`)));
  await sched.advance(0);
  g.complete();
  await p1;
  assert.equal(log, ['run 1', 'run 2,3', 'answer 10'], 'batch [2, 3] started before 1 was answered');
  g.complete();
  await Promise.all(p2);
  assert.equal(calls, [[1], [2, 3]]);
});

t('maxInFlight 2: a second batch is handed over while the first runs, a third waits; each item is answered once, with its own result', async () => {
  const log: string[] = [];
  const g = gatedRun(log);
  const { b, sched, calls } = setup({ maxBatch: 10, maxDelayMs: 0, maxQueue: 100, pipelined: true, maxInFlight: 2 }, g.run);
  const answers: number[] = [];
  const p1 = b.submit(1).then((o) => answers.push(o.value));
  await sched.advance(0);
  const p2 = [2, 3].map((x) => b.submit(x).then((o) => answers.push(o.value)));
  await sched.advance(0);
  const p3 = b.submit(4).then((o) => answers.push(o.value));
  await sched.advance(10);
  assert.equal(log, ['run 1', 'run 2,3'], 'two batches in flight, the third waits for a free slot');
  g.complete();
  await p1;
  await sched.advance(0);
  assert.equal(log, ['run 1', 'run 2,3', 'run 4'], 'the freed slot takes the waiting batch');
  g.complete();
  g.complete();
  await Promise.all([...p2, p3]);
  assert.equal(answers, [10, 20, 30, 40], 'answered in batch order, each item once');
  assert.equal(calls, [[1], [2, 3], [4]]);
});

t('maxInFlight 2: from idle, what waits is split in two batches so both are in flight; small queues and busy queues are not split', async () => {
  const log: string[] = [];
  const g = gatedRun(log);
  const { b, sched, calls } = setup({ maxBatch: 64, maxDelayMs: 0, maxQueue: 1000, pipelined: true, maxInFlight: 2 }, g.run);
  const n = 2 * MIN_SPLIT + 1;
  const items = Array.from({ length: n }, (_, i) => i + 1);
  const first = b.submitMany(items);
  await sched.advance(0);
  assert.equal(calls.map((c) => c.length), [MIN_SPLIT + 1, MIN_SPLIT], 'split in two halves, both handed over');
  assert.equal(calls.flat(), items, 'in order');
  // Both slots busy: what arrives now waits, and is not split when a slot frees (one batch is still in flight).
  const second = b.submitMany(items.map((x) => x + 100));
  await sched.advance(0);
  assert.is(calls.length, 2);
  g.complete();
  await sched.advance(0);
  assert.equal(calls.map((c) => c.length), [MIN_SPLIT + 1, MIN_SPLIT, n], 'taken whole while another batch runs');
  g.complete();
  g.complete();
  assert.equal((await first).map((o) => o.value), items.map((x) => x * 10), 'a group split over two batches gets its answers in order');
  assert.equal((await second).map((o) => o.value), items.map((x) => (x + 100) * 10));
  // Fewer than 2 × MIN_SPLIT waiting: one batch.
  const small = b.submitMany(items.slice(0, 2 * MIN_SPLIT - 1));
  await sched.advance(0);
  assert.is(calls.at(-1)!.length, 2 * MIN_SPLIT - 1);
  g.complete();
  await small;
  // Without maxInFlight nothing is split.
  const one = setup({ maxBatch: 64, maxDelayMs: 0, maxQueue: 1000, pipelined: true });
  await Promise.all([one.b.submitMany(items), one.sched.advance(0)]);
  assert.equal(one.calls.map((c) => c.length), [n]);
});

t('maxInFlight 2: one of two alternating groups that comes back alone is not split again (no fragmentation)', async () => {
  const log: string[] = [];
  const g = gatedRun(log);
  const { b, sched, calls } = setup({ maxBatch: 64, maxDelayMs: 0, maxQueue: 1000, pipelined: true, maxInFlight: 2 }, g.run);
  const group = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  const all = b.submitMany(group(0, 32));
  await sched.advance(0);
  g.complete();
  g.complete();
  await all;
  assert.equal(calls.map((c) => c.length), [16, 16], 'from idle: split in two');
  const back = b.submitMany(group(100, 16));
  await sched.advance(0);
  g.complete();
  await back;
  assert.equal(calls.map((c) => c.length), [16, 16, 16], 'a group of the size last taken runs whole, though nothing is in flight');
  const both = b.submitMany(group(200, 32));
  await sched.advance(0);
  g.complete();
  g.complete();
  await both;
  assert.equal(calls.map((c) => c.length), [16, 16, 16, 16, 16], 'both groups back together: split again');
});

t('maxInFlight 2: the idle lane still waits until no batch is in flight', async () => {
  const log: string[] = [];
  const g = gatedRun(log);
  const { b, sched } = setup({ maxBatch: 10, maxDelayMs: 0, maxQueue: 100, pipelined: true, maxInFlight: 2 }, g.run);
  const p1 = b.submit(1);
  await sched.advance(0);
  const p2 = b.submit(2);
  await sched.advance(0);
  const bg = b.whenIdle(() => log.push('background'));
  await sched.advance(10);
  g.complete();
  await p1;
  await sched.advance(10);
  assert.equal(log, ['run 1', 'run 2'], 'one batch still in flight: no background task');
  g.complete();
  await p2;
  await sched.advance(10);
  await bg;
  assert.equal(log, ['run 1', 'run 2', 'background']);
  // While a background task runs, a due batch waits for it even though maxInFlight is 2.
  let finishTask!: () => void;
  const task = b.whenIdle(() => new Promise<void>((r) => (finishTask = r)));
  await sched.advance(10);
  const p3 = b.submit(3);
  await sched.advance(10);
  assert.equal(log, ['run 1', 'run 2', 'background'], 'batch waits for the running task');
  finishTask();
  await task;
  await sched.advance(0);
  assert.equal(log, ['run 1', 'run 2', 'background', 'run 3']);
  g.complete();
  await p3;
});

t('a full queue refuses new work with E_QUEUE_FULL, and a group is admitted whole or not at all', async () => {
  const { b, sched, calls } = setup({ maxBatch: 2, maxDelayMs: 10, maxQueue: 3 });
  const a = b.submitMany([1, 2]);
  const tooBig = b.submitMany([3, 4]);
  assert.is(await codeOf(tooBig), 'E_QUEUE_FULL');
  const fits = b.submit(5);
  assert.is(await codeOf(b.submit(6)), 'E_QUEUE_FULL');
  assert.is(b.depth, 3);
  await sched.advance(10);
  await a;
  await fits;
  assert.equal(calls.flat().sort(), [1, 2, 5], 'refused items never reached the model');
  const err = await b.submitMany([1, 2, 3, 4]).catch((e: unknown) => e);
  assert.ok(err instanceof BatchError && err.retriable, 'queue full is retriable');
});

t('with wait, a submission that does not fit waits for room instead of failing (stream back-pressure)', async () => {
  const { b, sched, calls } = setup({ maxBatch: 2, maxDelayMs: 0, maxQueue: 2 });
  const first = b.submitMany([1, 2]);
  const waiting = b.submitMany([3, 4, 5, 6, 7], { wait: true });
  for (let i = 0; i < 10; i++) await sched.advance(0);
  assert.equal((await first).map((o) => o.value), [10, 20]);
  assert.equal((await waiting).map((o) => o.value), [30, 40, 50, 60, 70]);
  assert.ok(calls.every((c) => c.length <= 2), 'never more than maxBatch per call');
  assert.equal(calls.flat(), [1, 2, 3, 4, 5, 6, 7], 'order preserved');
});

t('items whose deadline passed or whose caller is gone are dropped before the model runs', async () => {
  const { b, sched, calls, stats } = setup({ maxBatch: 10, maxDelayMs: 5, maxQueue: 100 });
  const late = codeOf(b.submit(1, { deadline: 3 }));
  const gone = codeOf(b.submit(2, { cancelled: () => true }));
  const ok = b.submit(3, { deadline: 100 });
  await sched.advance(5);
  assert.is(await late, 'E_DEADLINE_EXCEEDED');
  assert.is(await gone, 'E_CANCELLED');
  assert.is((await ok).value, 30);
  assert.equal(calls, [[3]]);
  assert.is(stats[0]?.dropped, 2);
});

t('a failing batch rejects its own items only; the next batch runs normally', async () => {
  let fail = true;
  const { b, sched } = setup({ maxBatch: 10, maxDelayMs: 0, maxQueue: 100 }, (xs) => {
    if (fail) {
      fail = false;
      throw Object.assign(new Error('boom'), { code: 'E_BOOM' });
    }
    return xs;
  });
  const bad = [b.submit(1), b.submit(2)].map(codeOf);
  await sched.advance(0);
  assert.equal(await Promise.all(bad), ['E_BOOM', 'E_BOOM']);
  const good = b.submit(3);
  await sched.advance(0);
  assert.is((await good).value, 3);
});

t('a batch function returning the wrong number of results fails that batch with E_BATCH_RESULT', async () => {
  const { b, sched } = setup({ maxBatch: 10, maxDelayMs: 0, maxQueue: 100 }, () => [1]);
  const ps = [b.submit(1), b.submit(2)].map(codeOf);
  await sched.advance(0);
  assert.equal(await Promise.all(ps), ['E_BATCH_RESULT', 'E_BATCH_RESULT']);
});

t('close rejects queued and waiting items and refuses new ones', async () => {
  const { b, sched } = setup({ maxBatch: 1, maxDelayMs: 100, maxQueue: 1 });
  const queued = codeOf(b.submit(1));
  const waiting = codeOf(b.submit(2, { wait: true }));
  b.close();
  await sched.advance(200);
  assert.is(await queued, 'E_BATCHER_CLOSED');
  assert.is(await waiting, 'E_BATCHER_CLOSED');
  assert.is(await codeOf(b.submit(3)), 'E_BATCHER_CLOSED');
});

t('idle lane: a background task waits while batches run or are queued, and runs once the queue is idle', async () => {
  const log: string[] = [];
  const g = gatedRun(log);
  const { b, sched } = setup({ maxBatch: 10, maxDelayMs: 5, maxQueue: 100 }, g.run);
  const p1 = b.submit(1);
  const bg = b.whenIdle(() => {
    log.push('background');
    return 'done';
  });
  await sched.advance(0);
  assert.equal(log, [], 'an item is queued (waiting for its delay): not idle');
  await sched.advance(5);
  assert.equal(log, ['run 1'], 'the batch runs first');
  const p2 = b.submit(2); // arrives while batch 1 runs
  g.complete();
  await p1;
  await sched.advance(5);
  assert.equal(log, ['run 1', 'run 2'], 'the batch queued meanwhile goes before the background task');
  g.complete();
  await p2;
  await sched.advance(0);
  assert.equal(log, ['run 1', 'run 2', 'background']);
  assert.is(await bg, 'done');
});

t('idle lane: a caller that submits again as soon as it is answered (closed loop) always goes first', async () => {
  const { b, sched, calls } = setup({ maxBatch: 4, maxDelayMs: 0, maxQueue: 100 });
  let backgroundRan = -1;
  const bg = b.whenIdle(() => (backgroundRan = calls.length));
  const loop = (async () => {
    for (let i = 0; i < 5; i++) await b.submitMany([i, i, i, i]);
  })();
  for (let i = 0; i < 20; i++) await sched.advance(0);
  await loop;
  await bg;
  assert.is(backgroundRan, 5, 'the background task ran after all 5 batches of the loop');
});

t('idle lane: a batch that becomes due while a background task runs waits for it; tasks run one at a time, a failing one rejects only itself', async () => {
  const log: string[] = [];
  let finish: () => void = () => {};
  const { b, sched } = setup({ maxBatch: 10, maxDelayMs: 0, maxQueue: 100 }, (xs) => {
    log.push(`run ${xs.join(',')}`);
    return xs;
  });
  const t1 = b.whenIdle(async () => {
    log.push('task 1 start');
    await new Promise<void>((r) => (finish = r));
    log.push('task 1 end');
  });
  const t2 = codeOf(
    b.whenIdle(() => {
      log.push('task 2');
      throw Object.assign(new Error('challenger failed'), { code: 'E_TASK' });
    }),
  );
  await sched.advance(0);
  const p = b.submit(7);
  await sched.advance(0);
  assert.equal(log, ['task 1 start'], 'the batch waits for the running task');
  finish();
  await t1;
  await sched.advance(0);
  assert.is((await p).value, 7);
  await sched.advance(0);
  assert.equal(log, ['task 1 start', 'task 1 end', 'run 7', 'task 2'], 'the batch goes before the next task');
  assert.is(await t2, 'E_TASK');
  const after = b.submit(8);
  await sched.advance(0);
  assert.is((await after).value, 8, 'production goes on after a failing task');
});

t('idle lane: close rejects the waiting background tasks and refuses new ones', async () => {
  const { b, sched } = setup({ maxBatch: 1, maxDelayMs: 100, maxQueue: 10 });
  const queued = codeOf(b.submit(1));
  const bg = codeOf(b.whenIdle(() => 'never'));
  b.close();
  await sched.advance(200);
  assert.equal([await queued, await bg], ['E_BATCHER_CLOSED', 'E_BATCHER_CLOSED']);
  assert.is(await codeOf(b.whenIdle(() => 'never')), 'E_BATCHER_CLOSED');
});

t('invalid options are refused up front', () => {
  for (const o of [{ maxBatch: 0, maxDelayMs: 1, maxQueue: 1 }, { maxBatch: 1, maxDelayMs: -1, maxQueue: 1 }, { maxBatch: 1, maxDelayMs: 1, maxQueue: 0.5 }, { maxBatch: 1, maxDelayMs: 1, maxQueue: 1, maxInFlight: 0 }]) {
    assert.throws(() => new MicroBatcher<number, number>(o, (x) => x), /invalid batcher options/);
  }
});

t('with the real scheduler and delay 0, requests made in the same turn share a batch', async () => {
  const calls: number[][] = [];
  const b = new MicroBatcher<number, number>({ maxBatch: 64, maxDelayMs: 0, maxQueue: 1000 }, (xs) => {
    calls.push(xs);
    return xs;
  });
  await Promise.all(Array.from({ length: 20 }, (_, i) => b.submit(i)));
  assert.is(calls.length, 1);
  assert.is(calls[0]!.length, 20);
});

t.run();
