/**
 * Streaming normalization for the per-symbol pipeline (`RollingZScore`). Fitted statistics are
 * not kept here: the price model standardizes with its own, stored in its artifact.
 */
import { TransformError } from './errors.ts';
import { RELATIVE_ZERO, RollingStdDev, type RollingStdDevState } from './features/indicators.ts';
import { checkSnapshot } from './features/state.ts';

/** Version of the normalization algorithm, part of PIPELINE_SCHEMA.normalization. */
export const NORMALIZER_VERSION = 1;
export const CLIP_Z = 5;
export const STD_FLOOR = 1e-9;

function clip(z: number, bound: number): number {
  return z > bound ? bound : z < -bound ? -bound : z;
}

export interface RollingZScoreSnapshot {
  kind: 'RollingZScore';
  window: number;
  dim: number;
  stats: RollingStdDevState[];
}

/**
 * Online trailing z-score of vectors: each dimension is scored against the mean and population
 * std of its last `window` values (current included), then clipped to ±CLIP_Z; scale = std, or 1
 * when std < STD_FLOOR (a constant input is only centred instead of blowing tiny deviations up to
 * the clip bound). `ready` is false until `window` vectors were seen. O(dim) per update,
 * fixed-size state.
 */
export class RollingZScore {
  readonly window: number;
  readonly dim: number;
  private readonly stats: RollingStdDev[];

  constructor(window: number, dim: number) {
    if (!Number.isSafeInteger(dim) || dim < 1) throw new TransformError('E_BAD_ARGUMENT', `dim must be ≥ 1, got ${dim}`);
    this.window = window;
    this.dim = dim;
    this.stats = Array.from({ length: dim }, () => new RollingStdDev(window, { ddof: 0, zero: RELATIVE_ZERO }));
  }

  update(vector: readonly number[]): { ready: boolean; z: number[] } {
    if (vector.length !== this.dim) throw new TransformError('E_SHAPE_MISMATCH', `vector has ${vector.length} values, expected ${this.dim}`);
    const z = new Array<number>(this.dim);
    let ready = true;
    for (let i = 0; i < this.dim; i++) {
      const x = vector[i] as number;
      if (!Number.isFinite(x)) throw new TransformError('E_NOT_FINITE', `value ${i} is ${x}`);
      const s = this.stats[i] as RollingStdDev;
      const sd = s.update(x);
      if (sd === undefined) {
        ready = false;
        z[i] = 0;
        continue;
      }
      const v = clip((x - (s.mean as number)) / (sd < STD_FLOOR ? 1 : sd), CLIP_Z);
      z[i] = v === 0 ? 0 : v;
    }
    return ready ? { ready, z } : { ready, z: [] };
  }

  snapshot(): RollingZScoreSnapshot {
    return { kind: 'RollingZScore', window: this.window, dim: this.dim, stats: this.stats.map((s) => s.snapshot()) };
  }

  static restore(snapshot: RollingZScoreSnapshot): RollingZScore {
    checkSnapshot(typeof snapshot === 'object' && snapshot !== null && snapshot.kind === 'RollingZScore', 'expected a RollingZScore snapshot');
    checkSnapshot(Array.isArray(snapshot.stats) && snapshot.stats.length === snapshot.dim, 'RollingZScore.stats');
    const z = new RollingZScore(snapshot.window, snapshot.dim);
    snapshot.stats.forEach((s, i) => (z.stats[i] as RollingStdDev).restore(s));
    return z;
  }
}
