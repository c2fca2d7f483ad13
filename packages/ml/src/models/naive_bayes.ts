/**
 * Multinomial naive Bayes on word n-gram counts (scikit-learn's MultinomialNB with Laplace /
 * Lidstone smoothing `alpha`), a strong, cheap text-classification baseline. Pure functions.
 */
import { ngrams, tokenize } from '../text/tokenizer.ts';

export interface NaiveBayesOptions {
  /** Word n-grams 1..maxN (default 2). */
  maxN?: number;
  /** Additive smoothing (default 1). */
  alpha?: number;
}

export interface NaiveBayesModel {
  classes: number;
  /** log P(class). */
  logPrior: number[];
  /** feature → log P(feature | class), one entry per class. */
  logLikelihood: Map<string, number[]>;
  /** Features unseen in training are ignored at prediction, as in scikit-learn's vocabulary. */
  maxN: number;
}

export function naiveBayesFeatures(text: string, maxN: number): string[] {
  const toks = tokenize(text);
  const out: string[] = [];
  for (let n = 1; n <= maxN; n++) out.push(...ngrams(toks, n));
  return out;
}

export function fitNaiveBayes(texts: readonly string[], labels: readonly number[], classes: number, options: NaiveBayesOptions = {}): NaiveBayesModel {
  const maxN = options.maxN ?? 2;
  const alpha = options.alpha ?? 1;
  if (texts.length !== labels.length) throw new RangeError('texts and labels differ in length');
  const counts = new Map<string, number[]>();
  const docs = new Array<number>(classes).fill(0);
  const totals = new Array<number>(classes).fill(0);
  texts.forEach((t, i) => {
    const y = labels[i] as number;
    docs[y] = (docs[y] as number) + 1;
    for (const f of naiveBayesFeatures(t, maxN)) {
      let row = counts.get(f);
      if (!row) counts.set(f, (row = new Array<number>(classes).fill(0)));
      row[y] = (row[y] as number) + 1;
      totals[y] = (totals[y] as number) + 1;
    }
  });
  const v = counts.size;
  const logLikelihood = new Map<string, number[]>();
  for (const [f, row] of counts) logLikelihood.set(f, row.map((c, y) => Math.log((c + alpha) / ((totals[y] as number) + alpha * v))));
  // Classes absent from training get −∞ prior (never predicted), as log(0).
  const logPrior = docs.map((d) => Math.log(d / texts.length));
  return { classes, logPrior, logLikelihood, maxN };
}

/** Row-major n × classes posterior probabilities. */
export function predictNaiveBayes(model: NaiveBayesModel, texts: readonly string[]): Float64Array {
  const k = model.classes;
  const out = new Float64Array(texts.length * k);
  texts.forEach((t, i) => {
    const s = [...model.logPrior];
    for (const f of naiveBayesFeatures(t, model.maxN)) {
      const ll = model.logLikelihood.get(f);
      if (ll) for (let c = 0; c < k; c++) s[c] = (s[c] as number) + (ll[c] as number);
    }
    const max = Math.max(...s);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp((s[c] as number) - max);
    for (let c = 0; c < k; c++) out[i * k + c] = Math.exp((s[c] as number) - max) / sum;
  });
  return out;
}
