/**
 * Feature normalization whose statistics are data: fitted once by the trainer, saved with the
 * model, and applied unchanged by the server. The statistics carry the feature-schema hash, and
 * applying them to vectors of another schema throws E_SCHEMA_MISMATCH, so a model can never be
 * served features it was not trained on.
 *
 * z = clip((x - mean) / scale, ±CLIP_Z), scale = std, or 1 when std < STD_FLOOR (a feature that
 * was constant in training is only centred — sklearn StandardScaler's rule — instead of blowing
 * tiny serving deviations up to the clip bound). std is the population std (ddof 0), computed
 * in two passes for accuracy.
 *
 * `RollingZScore` is the online, trailing alternative (window of the last N vectors, current
 * included), for consumers that normalise per symbol without fitted statistics.
 */
import { TransformError } from './errors.ts';
import { FEATURE_SCHEMA, type FeatureSchema, featureSchemaHash } from './feature_engineering.ts';
import { RELATIVE_ZERO, RollingStdDev, type RollingStdDevState } from './features/indicators.ts';
import { checkSnapshot } from './features/state.ts';

export const NORMALIZER_VERSION = 1;
export const CLIP_Z = 5;
export const STD_FLOOR = 1e-9;

export interface NormalizerStats {
  /** Format/algorithm version of these statistics (NORMALIZER_VERSION). */
  version: number;
  /** Hash of the feature schema the rows followed (FEATURE_SCHEMA.hash for the standard set). */
  schemaHash: string;
  schemaVersion: string;
  names: string[];
  mean: number[];
  std: number[];
  /** Rows the statistics were computed from. */
  count: number;
  /** Free-form provenance, e.g. 'AAPL,MSFT 1d 2004-08-19..2016-12-30 (train split)'. */
  createdFrom: string;
  clip: number;
  stdFloor: number;
}

export interface FitOptions {
  createdFrom?: string;
  /** Schema version the names belong to; default FEATURE_SCHEMA.version. */
  schemaVersion?: string;
}

/**
 * Fits per-feature mean/std over `rows` (each a vector in `names` order).
 * @throws TransformError E_BAD_ARGUMENT (no rows), E_SHAPE_MISMATCH, E_NOT_FINITE
 */
export function fitNormalizer(rows: readonly (readonly number[])[], names: readonly string[], options: FitOptions = {}): NormalizerStats {
  if (rows.length === 0) throw new TransformError('E_BAD_ARGUMENT', 'cannot fit a normalizer on zero rows');
  const dim = names.length;
  const mean = new Array<number>(dim).fill(0);
  rows.forEach((row, r) => {
    if (row.length !== dim) throw new TransformError('E_SHAPE_MISMATCH', `row ${r} has ${row.length} values, expected ${dim}`);
    for (let i = 0; i < dim; i++) {
      const x = row[i] as number;
      if (!Number.isFinite(x)) throw new TransformError('E_NOT_FINITE', `row ${r}, feature ${names[i]} is ${x}`);
      mean[i] = (mean[i] as number) + x;
    }
  });
  for (let i = 0; i < dim; i++) mean[i] = (mean[i] as number) / rows.length;
  const sq = new Array<number>(dim).fill(0);
  for (const row of rows) {
    for (let i = 0; i < dim; i++) {
      const d = (row[i] as number) - (mean[i] as number);
      sq[i] = (sq[i] as number) + d * d;
    }
  }
  const schemaVersion = options.schemaVersion ?? FEATURE_SCHEMA.version;
  return {
    version: NORMALIZER_VERSION,
    schemaHash: featureSchemaHash(schemaVersion, names),
    schemaVersion,
    names: [...names],
    mean,
    std: sq.map((s) => Math.sqrt(s / rows.length)),
    count: rows.length,
    createdFrom: options.createdFrom ?? 'unspecified',
    clip: CLIP_Z,
    stdFloor: STD_FLOOR,
  };
}

function clip(z: number, bound: number): number {
  return z > bound ? bound : z < -bound ? -bound : z;
}

/**
 * Normalises one vector with fitted statistics.
 * @throws TransformError E_SCHEMA_MISMATCH when the stats were fitted for another schema (or
 * another normalizer version); E_SHAPE_MISMATCH; E_NOT_FINITE.
 */
export function applyNormalizer(stats: NormalizerStats, vector: readonly number[], schema: FeatureSchema = FEATURE_SCHEMA): number[] {
  if (stats.schemaHash !== schema.hash) {
    throw new TransformError(
      'E_SCHEMA_MISMATCH',
      `normalizer stats are for feature schema ${stats.schemaVersion} (${stats.schemaHash.slice(0, 12)}), features are ${schema.version} (${schema.hash.slice(0, 12)})`,
    );
  }
  if (stats.version !== NORMALIZER_VERSION) {
    throw new TransformError('E_SCHEMA_MISMATCH', `normalizer stats version ${stats.version}, this build applies version ${NORMALIZER_VERSION}`);
  }
  const dim = schema.names.length;
  if (vector.length !== dim || stats.mean.length !== dim || stats.std.length !== dim) {
    throw new TransformError('E_SHAPE_MISMATCH', `vector has ${vector.length} values, stats ${stats.mean.length}, schema ${dim}`);
  }
  const out = new Array<number>(dim);
  for (let i = 0; i < dim; i++) {
    const x = vector[i] as number;
    if (!Number.isFinite(x)) throw new TransformError('E_NOT_FINITE', `feature ${schema.names[i]} is ${x}`);
    const std = stats.std[i] as number;
    const z = clip((x - (stats.mean[i] as number)) / (std < stats.stdFloor ? 1 : std), stats.clip);
    out[i] = z === 0 ? 0 : z;
  }
  return out;
}

export interface RollingZScoreSnapshot {
  kind: 'RollingZScore';
  window: number;
  dim: number;
  stats: RollingStdDevState[];
}

/**
 * Online trailing z-score of vectors: each dimension is scored against the mean and population
 * std of its last `window` values (current included), then clipped to ±CLIP_Z. `ready` is false
 * until `window` vectors were seen. O(dim) per update, fixed-size state.
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
