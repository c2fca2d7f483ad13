/** Seeded randomness for reproducible experiments: same seed, same sequence, on every platform. */
import { mulberry32 as mulberry32Unchecked, shuffleWith, type Rng } from '@stock-mlops/contracts';
import { ML_ERROR_CODES, MlError } from '../evaluation/errors.ts';

export type { Rng };

function assertSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) {
    throw new MlError(ML_ERROR_CODES.DATASET_INPUT, `seed must be a safe integer, got ${seed}`, { seed });
  }
}

/**
 * mulberry32 (the shared generator in @stock-mlops/contracts) with the seed checked: a seed that
 * is not a safe integer is an E_DATASET_INPUT error rather than silently truncated.
 */
export function mulberry32(seed: number): Rng {
  assertSeed(seed);
  return mulberry32Unchecked(seed);
}

/** Fisher–Yates shuffle into a new array; `seed` is a seed for mulberry32 or an existing generator. */
export function seededShuffle<T>(items: readonly T[], seed: number | Rng): T[] {
  return shuffleWith(items, typeof seed === 'function' ? seed : mulberry32(seed));
}
