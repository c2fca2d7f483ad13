import * as assert from 'uvu/assert';
import { HttpError } from '@stock-mlops/extract';
import { suite } from '../../harness/index.ts';
import { planNext, runScheduler, type RunOutcome, type SchedulerTask } from '../../../services/extractor/src/scheduler.ts';

const t = suite('extractor/scheduler');

const rateLimited = (retryAfterMs: number | undefined) =>
  new HttpError('E_RATE_LIMITED', 'HTTP 429', { provider: 'av', symbol: 'AAPL', status: 429, attempts: 1, url: 'http://x/query?apikey=***', retryAfterMs });

t('planNext: more → now, idle → interval, Retry-After → that long for the whole lane, errors back off', () => {
  assert.equal(planNext(1000, { more: true }, 0), { delayMs: 0, reason: 'more' });
  assert.equal(planNext(1000, { more: false }, 0), { delayMs: 1000, reason: 'idle' });
  assert.equal(planNext(1000, { more: false, error: rateLimited(3_600_000) }, 1), { delayMs: 3_600_000, reason: 'retry-after', laneDelayMs: 3_600_000 });
  assert.equal(planNext(1000, { more: false, error: new Error('boom') }, 1), { delayMs: 1000, reason: 'backoff' });
  assert.equal(planNext(1000, { more: false, error: new Error('boom') }, 3), { delayMs: 4000, reason: 'backoff' });
  assert.equal(planNext(1000, { more: false, error: new Error('boom') }, 30), { delayMs: 16_000, reason: 'backoff' });
  assert.equal(planNext(1000, { more: false, error: rateLimited(undefined) }, 2), { delayMs: 2000, reason: 'backoff' });
});

interface Sim {
  runs: Array<{ key: string; at: number }>;
}

/**
 * Run the scheduler on a discrete-event fake clock until `untilMs` of simulated time: sleeps
 * register wake-up times; once every lane is asleep the clock jumps to the earliest one.
 */
async function simulate(tasks: SchedulerTask[], outcome: (task: SchedulerTask, n: number, at: number) => RunOutcome | Promise<RunOutcome>, untilMs: number): Promise<Sim> {
  let now = 0;
  const sim: Sim = { runs: [] };
  const abort = new AbortController();
  const count = new Map<string, number>();
  const sleepers: Array<{ at: number; wake: () => void; fail: (e: unknown) => void }> = [];
  const done = runScheduler({
    tasks,
    signal: abort.signal,
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((wake, fail) => {
        const onAbort = () => fail(new Error('aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
        sleepers.push({ at: now + ms, wake: () => (signal.removeEventListener('abort', onAbort), wake()), fail });
      }),
    run: async (task) => {
      const n = (count.get(task.key) ?? 0) + 1;
      count.set(task.key, n);
      sim.runs.push({ key: task.key, at: now });
      return outcome(task, n, now);
    },
  });
  for (;;) {
    await new Promise((r) => setImmediate(r));
    sleepers.sort((a, b) => a.at - b.at);
    const next = sleepers.shift();
    if (!next || next.at >= untilMs) break;
    now = Math.max(now, next.at);
    next.wake();
  }
  abort.abort();
  await done;
  return sim;
}

t('each provider polls its symbols on its own interval; idle tasks wait, busy ones run again at once', async () => {
  const tasks = [
    { key: 'csv|A', lane: 'csv', intervalMs: 100 },
    { key: 'csv|B', lane: 'csv', intervalMs: 100 },
    { key: 'yahoo|A', lane: 'yahoo', intervalMs: 1000 },
  ];
  // csv|A has data for its first 3 runs, everything else is idle.
  const sim = await simulate(tasks, (task, n) => ({ more: task.key === 'csv|A' && n <= 3 }), 2_050);
  const at = (key: string) => sim.runs.filter((r) => r.key === key).map((r) => r.at);
  assert.equal(at('yahoo|A'), [0, 1000, 2000], 'yahoo every 1000 ms');
  const a = at('csv|A');
  assert.equal(a.slice(0, 4), [0, 0, 0, 0], 'busy csv|A runs back to back');
  assert.is(a[4], 100, 'then waits its interval');
  const b = at('csv|B');
  assert.equal(b, Array.from({ length: 21 }, (_, i) => i * 100), 'csv|B every 100 ms, undisturbed by its busy neighbour');
});

t('Retry-After beyond the cap reschedules the provider, errors back off, other providers go on', async () => {
  const tasks = [
    { key: 'av|AAPL', lane: 'av', intervalMs: 100 },
    { key: 'av|MSFT', lane: 'av', intervalMs: 100 },
    { key: 'bad|X', lane: 'bad', intervalMs: 100 },
    { key: 'csv|A', lane: 'csv', intervalMs: 100 },
  ];
  const sim = await simulate(
    tasks,
    (task, n) => {
      if (task.key === 'av|AAPL' && n === 1) return { more: false, error: rateLimited(5_000) };
      if (task.key === 'bad|X') return { more: false, error: new Error('always fails') };
      if (task.key === 'csv|A') throw new Error('run threw: must be contained');
      return { more: false };
    },
    6_000,
  );
  const at = (key: string) => sim.runs.filter((r) => r.key === key).map((r) => r.at);
  // Both av tasks are due at 0; AAPL runs first, gets the 429, and the whole lane is blocked.
  assert.equal(at('av|AAPL')[0], 0);
  assert.ok(at('av|AAPL')[1]! >= 5_000, `AAPL waited the Retry-After: ${at('av|AAPL')}`);
  assert.ok(at('av|MSFT')[0]! >= 5_000, `the whole provider waited: MSFT first ran at ${at('av|MSFT')[0]}`);
  const bad = at('bad|X');
  const gaps = bad.slice(1).map((x, i) => x - bad[i]!);
  assert.equal(gaps, [100, 200, 400, 800, 1600, 1600], 'exponential backoff, capped at 16 × interval');
  assert.equal(at('csv|A'), at('bad|X'), 'a task whose run throws is contained and scheduled like any failure');
});

t.run();
