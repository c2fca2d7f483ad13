/**
 * The sentiment analyzer's view of the classification metrics (computed by evaluation/metrics,
 * on plain label indices) and seeded data splitting. Pure functions, no tfjs.
 */
import { mulberry32, seededShuffle } from '../datasets/random.ts';
import { metricsFromConfusion } from '../evaluation/metrics.ts';

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  accuracy: number;
  macroF1: number;
  /** Keyed by label name. */
  perClass: Record<string, ClassMetrics>;
  /** confusion[true][predicted], rows and columns in `labels` order. */
  confusion: number[][];
  labels: string[];
  count: number;
}

/**
 * The evaluation module's classification metrics (`metricsFromConfusion`: sklearn's formulas and
 * zero_division=0) on label indices, in the report shape the trainer, registry and reports use.
 */
export function classificationReport(yTrue: readonly number[], yPred: readonly number[], labels: readonly string[]): ClassificationReport {
  if (yTrue.length !== yPred.length) throw new RangeError('yTrue and yPred differ in length');
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i] as number;
    const p = yPred[i] as number;
    const row = confusion[t];
    if (row === undefined || p < 0 || p >= k) throw new RangeError(`label index out of range at ${i}`);
    row[p] = (row[p] as number) + 1;
  }
  const m = metricsFromConfusion(confusion, labels);
  const perClass: Record<string, ClassMetrics> = {};
  for (const { label, precision, recall, f1, support } of m.perClass) perClass[label] = { precision, recall, f1, support };
  return { accuracy: m.accuracy, macroF1: m.macroF1, perClass, confusion, labels: m.labels, count: yTrue.length };
}

/** Report of always predicting the most frequent class of `trainLabels` on `yTrue`. */
export function majorityBaseline(trainLabels: readonly number[], yTrue: readonly number[], labels: readonly string[]): ClassificationReport {
  const counts = new Array<number>(labels.length).fill(0);
  for (const y of trainLabels) counts[y] = (counts[y] ?? 0) + 1;
  const majority = counts.indexOf(Math.max(...counts));
  return classificationReport(yTrue, yTrue.map(() => majority), labels);
}

export interface SplitIndices {
  train: number[];
  test: number[];
}

/**
 * Stratified split of indices: in each class, round(fraction × class size) items (seeded
 * shuffle) go to `test`. Both outputs are sorted ascending so callers see input order.
 */
export function stratifiedSplit(labels: readonly (string | number)[], testFraction: number, seed: number): SplitIndices {
  if (!(testFraction >= 0 && testFraction < 1)) throw new RangeError('testFraction must be in [0, 1)');
  const rng = mulberry32(seed);
  const byClass = new Map<string | number, number[]>();
  labels.forEach((y, i) => {
    const list = byClass.get(y);
    if (list) list.push(i);
    else byClass.set(y, [i]);
  });
  const train: number[] = [];
  const test: number[] = [];
  const classes = [...byClass.keys()].sort((a, b) => String(a).localeCompare(String(b)));
  for (const c of classes) {
    const idx = seededShuffle(byClass.get(c) ?? [], rng);
    const nTest = Math.round(idx.length * testFraction);
    test.push(...idx.slice(0, nTest));
    train.push(...idx.slice(nTest));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

/** Stratified subsample of `size` indices (seeded), e.g. for fast tests. */
export function stratifiedSample(labels: readonly (string | number)[], size: number, seed: number): number[] {
  if (size >= labels.length) return labels.map((_, i) => i);
  return stratifiedSplit(labels, size / labels.length, seed).test;
}

/**
 * Expected calibration error of the top label: samples binned by their highest probability into
 * `bins` equal-width bins on [0, 1]; Σ_b (n_b / n)·|accuracy_b − mean confidence_b|.
 * `probs` is row-major n × k.
 */
export function expectedCalibrationError(probs: ArrayLike<number>, yTrue: readonly number[], k: number, bins = 15): number {
  const n = yTrue.length;
  if (probs.length !== n * k) throw new RangeError('probs must hold n × k values');
  if (n === 0) return Number.NaN;
  const count = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const hit = new Array<number>(bins).fill(0);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if ((probs[i * k + c] as number) > (probs[i * k + best] as number)) best = c;
    const p = probs[i * k + best] as number;
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(p * bins) - 1));
    count[b] = (count[b] as number) + 1;
    conf[b] = (conf[b] as number) + p;
    if (best === yTrue[i]) hit[b] = (hit[b] as number) + 1;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const c = count[b] as number;
    if (c > 0) ece += (c / n) * Math.abs((hit[b] as number) / c - (conf[b] as number) / c);
  }
  return ece;
}
