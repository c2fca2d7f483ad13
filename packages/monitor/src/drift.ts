/**
 * Drift of live data against a model version's reference (stored in the registry with the
 * version): per-feature PSI (10 quantile bins of the reference) and two-sample KS, PSI and KS
 * of the predicted returns, and PSI / chi-square of the sentiment label distribution. The
 * statistics come from @stock-mlops/ml/evaluation/drift (cross-checked against numpy/scipy).
 */
import {
  categoricalDrift,
  ksFromReference,
  psiFromReference,
  type CategoricalReference,
  type ReferenceStats,
} from '@stock-mlops/ml/evaluation/drift';
import type { PriceReference } from './model_info.ts';

export interface FeatureDriftRow {
  name: string;
  psi: number;
  ksStatistic: number;
  ksPValue: number;
  drifted: boolean;
  /** Mean of the reference and of the live window, to read the direction of a shift. */
  referenceMean: number;
  currentMean: number;
}

export interface FeatureDriftSummary {
  n: number;
  evaluated: number;
  drifted: number;
  driftedShare: number;
  psiMax: number;
  psiMaxFeature: string;
  psiMean: number;
  ksMax: number;
  ksMaxFeature: string;
  /** Reference features the live vectors do not carry (not evaluated). */
  missing: string[];
  features: FeatureDriftRow[];
}

export interface LiveVector {
  names?: readonly string[] | undefined;
  values: readonly number[];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Drift of each reference feature over `rows` (live feature vectors). Vectors carry their names
 * (the feature schema's order); without names they are read in the reference's order.
 */
export function evaluateFeatureDrift(reference: PriceReference, rows: readonly LiveVector[], psiThreshold: number): FeatureDriftSummary {
  const columns = new Map<string, number[]>();
  for (const name of reference.names) columns.set(name, []);
  for (const row of rows) {
    const names = row.names ?? reference.names;
    names.forEach((name, i) => {
      const v = row.values[i];
      if (v !== undefined) columns.get(name)?.push(v);
    });
  }
  const features: FeatureDriftRow[] = [];
  const missing: string[] = [];
  for (const name of reference.names) {
    const values = columns.get(name)!;
    const stats = reference.features[name]!;
    if (values.length < rows.length || values.length === 0) {
      missing.push(name);
      continue;
    }
    const psi = psiFromReference(stats, values);
    const ks = ksFromReference(stats, values);
    features.push({
      name,
      psi,
      ksStatistic: ks.statistic,
      ksPValue: ks.pValue,
      drifted: psi > psiThreshold,
      referenceMean: stats.mean,
      currentMean: mean(values),
    });
  }
  const byPsi = [...features].sort((a, b) => b.psi - a.psi)[0];
  const byKs = [...features].sort((a, b) => b.ksStatistic - a.ksStatistic)[0];
  // A feature that was constant in the reference (e.g. a join with no data in the training window)
  // has degenerate quantile bins: it is reported, but it does not count towards the drifted share.
  const informative = features.filter((f) => reference.features[f.name]!.max > reference.features[f.name]!.min);
  const drifted = informative.filter((f) => f.drifted).length;
  return {
    n: rows.length,
    evaluated: informative.length,
    drifted,
    driftedShare: informative.length ? drifted / informative.length : 0,
    psiMax: byPsi?.psi ?? NaN,
    psiMaxFeature: byPsi?.name ?? '',
    psiMean: features.length ? mean(features.map((f) => f.psi)) : NaN,
    ksMax: byKs?.ksStatistic ?? NaN,
    ksMaxFeature: byKs?.name ?? '',
    missing,
    features,
  };
}

export interface NumericDrift {
  n: number;
  psi: number;
  ksStatistic: number;
  ksPValue: number;
  referenceMean: number;
  currentMean: number;
}

/** PSI and KS of one live sample (e.g. predicted returns) against stored reference statistics. */
export function evaluateNumericDrift(reference: ReferenceStats, values: readonly number[]): NumericDrift {
  const ks = ksFromReference(reference, values);
  return {
    n: values.length,
    psi: psiFromReference(reference, values),
    ksStatistic: ks.statistic,
    ksPValue: ks.pValue,
    referenceMean: reference.mean,
    currentMean: mean(values),
  };
}

export interface LabelDrift {
  n: number;
  psi: number;
  chiSquare: number;
  pValue: number;
  labels: string[];
  referenceFractions: number[];
  currentFractions: number[];
}

export function evaluateLabelDrift(reference: CategoricalReference, labels: readonly string[]): LabelDrift {
  const known = new Set(reference.labels);
  const d = categoricalDrift(reference, labels.filter((l) => known.has(l)));
  return {
    n: d.n,
    psi: d.psi,
    chiSquare: d.chiSquare,
    pValue: d.pValue,
    labels: [...reference.labels],
    referenceFractions: d.referenceFractions,
    currentFractions: d.currentFractions,
  };
}
