/**
 * Small numeric helpers used by the metric and drift modules. Inputs are assumed validated.
 * Sums use Neumaier compensation so long series (thousands of daily returns) keep ~1e-15
 * relative accuracy, independent of summation order.
 */

export function sum(values: readonly number[]): number {
  let s = 0;
  let c = 0;
  for (const v of values) {
    const t = s + v;
    c += Math.abs(s) >= Math.abs(v) ? s - t + v : v - t + s;
    s = t;
  }
  return s + c;
}

export function mean(values: readonly number[]): number {
  return sum(values) / values.length;
}

/** Variance with `ddof` delta degrees of freedom (0 = population, 1 = sample); two-pass. */
export function variance(values: readonly number[], ddof = 0): number {
  const m = mean(values);
  return sum(values.map((v) => (v - m) * (v - m))) / (values.length - ddof);
}

/** Pearson correlation; NaN when fewer than 2 points or either side is constant (as scipy). */
export function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (n < 2) return Number.NaN;
  const mx = mean(x);
  const my = mean(y);
  const dx = x.map((v) => v - mx);
  const dy = y.map((v) => v - my);
  const sxx = sum(dx.map((v) => v * v));
  const syy = sum(dy.map((v) => v * v));
  if (sxx === 0 || syy === 0) return Number.NaN;
  const r = sum(dx.map((v, i) => v * (dy[i] as number))) / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

/** 1-based ranks; ties get the average of the ranks they span (scipy.stats.rankdata 'average'). */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number));
  const ranks = new Array<number>(values.length);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1] as number] === values[order[i] as number]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k] as number] = rank;
    i = j + 1;
  }
  return ranks;
}

export function spearman(x: readonly number[], y: readonly number[]): number {
  return pearson(averageRanks(x), averageRanks(y));
}

export function sortedCopy(values: readonly number[]): number[] {
  return Array.from(Float64Array.from(values).sort());
}

/**
 * Quantile of an ascending-sorted array with linear interpolation between order statistics,
 * reproducing numpy.quantile(method='linear') bit for bit (same virtual index and lerp).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  const virtualIndex = (n - 1) * q;
  const lo = Math.floor(virtualIndex);
  if (lo < 0) return sorted[0] as number;
  if (lo >= n - 1) return sorted[n - 1] as number;
  const t = virtualIndex - lo;
  const a = sorted[lo] as number;
  const b = sorted[lo + 1] as number;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** Number of entries of an ascending-sorted array that are <= x (numpy.searchsorted side='right'). */
export function countLessOrEqual(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
