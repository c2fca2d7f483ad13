/**
 * Polling schedule, transport-free: one lane per provider (its tasks run one at a time, so a
 * provider's rate limit is never raced by itself), lanes run concurrently. After each run a task
 * is due again:
 *
 * | outcome                                   | next run                                             |
 * |-------------------------------------------|------------------------------------------------------|
 * | fetched something (more may be waiting)   | at once (after the lane's other due tasks)           |
 * | nothing new                               | after the provider's interval                        |
 * | error with `retryAfterMs` (Retry-After beyond the HTTP client's cap) | after that long (at most `MAX_RETRY_AFTER_MS`, 1 day: an absurd Retry-After does not disable a provider); the whole lane waits too (the limit is per key) |
 * | other error, n-th in a row                | interval × 2^(n-1), at most interval × maxBackoffFactor |
 *
 * `run` must not throw; errors are outcomes. Nothing here ends the process.
 */
import { realSleep } from '@stock-mlops/extract/runtime';

export interface SchedulerTask {
  key: string;
  lane: string;
  intervalMs: number;
}

export interface RunOutcome {
  /** Something was fetched: poll again soon. */
  more: boolean;
  error?: unknown;
}

export type NextReason = 'more' | 'idle' | 'retry-after' | 'backoff';

export interface NextRun {
  delayMs: number;
  reason: NextReason;
  /** The whole lane waits this long (provider-wide rate limit). */
  laneDelayMs?: number;
}

/** Longest reschedule a Retry-After can cause. */
export const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

export function retryAfterOf(error: unknown): number | undefined {
  const ms = (error as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}

/** When a task runs next, given how its last run went and how many runs in a row failed. */
export function planNext(intervalMs: number, outcome: RunOutcome, failuresInARow: number, maxBackoffFactor = 16): NextRun {
  if (outcome.error !== undefined) {
    const ra = retryAfterOf(outcome.error);
    if (ra !== undefined) return { delayMs: ra, reason: 'retry-after', laneDelayMs: ra };
    const factor = Math.min(2 ** Math.max(0, failuresInARow - 1), maxBackoffFactor);
    return { delayMs: intervalMs * factor, reason: 'backoff' };
  }
  return outcome.more ? { delayMs: 0, reason: 'more' } : { delayMs: intervalMs, reason: 'idle' };
}

export interface SchedulerOptions<T extends SchedulerTask> {
  tasks: readonly T[];
  run: (task: T) => Promise<RunOutcome>;
  signal: AbortSignal;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  maxBackoffFactor?: number;
  onPlanned?: (task: T, next: NextRun) => void;
}

/** Runs until `signal` aborts; resolves when every lane has stopped. */
export async function runScheduler<T extends SchedulerTask>(opts: SchedulerOptions<T>): Promise<void> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? realSleep;
  const lanes = new Map<string, T[]>();
  for (const t of opts.tasks) lanes.set(t.lane, [...(lanes.get(t.lane) ?? []), t]);

  async function lane(tasks: T[]): Promise<void> {
    const due = new Map<string, number>(tasks.map((t) => [t.key, now()]));
    const lastRun = new Map<string, number>(tasks.map((t, i) => [t.key, i - tasks.length]));
    const failures = new Map<string, number>();
    let blockedUntil = 0;
    let runs = 0;
    while (!opts.signal.aborted) {
      // Earliest due first; among equals, the one that ran longest ago (round robin).
      const task = [...tasks].sort((a, b) => due.get(a.key)! - due.get(b.key)! || lastRun.get(a.key)! - lastRun.get(b.key)!)[0]!;
      const wait = Math.max(due.get(task.key)!, blockedUntil) - now();
      if (wait > 0) {
        try {
          await sleep(wait, opts.signal);
        } catch {
          break; // aborted
        }
        continue;
      }
      let outcome: RunOutcome;
      try {
        outcome = await opts.run(task);
      } catch (error) {
        outcome = { more: false, error };
      }
      lastRun.set(task.key, ++runs);
      const n = outcome.error !== undefined ? (failures.get(task.key) ?? 0) + 1 : 0;
      failures.set(task.key, n);
      const next = planNext(task.intervalMs, outcome, n, opts.maxBackoffFactor);
      const at = now();
      due.set(task.key, at + next.delayMs);
      if (next.laneDelayMs !== undefined) blockedUntil = Math.max(blockedUntil, at + next.laneDelayMs);
      opts.onPlanned?.(task, next);
    }
  }

  await Promise.all([...lanes.values()].map((tasks) => lane(tasks)));
}
