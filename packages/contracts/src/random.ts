/**
 * Seeded randomness shared by every package and test: same seed, same sequence, on every
 * platform. Dependency-free on purpose (contracts is the package everything can import).
 */

export type Rng = () => number;

/**
 * mulberry32 (Tommy Ettinger): a 32-bit state generator returning floats in [0, 1).
 * Fast and well distributed for shuffling, sampling and simulation; not for cryptography.
 * The seed is reduced to 32 bits (`seed >>> 0`); callers that want to reject odd seeds check first.
 */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle into a new array, drawing from `rng`. */
export function shuffleWith<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
