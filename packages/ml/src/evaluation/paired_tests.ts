/**
 * Paired forecast comparison: the Diebold–Mariano test on loss differences with the
 * Harvey–Leybourne–Newbold (1997) small-sample correction, and the Student t distribution it is
 * compared against.
 *
 * d_t = L(production_t) − L(challenger_t): a positive mean says the challenger errs less.
 * The long-run variance uses the autocovariances up to lag h − 1 (h = forecast horizon: h-step
 * forecasts made every step overlap, so their loss differences are MA(h − 1)), each with the
 * 1/n divisor of the original paper. HLN multiplies the statistic by
 * sqrt((n + 1 − 2h + h(h − 1)/n) / n) and reads it against t with n − 1 degrees of freedom.
 */
import { logGamma } from './chi_square.ts';
import { mean } from './stats.ts';
import { assertFiniteArray, assertOption, assertSameLength } from './validate.ts';

const EPS = 1e-16;
const TINY = 1e-300;
const MAX_ITER = 10_000;

/** Continued fraction of the incomplete beta function (modified Lentz, Numerical Recipes §6.4). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < MAX_ITER; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1. */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betaContinuedFraction(a, b, x)) / a;
  return 1 - (Math.exp(logFront) * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T >= t) for T ~ Student t with `dof` degrees of freedom (scipy.stats.t.sf). */
export function studentTSf(t: number, dof: number): number {
  if (Number.isNaN(t)) return Number.NaN;
  if (t === Infinity) return 0;
  if (t === -Infinity) return 1;
  const tail = 0.5 * regularizedBeta(dof / (dof + t * t), dof / 2, 0.5);
  return t > 0 ? tail : 1 - tail;
}

export type LossKind = 'squared' | 'absolute';

export interface DieboldMarianoResult {
  /** Paired observations. */
  n: number;
  horizon: number;
  loss: LossKind;
  /** Mean loss difference production − challenger (> 0: the challenger errs less). */
  meanDifference: number;
  /** The original DM statistic (asymptotically normal). */
  statistic: number;
  /** HLN-corrected statistic, compared against t(n − 1). */
  hlnStatistic: number;
  /** One-sided p-value of "the challenger's expected loss is lower" (HLN, t(n − 1)). */
  pValue: number;
  /** Two-sided p-value of "equal expected loss" (HLN, t(n − 1)). */
  pValueTwoSided: number;
}

const lossOf = (kind: LossKind) => (e: number) => (kind === 'squared' ? e * e : Math.abs(e));

/**
 * Diebold–Mariano test of two forecasts of the same targets. NaN statistics when fewer than
 * 3 pairs or the loss differences have no variance (identical forecasts).
 */
export function dieboldMariano(
  input: { actual: readonly number[]; production: readonly number[]; challenger: readonly number[] },
  options: { horizon?: number; loss?: LossKind } = {},
): DieboldMarianoResult {
  const horizon = options.horizon ?? 1;
  const loss = options.loss ?? 'squared';
  assertOption(Number.isInteger(horizon) && horizon >= 1, `horizon must be an integer >= 1, got ${horizon}`);
  assertOption(loss === 'squared' || loss === 'absolute', `loss must be "squared" or "absolute", got ${String(loss)}`);
  const n = assertSameLength({ actual: input.actual, production: input.production, challenger: input.challenger });
  assertFiniteArray('actual', input.actual, 0);
  assertFiniteArray('production', input.production, 0);
  assertFiniteArray('challenger', input.challenger, 0);
  const L = lossOf(loss);
  const d = input.actual.map((y, i) => L((input.production[i] as number) - y) - L((input.challenger[i] as number) - y));
  const nanResult = { n, horizon, loss, meanDifference: n ? mean(d) : Number.NaN, statistic: Number.NaN, hlnStatistic: Number.NaN, pValue: Number.NaN, pValueTwoSided: Number.NaN };
  if (n < 3 || horizon >= n) return nanResult;
  const dBar = mean(d);
  const centered = d.map((v) => v - dBar);
  const autocovariance = (k: number) => {
    let s = 0;
    for (let t = k; t < n; t++) s += (centered[t] as number) * (centered[t - k] as number);
    return s / n;
  };
  let longRun = autocovariance(0);
  for (let k = 1; k < horizon; k++) longRun += 2 * autocovariance(k);
  if (!(longRun > 0)) return nanResult;
  const statistic = dBar / Math.sqrt(longRun / n);
  const hlnStatistic = statistic * Math.sqrt((n + 1 - 2 * horizon + (horizon * (horizon - 1)) / n) / n);
  const pValue = studentTSf(hlnStatistic, n - 1);
  return {
    n,
    horizon,
    loss,
    meanDifference: dBar,
    statistic,
    hlnStatistic,
    pValue,
    pValueTwoSided: Math.min(1, 2 * studentTSf(Math.abs(hlnStatistic), n - 1)),
  };
}
