/**
 * Ridge regression baseline for the price model: the as-of feature row of each window (the row
 * the model's normalization statistics describe), z-scored and clipped exactly as the model's
 * inputs, regressed on the next-period return in closed form. The intercept is not penalized;
 * the L2 penalty is chosen from a grid by the mean squared error on the validation slice.
 *
 * Solved as (ZᵀZ + λ·n·I) w = Zᵀ(y − ȳ) with Z the centred inputs, so λ is a per-sample
 * penalty on standardized features and the grid is the same for any data size.
 */
import { AppError } from '@stock-mlops/contracts';

/** Penalties tried, strongest first: 1e3 … 1e-4 per sample on standardized features. */
export const RIDGE_L2_GRID: readonly number[] = [1e3, 1e2, 1e1, 1, 1e-1, 1e-2, 1e-3, 1e-4];

export interface RidgeParams {
  /** One weight per feature, on the standardized (z-scored, clipped) features. */
  weights: number[];
  intercept: number;
  /** The chosen per-sample penalty. */
  l2: number;
  /** Validation MSE of every penalty tried, in grid order. */
  validation: Array<{ l2: number; mse: number }>;
}

export class RidgeError extends AppError<'E_RIDGE_INPUT' | 'E_RIDGE_SINGULAR'> {
  constructor(code: 'E_RIDGE_INPUT' | 'E_RIDGE_SINGULAR', message: string) {
    super(code, message);
    this.name = 'RidgeError';
  }
}

export interface Standardizer {
  mean: readonly number[];
  std: readonly number[];
}

/** z-score with the given statistics, clipped to ±8 (the model's own input transform). */
export function standardizeRow(s: Standardizer, row: readonly number[]): Float64Array {
  const z = new Float64Array(row.length);
  for (let j = 0; j < row.length; j++) z[j] = Math.max(-8, Math.min(8, (row[j]! - s.mean[j]!) / s.std[j]!));
  return z;
}

/** Solves A x = b in place for a symmetric positive-definite A (p×p row-major) by Cholesky. */
export function solveSpd(a: Float64Array, b: Float64Array, p: number): Float64Array {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j]!;
      for (let k = 0; k < j; k++) s -= l[i * p + k]! * l[j * p + k]!;
      if (i === j) {
        if (!(s > 0)) throw new RidgeError('E_RIDGE_SINGULAR', `matrix is not positive definite at row ${i}`);
        l[i * p + i] = Math.sqrt(s);
      } else {
        l[i * p + j] = s / l[j * p + j]!;
      }
    }
  }
  const y = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * p + k]! * y[k]!;
    y[i] = s / l[i * p + i]!;
  }
  const x = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < p; k++) s -= l[k * p + i]! * x[k]!;
    x[i] = s / l[i * p + i]!;
  }
  return x;
}

function check(name: string, x: readonly ArrayLike<number>[], y: readonly number[]): number {
  if (x.length === 0 || x.length !== y.length) throw new RidgeError('E_RIDGE_INPUT', `${name}: need as many rows as targets (>0), got ${x.length} and ${y.length}`);
  const p = x[0]!.length;
  x.forEach((r, i) => {
    if (r.length !== p) throw new RidgeError('E_RIDGE_INPUT', `${name}: row ${i} has ${r.length} features, expected ${p}`);
  });
  if (!y.every(Number.isFinite)) throw new RidgeError('E_RIDGE_INPUT', `${name}: targets must be finite`);
  return p;
}

export function predictRidge(params: Pick<RidgeParams, 'weights' | 'intercept'>, z: readonly ArrayLike<number>[]): number[] {
  return z.map((row) => {
    let s = params.intercept;
    for (let j = 0; j < params.weights.length; j++) s += params.weights[j]! * (row[j] as number);
    return s;
  });
}

/**
 * Fit on standardized training rows for every penalty of `grid`, keep the one with the lowest
 * validation MSE (ties: the stronger penalty, the earlier grid entry).
 */
export function fitRidge(
  train: { x: readonly Float64Array[]; y: readonly number[] },
  val: { x: readonly Float64Array[]; y: readonly number[] },
  grid: readonly number[] = RIDGE_L2_GRID,
): RidgeParams {
  const p = check('train', train.x, train.y);
  check('val', val.x, val.y);
  if (val.x[0]!.length !== p) throw new RidgeError('E_RIDGE_INPUT', `val rows have ${val.x[0]!.length} features, train rows ${p}`);
  if (grid.length === 0 || !grid.every((l) => Number.isFinite(l) && l > 0)) throw new RidgeError('E_RIDGE_INPUT', 'the L2 grid must hold positive numbers');
  const n = train.x.length;
  const xMean = new Float64Array(p);
  for (const r of train.x) for (let j = 0; j < p; j++) xMean[j]! += r[j]! / n;
  const yMean = train.y.reduce((a, b) => a + b, 0) / n;
  const gram = new Float64Array(p * p);
  const xty = new Float64Array(p);
  const c = new Float64Array(p);
  train.x.forEach((r, i) => {
    for (let j = 0; j < p; j++) c[j] = r[j]! - xMean[j]!;
    const yc = train.y[i]! - yMean;
    for (let j = 0; j < p; j++) {
      const cj = c[j]!;
      if (cj === 0) continue;
      xty[j]! += cj * yc;
      for (let k = 0; k <= j; k++) gram[j * p + k]! += cj * c[k]!;
    }
  });
  for (let j = 0; j < p; j++) for (let k = 0; k < j; k++) gram[k * p + j] = gram[j * p + k]!;
  const validation: RidgeParams['validation'] = [];
  let best: Omit<RidgeParams, 'validation'> | undefined;
  let bestMse = Number.POSITIVE_INFINITY;
  for (const l2 of grid) {
    const a = Float64Array.from(gram);
    for (let j = 0; j < p; j++) a[j * p + j]! += l2 * n;
    const w = solveSpd(a, xty, p);
    let intercept = yMean;
    for (let j = 0; j < p; j++) intercept -= w[j]! * xMean[j]!;
    const weights = Array.from(w);
    const pred = predictRidge({ weights, intercept }, val.x);
    const mse = pred.reduce((s, v, i) => s + (v - val.y[i]!) ** 2, 0) / pred.length;
    validation.push({ l2, mse });
    if (!best || mse < bestMse) {
      best = { weights, intercept, l2 };
      bestMse = mse;
    }
  }
  return { ...best!, validation };
}
