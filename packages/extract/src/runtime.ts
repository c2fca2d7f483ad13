import { setTimeout as delay } from 'node:timers/promises';
import { ExtractError } from './errors.ts';

/**
 * Time and randomness, injectable so tests can run retries, rate limits and replays without
 * waiting or flaking.
 */
export interface Runtime {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with E_ABORTED when `signal` fires. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Uniform in [0, 1). */
  random(): number;
}

/** Longest delay a Node timer takes: a longer one fires after 1 ms instead (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Sleeps `ms` (a longer-than-timer delay in several timer-sized steps, never the 1 ms overflow). */
export async function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    let left = Math.max(0, ms);
    do {
      const step = Math.min(left, MAX_TIMER_MS);
      await delay(step, undefined, signal ? { signal } : undefined);
      left -= step;
    } while (left > 0 && Number.isFinite(left));
  } catch (err) {
    throw new ExtractError('E_ABORTED', 'aborted while waiting', { cause: err });
  }
}

export const REAL_RUNTIME: Runtime = { now: () => Date.now(), sleep: realSleep, random: Math.random };

export function resolveRuntime(partial: Partial<Runtime> = {}): Runtime {
  return {
    now: partial.now ?? REAL_RUNTIME.now,
    sleep: partial.sleep ?? REAL_RUNTIME.sleep,
    random: partial.random ?? REAL_RUNTIME.random,
  };
}
