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

export async function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(Math.max(0, ms), undefined, signal ? { signal } : undefined);
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
