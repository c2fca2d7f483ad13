/** Seeded randomness for reproducible experiments: same seed, same sequence, on every platform. */
import { ML_ERROR_CODES, MlError } from '../evaluation/errors.ts';

export type Rng = () => number;

function assertSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) {
    throw new MlError(ML_ERROR_CODES.DATASET_INPUT, `seed must be a safe integer, got ${seed}`, { seed });
  }
}

/**
 * mulberry32 (Tommy Ettinger): a 32-bit state generator returning floats in [0, 1).
 * Fast and well distributed for shuffling and sampling; not for cryptography.
 * The seed is reduced to 32 bits.
 */
export function mulberry32(seed: number): Rng {
  assertSeed(seed);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle into a new array; `seed` is a seed for mulberry32 or an existing generator. */
export function seededShuffle<T>(items: readonly T[], seed: number | Rng): T[] {
  const rng = typeof seed === 'function' ? seed : mulberry32(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
