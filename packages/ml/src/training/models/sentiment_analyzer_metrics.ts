/**
 * Classification metrics and seeded data splitting for the sentiment analyzer. Pure functions,
 * no tfjs: metrics are computed on plain label indices so they can be cross-checked against
 * scikit-learn.
 */
import { mulberry32, seededShuffle } from '../../datasets/random.ts';

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

/** Precision/recall/F1 with 0 for empty denominators (scikit-learn's zero_division=0). */
export function classificationReport(yTrue: readonly number[], yPred: readonly number[], labels: readonly string[]): ClassificationReport {
  if (yTrue.length !== yPred.length) throw new RangeError('yTrue and yPred differ in length');
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i] as number;
    const p = yPred[i] as number;
    const row = confusion[t];
    if (row === undefined || p < 0 || p >= k) throw new RangeError(`label index out of range at ${i}`);
    row[p] = (row[p] as number) + 1;
    if (t === p) correct++;
  }
  const perClass: Record<string, ClassMetrics> = {};
  let f1Sum = 0;
  labels.forEach((label, c) => {
    const tp = confusion[c]?.[c] ?? 0;
    const support = (confusion[c] ?? []).reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + (row[c] ?? 0), 0);
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass[label] = { precision, recall, f1, support };
    f1Sum += f1;
  });
  return {
    accuracy: yTrue.length === 0 ? 0 : correct / yTrue.length,
    macroF1: k === 0 ? 0 : f1Sum / k,
    perClass,
    confusion,
    labels: [...labels],
    count: yTrue.length,
  };
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
