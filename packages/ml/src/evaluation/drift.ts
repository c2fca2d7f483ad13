/**
 * Data drift between a reference sample (training data) and a current sample (live data).
 *
 * Numeric features
 * - PSI with quantile bins of the reference: with B bins (default 10) the B−1 interior edges
 *   are the reference quantiles at 1/B … (B−1)/B (linear interpolation, as numpy.quantile).
 *   The outer bins are open-ended, so live values beyond the reference range still land in a
 *   bin. Bins are closed on the left: bin 0 = (−∞, e1), bin i = [e_i, e_{i+1}), bin B−1 =
 *   [e_{B−1}, +∞). Edges that coincide (heavily tied data) leave empty bins, which contribute 0.
 *   PSI = Σ (a_i − e_i)·ln(a_i/e_i) over bins, with e = reference and a = current fractions;
 *   every fraction is floored at ε (default 1e-4, no renormalisation) so empty bins stay finite.
 *   Rule of thumb: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major shift.
 * - Two-sample Kolmogorov–Smirnov: D = max |F_ref(x) − F_cur(x)| over all observed x, and the
 *   two-sided p-value of scipy.stats.ks_2samp(method='asymp'), i.e. the one-sample KS
 *   distribution evaluated at n = round(n1·n2/(n1+n2)) (half to even): kstwo.sf(D, n).
 *
 * `referenceStats` summarises a reference sample so that PSI and KS can be computed later
 * without the raw data (e.g. stored next to the model in the registry). Its `sample` is a
 * deterministic sorted subsample of at most 1000 order statistics, evenly spaced in rank; KS
 * against it approximates KS against the full reference within about 1/(2·sampleSize), and
 * its p-value uses the full reference size n.
 *
 * Categorical data (sentiment labels): PSI over the label distribution (same ε rule) and
 * Pearson's chi-square goodness-of-fit of the current label counts against the reference
 * distribution (reference fractions floored at ε and renormalised), dof = labels − 1.
 */
import { chiSquareSf } from './chi_square.ts';
import { kolmogorovSmirnovSf } from './ks_distribution.ts';
import { SENTIMENT_LABELS } from './metrics.ts';
import { countLessOrEqual, mean, quantileSorted, sortedCopy, sum, variance } from './stats.ts';
import { assertFiniteArray, assertOption, inputError } from './validate.ts';

export const DEFAULT_PSI_BINS = 10;
export const DEFAULT_PSI_EPSILON = 1e-4;
export const DEFAULT_REFERENCE_SAMPLE_SIZE = 1000;

export interface ReferenceStats {
  n: number;
  mean: number;
  /** Sample standard deviation (n−1); 0 when n = 1. */
  std: number;
  min: number;
  max: number;
  /** The B−1 interior bin edges: reference quantiles at 1/B … (B−1)/B. */
  quantileEdges: number[];
  /** Share of the full reference sample in each of the B bins. */
  binFractions: number[];
  /** Sorted deterministic subsample (all values when n <= sample size). */
  sample: number[];
}

export interface ReferenceStatsOptions {
  bins?: number;
  /** Maximum size of the stored subsample. */
  sampleSize?: number;
}

export interface PsiOptions {
  epsilon?: number;
}

export interface KsResult {
  statistic: number;
  pValue: number;
  n1: number;
  n2: number;
}

export interface FeatureDrift {
  psi: number;
  ksStatistic: number;
  ksPValue: number;
  /** Size of the current sample. */
  n: number;
}

/** Share of `values` in each bin defined by ascending interior `edges` (left-closed bins). */
export function binFractions(edges: readonly number[], values: readonly number[]): number[] {
  assertFiniteArray('edges', edges, 0);
  assertFiniteArray('values', values);
  assertOption(
    edges.every((e, i) => i === 0 || e >= (edges[i - 1] as number)),
    'edges must be in ascending order',
  );
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) {
    const bin = countLessOrEqual(edges, v);
    counts[bin] = (counts[bin] as number) + 1;
  }
  return counts.map((c) => c / values.length);
}

export function referenceStats(values: readonly number[], options: ReferenceStatsOptions = {}): ReferenceStats {
  const { bins = DEFAULT_PSI_BINS, sampleSize = DEFAULT_REFERENCE_SAMPLE_SIZE } = options;
  assertFiniteArray('reference', values);
  assertOption(Number.isInteger(bins) && bins >= 2, `bins must be an integer >= 2, got ${bins}`);
  assertOption(Number.isInteger(sampleSize) && sampleSize >= 1, `sampleSize must be an integer >= 1, got ${sampleSize}`);
  const sorted = sortedCopy(values);
  const n = sorted.length;
  const quantileEdges = Array.from({ length: bins - 1 }, (_, i) => quantileSorted(sorted, (i + 1) / bins));
  const sample =
    n <= sampleSize ? sorted : Array.from({ length: sampleSize }, (_, i) => sorted[Math.floor(((i + 0.5) * n) / sampleSize)] as number);
  return {
    n,
    mean: mean(sorted),
    std: n > 1 ? Math.sqrt(variance(sorted, 1)) : 0,
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
    quantileEdges,
    binFractions: binFractions(quantileEdges, sorted),
    sample,
  };
}

/** PSI between two distributions given as fractions over the same bins. */
export function psiFromFractions(
  expected: readonly number[],
  actual: readonly number[],
  { epsilon = DEFAULT_PSI_EPSILON }: PsiOptions = {},
): number {
  assertFiniteArray('expected', expected);
  assertFiniteArray('actual', actual);
  assertOption(expected.length === actual.length, `expected and actual need the same number of bins (${expected.length} vs ${actual.length})`);
  assertOption(epsilon > 0 && epsilon < 1, `epsilon must be in (0, 1), got ${epsilon}`);
  return sum(
    expected.map((e, i) => {
      const p = Math.max(e, epsilon);
      const q = Math.max(actual[i] as number, epsilon);
      return (q - p) * Math.log(q / p);
    }),
  );
}

/** PSI of `current` against stored reference statistics. */
export function psiFromReference(reference: ReferenceStats, current: readonly number[], options: PsiOptions = {}): number {
  assertFiniteArray('current', current);
  return psiFromFractions(reference.binFractions, binFractions(reference.quantileEdges, current), options);
}

/** PSI of `current` against a raw `reference` sample, binned by the reference's quantiles. */
export function psi(
  reference: readonly number[],
  current: readonly number[],
  options: PsiOptions & Pick<ReferenceStatsOptions, 'bins'> = {},
): number {
  const bins = options.bins ?? DEFAULT_PSI_BINS;
  return psiFromReference(referenceStats(reference, { bins }), current, options);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Largest |F1 − F2| between the empirical CDFs of two ascending-sorted samples. */
function ksStatisticSorted(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length || j < b.length) {
    const ai = i < a.length ? (a[i] as number) : Number.POSITIVE_INFINITY;
    const bj = j < b.length ? (b[j] as number) : Number.POSITIVE_INFINITY;
    const v = Math.min(ai, bj);
    while (i < a.length && (a[i] as number) <= v) i++;
    while (j < b.length && (b[j] as number) <= v) j++;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  return d;
}

/** Two-sided asymptotic p-value of scipy.stats.ks_2samp(method='asymp'). */
export function ksTwoSamplePValue(statistic: number, n1: number, n2: number): number {
  assertOption(statistic >= 0 && statistic <= 1, `KS statistic must be in [0, 1], got ${statistic}`);
  assertOption(Number.isInteger(n1) && n1 > 0 && Number.isInteger(n2) && n2 > 0, `sample sizes must be integers > 0, got ${n1}, ${n2}`);
  const [m, n] = n1 >= n2 ? [n1, n2] : [n2, n1];
  return Math.min(1, Math.max(0, kolmogorovSmirnovSf(roundHalfEven((m * n) / (m + n)), statistic)));
}

/** Two-sample KS test, like scipy.stats.ks_2samp(a, b, method='asymp'). */
export function ksTwoSample(a: readonly number[], b: readonly number[]): KsResult {
  assertFiniteArray('a', a);
  assertFiniteArray('b', b);
  const statistic = ksStatisticSorted(sortedCopy(a), sortedCopy(b));
  return { statistic, pValue: ksTwoSamplePValue(statistic, a.length, b.length), n1: a.length, n2: b.length };
}

/** KS test of `current` against stored reference statistics (subsample D, full-size p-value). */
export function ksFromReference(reference: ReferenceStats, current: readonly number[]): KsResult {
  assertFiniteArray('current', current);
  const statistic = ksStatisticSorted(reference.sample, sortedCopy(current));
  return { statistic, pValue: ksTwoSamplePValue(statistic, reference.n, current.length), n1: reference.n, n2: current.length };
}

/** Reference statistics for each named feature column. */
export function referenceStatsByFeature(
  columns: Readonly<Record<string, readonly number[]>>,
  options: ReferenceStatsOptions = {},
): Record<string, ReferenceStats> {
  return Object.fromEntries(Object.entries(columns).map(([name, values]) => [name, referenceStats(values, options)]));
}

/** PSI and KS per feature of the reference; every reference feature must be present in `current`. */
export function featureDrift(
  reference: Readonly<Record<string, ReferenceStats>>,
  current: Readonly<Record<string, readonly number[]>>,
  options: PsiOptions = {},
): Record<string, FeatureDrift> {
  return Object.fromEntries(
    Object.entries(reference).map(([name, stats]) => {
      const values = current[name];
      if (!values) throw inputError(`current data has no feature "${name}"`, { feature: name });
      const ks = ksFromReference(stats, values);
      return [name, { psi: psiFromReference(stats, values, options), ksStatistic: ks.statistic, ksPValue: ks.pValue, n: values.length }];
    }),
  );
}

/** Turns row vectors into named columns (vector[i] is feature names[i]). */
export function toColumns(vectors: readonly (readonly number[])[], names: readonly string[]): Record<string, number[]> {
  vectors.forEach((v, r) => {
    if (v.length !== names.length) throw inputError(`row ${r} has ${v.length} values, expected ${names.length}`, { row: r });
  });
  return Object.fromEntries(names.map((name, i) => [name, vectors.map((v) => v[i] as number)]));
}

// ---------------------------------------------------------------------------------------------
// Categorical drift (label distributions)
// ---------------------------------------------------------------------------------------------

export interface CategoricalReference {
  labels: string[];
  counts: number[];
  n: number;
}

export interface CategoricalDrift {
  psi: number;
  chiSquare: number;
  dof: number;
  pValue: number;
  referenceFractions: number[];
  currentFractions: number[];
  /** Size of the current sample. */
  n: number;
}

function countLabels(values: readonly string[], labels: readonly string[], name: string): number[] {
  assertOption(Array.isArray(values) && values.length > 0, `${name} needs at least one label`);
  assertOption(labels.length >= 2 && new Set(labels).size === labels.length, 'labels must be unique, at least 2');
  const index = new Map(labels.map((l, i) => [l, i]));
  const counts = new Array<number>(labels.length).fill(0);
  values.forEach((v, i) => {
    const k = index.get(v);
    if (k === undefined) throw inputError(`${name}[${i}] is not one of the labels [${labels.join(', ')}]: ${String(v)}`, { index: i });
    counts[k] = (counts[k] as number) + 1;
  });
  return counts;
}

export function categoricalReference(
  values: readonly string[],
  { labels = SENTIMENT_LABELS }: { labels?: readonly string[] } = {},
): CategoricalReference {
  return { labels: [...labels], counts: countLabels(values, labels, 'reference'), n: values.length };
}

export function categoricalDrift(
  reference: CategoricalReference,
  current: readonly string[],
  { epsilon = DEFAULT_PSI_EPSILON }: PsiOptions = {},
): CategoricalDrift {
  assertOption(
    reference.counts.length === reference.labels.length && reference.n > 0 && sum(reference.counts) === reference.n,
    'reference must hold one count per label, summing to n > 0',
  );
  const counts = countLabels(current, reference.labels, 'current');
  const n = current.length;
  const referenceFractions = reference.counts.map((c) => c / reference.n);
  const currentFractions = counts.map((c) => c / n);
  const floored = referenceFractions.map((p) => Math.max(p, epsilon));
  const total = sum(floored);
  const chiSquare = sum(
    counts.map((observed, i) => {
      const expected = (n * (floored[i] as number)) / total;
      return ((observed - expected) * (observed - expected)) / expected;
    }),
  );
  const dof = reference.labels.length - 1;
  return {
    psi: psiFromFractions(referenceFractions, currentFractions, { epsilon }),
    chiSquare,
    dof,
    pValue: chiSquareSf(chiSquare, dof),
    referenceFractions,
    currentFractions,
    n,
  };
}
