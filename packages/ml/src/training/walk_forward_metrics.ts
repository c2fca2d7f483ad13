/**
 * Walk-forward scores: each fold's test block scored on its own (IC, rank IC, directional
 * accuracy, MAE and RMSE as ratios to the zero-return baseline, the long/flat backtest with costs
 * and turnover), then the folds summarized, with the t-statistic of the IC across folds.
 *
 * A fold whose IC is undefined (constant predictions, e.g. a model that stayed the zero
 * baseline, or a constant realized return) carries no ranking information: it enters the
 * across-fold mean and t-statistic as IC 0 and is counted in `undefinedFolds`. Pure functions.
 */
import { mean, variance } from '../evaluation/stats.ts';
import type { BacktestStats, PriceEvaluationReport } from './price_report.ts';

export interface FoldScore {
  n: number;
  /** Pearson IC of predicted vs realized returns; NaN when undefined (see `icDefined`). */
  ic: number;
  rankIc: number;
  /** False when the IC is undefined (a constant side): it counts as 0 across folds. */
  icDefined: boolean;
  directionalAccuracy: number;
  /** Model MAE / zero-return MAE on the same block (price errors): < 1 = better than the random walk. */
  maeRatio: number;
  /** Model RMSE / zero-return RMSE on the same block. */
  rmseRatio: number;
  backtest: BacktestStats;
  buyAndHold: BacktestStats;
  costBps: number;
}

export interface AcrossFolds {
  folds: number;
  mean: number;
  /** Sample standard deviation over folds (n − 1); NaN with fewer than 2 folds. */
  std: number;
  /**
   * mean / (std / √folds): the t-statistic of the fold means. NaN with fewer than 2 folds or
   * when every fold has the same value 0; ±Infinity when every fold has the same non-zero value.
   */
  t: number;
}

export interface WalkForwardSummary {
  folds: number;
  ic: AcrossFolds & { undefinedFolds: number };
  rankIc: AcrossFolds & { undefinedFolds: number };
  directionalAccuracy: AcrossFolds;
  maeRatio: AcrossFolds;
  rmseRatio: AcrossFolds;
  /** Folds whose RMSE is below the zero-return baseline's. */
  foldsBeatingZero: number;
  backtest: { totalReturn: AcrossFolds; sharpe: AcrossFolds; turnover: AcrossFolds; buyAndHoldTotalReturn: AcrossFolds };
}

const ratio = (a: number, b: number): number => (b > 0 ? a / b : Number.NaN);

/** One fold's scores from its evaluation (model beside the zero baseline on the same block). */
export function scoreFold(ev: PriceEvaluationReport): FoldScore {
  const m = ev.model;
  const zero = ev.baselines.zero;
  return {
    n: ev.n,
    ic: m.ic,
    rankIc: m.rankIc,
    icDefined: Number.isFinite(m.ic),
    directionalAccuracy: m.directionalAccuracy,
    maeRatio: ratio(m.mae, zero.mae),
    rmseRatio: ratio(m.rmse, zero.rmse),
    backtest: ev.backtest.strategy,
    buyAndHold: ev.backtest.buyAndHold,
    costBps: ev.backtest.costBps,
  };
}

/** Mean, standard deviation and t-statistic of per-fold values (non-finite values are left out). */
export function acrossFolds(values: readonly number[]): AcrossFolds {
  const v = values.filter(Number.isFinite);
  const k = v.length;
  if (k === 0) return { folds: 0, mean: Number.NaN, std: Number.NaN, t: Number.NaN };
  const m = mean(v);
  if (k < 2) return { folds: 1, mean: m, std: Number.NaN, t: Number.NaN };
  const std = Math.sqrt(variance(v, 1));
  const t = std > 0 ? m / (std / Math.sqrt(k)) : m === 0 ? Number.NaN : Math.sign(m) * Number.POSITIVE_INFINITY;
  return { folds: k, mean: m, std, t };
}

export function summarizeFolds(folds: readonly FoldScore[]): WalkForwardSummary {
  const orZero = (x: number) => (Number.isFinite(x) ? x : 0);
  return {
    folds: folds.length,
    ic: { ...acrossFolds(folds.map((f) => orZero(f.ic))), undefinedFolds: folds.filter((f) => !Number.isFinite(f.ic)).length },
    rankIc: { ...acrossFolds(folds.map((f) => orZero(f.rankIc))), undefinedFolds: folds.filter((f) => !Number.isFinite(f.rankIc)).length },
    directionalAccuracy: acrossFolds(folds.map((f) => f.directionalAccuracy)),
    maeRatio: acrossFolds(folds.map((f) => f.maeRatio)),
    rmseRatio: acrossFolds(folds.map((f) => f.rmseRatio)),
    foldsBeatingZero: folds.filter((f) => f.rmseRatio < 1).length,
    backtest: {
      totalReturn: acrossFolds(folds.map((f) => f.backtest.totalReturn)),
      sharpe: acrossFolds(folds.map((f) => f.backtest.sharpe)),
      turnover: acrossFolds(folds.map((f) => f.backtest.turnover)),
      buyAndHoldTotalReturn: acrossFolds(folds.map((f) => f.buyAndHold.totalReturn)),
    },
  };
}
