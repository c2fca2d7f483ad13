/**
 * The shapes of a price model's evaluation: its metrics beside the same-run baselines and a
 * long/flat backtest. Shared by the training pipeline (train.ts) and the walk-forward scores.
 */
import type { PriceMetrics } from '../evaluation/metrics.ts';

/** The naive baselines every price evaluation reports. */
export type BaselineKey = 'zero' | 'persistence' | 'reversal' | 'movingAverage';

export interface PriceEvaluationReport {
  model: PriceMetrics;
  /** The naive baselines and, when the model carries one, the ridge baseline (`ridge`). */
  baselines: Record<BaselineKey, PriceMetrics> & { ridge?: PriceMetrics };
  backtest: {
    strategy: BacktestStats;
    buyAndHold: BacktestStats;
    costBps: number;
  };
  n: number;
}

export interface BacktestStats {
  annualizedReturn: number;
  sharpe: number;
  maxDrawdown: number;
  /** Position changes over all symbols' books (entering from flat counts). */
  trades: number;
  /** Mean one-way turnover per symbol-period: Σ|position change| / symbol-periods (positions are 0 or 1). */
  turnover: number;
  exposure: number;
  totalReturn: number;
}
