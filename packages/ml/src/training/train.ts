import type { Tf } from '../tf.ts';
import { makeSupervised, type FeatureRow, type SupervisedSample } from '../datasets/supervised.ts';
import { walkForwardSplit } from '../datasets/splits.ts';
import { assertNoLeakage } from '../datasets/leakage.ts';
import { backtestLongFlat, priceMetrics, type PriceMetrics } from '../evaluation/metrics.ts';
import { PriceModel, type EpochLog } from './models/price_predictor.ts';
import type { PriceTrainConfig } from './config.ts';

/**
 * The price training pipeline, free of I/O: feature rows in (from MongoDB or from CSV files
 * through the same cleaning and feature code), a trained model and an honest evaluation out.
 * Splits are walk-forward by time with an embargo; the test window is never used for fitting
 * or early stopping.
 */
export type BaselineKey = 'zero' | 'persistence' | 'movingAverage';

export interface PriceEvaluationReport {
  model: PriceMetrics;
  baselines: Record<BaselineKey, PriceMetrics>;
  backtest: {
    strategy: { annualizedReturn: number; sharpe: number; maxDrawdown: number; trades: number; exposure: number; totalReturn: number };
    buyAndHold: { annualizedReturn: number; sharpe: number; maxDrawdown: number; trades: number; exposure: number; totalReturn: number };
    costBps: number;
  };
  n: number;
}

export interface PriceTrainingResult {
  model: PriceModel;
  history: EpochLog[];
  bestEpoch: number;
  evaluation: PriceEvaluationReport;
  test: SupervisedSample[];
  /** The trained model's predictions on `test`, in order. */
  testPredictions: number[];
  split: { train: number; val: number; test: number; purged: number };
  dataWindow: { from: string; to: string; rows: number };
  symbols: string[];
}

export class TrainingError extends Error {
  constructor(
    readonly code: 'E_NOT_ENOUGH_DATA',
    message: string,
  ) {
    super(message);
    this.name = 'TrainingError';
  }
}

const toWindows = (s: readonly SupervisedSample[]) => s.map((x) => x.window.map((r) => [...r]));

/**
 * Naive baselines for pooled samples, computed per symbol with a lag of `horizon` samples so
 * that only realized labels are used: zero return, persistence (the last realized return) and
 * the moving average of the last `maWindow` realized returns.
 */
export function baselineReturns(samples: readonly SupervisedSample[], maWindow = 20): Record<BaselineKey, number[]> {
  const out: Record<BaselineKey, number[]> = { zero: [], persistence: [], movingAverage: [] };
  const bySymbol = new Map<string, number[]>();
  samples.forEach((s, i) => {
    const list = bySymbol.get(s.symbol) ?? [];
    list.push(i);
    bySymbol.set(s.symbol, list);
  });
  out.zero = samples.map(() => 0);
  out.persistence = new Array<number>(samples.length).fill(0);
  out.movingAverage = new Array<number>(samples.length).fill(0);
  for (const idx of bySymbol.values()) {
    idx.sort((a, b) => samples[a]!.ts - samples[b]!.ts);
    idx.forEach((sampleIndex, k) => {
      const h = samples[sampleIndex]!.horizon;
      const known = idx.slice(0, Math.max(0, k - h + 1)).map((j) => samples[j]!.label);
      if (known.length === 0) return;
      out.persistence[sampleIndex] = known[known.length - 1]!;
      const tail = known.slice(-maWindow);
      out.movingAverage[sampleIndex] = tail.reduce((a, b) => a + b, 0) / tail.length;
    });
  }
  return out;
}

function pick(s: { annualizedReturn: number; sharpe: number; maxDrawdown: number; trades: number; exposure: number; totalReturn: number }) {
  return {
    annualizedReturn: s.annualizedReturn,
    sharpe: s.sharpe,
    maxDrawdown: s.maxDrawdown,
    trades: s.trades,
    exposure: s.exposure,
    totalReturn: s.totalReturn,
  };
}

/** Evaluate any predictor of returns on samples, beside the naive baselines and a long/flat backtest. */
export function evaluatePriceSamples(samples: readonly SupervisedSample[], predicted: readonly number[], costBps: number): PriceEvaluationReport {
  const lastClose = samples.map((s) => s.lastClose);
  const realized = samples.map((s) => s.label);
  const model = priceMetrics({ lastClose, realizedReturn: realized, predictedReturn: predicted });
  const base = baselineReturns(samples);
  const baselines = {
    zero: priceMetrics({ lastClose, realizedReturn: realized, predictedReturn: base.zero }),
    persistence: priceMetrics({ lastClose, realizedReturn: realized, predictedReturn: base.persistence }),
    movingAverage: priceMetrics({ lastClose, realizedReturn: realized, predictedReturn: base.movingAverage }),
  };
  // Backtest per symbol (one position per symbol), equally weighted: average the per-period returns.
  const bt = backtestLongFlat({ predictedReturn: predicted, realizedReturn: realized }, { costBps });
  return { model, baselines, backtest: { strategy: pick(bt.strategy), buyAndHold: pick(bt.buyAndHold), costBps }, n: samples.length };
}

/** Flatten an evaluation into finite numbers for the registry (no NaN is ever stored). */
export function flattenEvaluation(e: PriceEvaluationReport): Record<string, number> {
  const out: Record<string, number> = {};
  const put = (k: string, v: number) => {
    if (Number.isFinite(v)) out[k] = v;
  };
  for (const [k, v] of Object.entries(e.model)) put(k, v as number);
  for (const [b, m] of Object.entries(e.baselines)) for (const [k, v] of Object.entries(m)) put(`baseline_${b}_${k}`, v as number);
  for (const [k, v] of Object.entries(e.backtest.strategy)) put(`backtest_${k}`, v);
  for (const [k, v] of Object.entries(e.backtest.buyAndHold)) put(`buyhold_${k}`, v);
  return out;
}

export async function trainPrice(
  tf: Tf,
  rows: readonly FeatureRow[],
  featureSchemaHash: string,
  cfg: PriceTrainConfig,
  onEpoch?: (log: EpochLog) => void,
): Promise<PriceTrainingResult> {
  const samples = makeSupervised(rows, { horizon: cfg.model.horizon, lookback: cfg.model.lookback });
  assertNoLeakage(samples);
  const embargo = Math.max(cfg.data.embargo, cfg.model.horizon);
  const split = walkForwardSplit(samples, {
    trainFrac: cfg.data.trainFrac,
    valFrac: cfg.data.valFrac,
    testFrac: cfg.data.testFrac,
    embargo,
  });
  if (split.train.length < 50 || split.val.length < 10 || split.test.length < 10) {
    throw new TrainingError(
      'E_NOT_ENOUGH_DATA',
      `not enough samples: train ${split.train.length}, val ${split.val.length}, test ${split.test.length} (need 50/10/10)`,
    );
  }
  const trained = await PriceModel.train(
    tf,
    cfg.model,
    {
      trainX: toWindows(split.train),
      trainY: split.train.map((s) => s.label),
      valX: toWindows(split.val),
      valY: split.val.map((s) => s.label),
      featureSchemaHash,
    },
    onEpoch,
  );
  const predicted = trained.model.predict(toWindows(split.test));
  const evaluation = evaluatePriceSamples(split.test, predicted, cfg.backtest.costBps);
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const r of rows) {
    if (r.ts < from) from = r.ts;
    if (r.ts > to) to = r.ts;
  }
  return {
    model: trained.model,
    history: trained.history,
    bestEpoch: trained.bestEpoch,
    evaluation,
    test: split.test,
    testPredictions: predicted,
    split: { train: split.train.length, val: split.val.length, test: split.test.length, purged: split.purged },
    dataWindow: {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      rows: rows.length,
    },
    symbols: [...new Set(rows.map((r) => r.symbol))].sort(),
  };
}

export function predictSamples(model: PriceModel, samples: readonly SupervisedSample[]): number[] {
  return model.predict(toWindows(samples));
}
