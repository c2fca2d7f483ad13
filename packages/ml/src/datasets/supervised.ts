/**
 * Turns per-symbol feature rows into supervised samples for forecasting models.
 *
 * For each symbol, rows are ordered by `ts` and index t gets a sample when it has `lookback`
 * rows up to and including t and `horizon` rows after it:
 * - inputs: the feature vectors of rows t−lookback+1 … t (oldest first; the last is row t);
 * - label: forward simple return close_{t+h} / close_t − 1;
 * - timing: ts = ts_t (as-of), labelStart = ts_{t+1}, labelEnd = ts_{t+h}.
 * Nothing at or after t+1 enters the inputs; `assertNoLeakage` checks exactly that.
 * Timestamps are epoch milliseconds (any strictly increasing number per symbol works).
 */
import { ML_ERROR_CODES, MlError } from '../evaluation/errors.ts';

export interface FeatureRow {
  symbol: string;
  /** Epoch milliseconds of the bar close the row describes. */
  ts: number;
  close: number;
  vector: readonly number[];
}

export interface SupervisedOptions {
  /** Periods ahead the label looks (>= 1). */
  horizon: number;
  /** Feature rows per input window, ending at the as-of row (>= 1). */
  lookback: number;
}

/** What the split and leakage utilities need to know about a sample. */
export interface SampleTiming {
  symbol: string;
  /** As-of time: the prediction is made after this bar closes. */
  ts: number;
  /** Timestamps of the rows in the input window, oldest first. */
  inputTs: readonly number[];
  /** First timestamp whose price enters the label (t+1). */
  labelStart: number;
  /** Last timestamp whose price enters the label (t+h). */
  labelEnd: number;
  horizon: number;
}

export interface SupervisedSample extends SampleTiming {
  /** close_t, to turn a predicted return back into a price. */
  lastClose: number;
  /** close_{t+h} / close_t − 1. */
  label: number;
  /** Feature vectors of the input rows (shared with the input rows, not copied). */
  window: readonly (readonly number[])[];
}

function datasetError(message: string, details?: Record<string, unknown>): MlError {
  return new MlError(ML_ERROR_CODES.DATASET_INPUT, message, details);
}

function validateRows(rows: readonly FeatureRow[]): void {
  if (!Array.isArray(rows)) throw datasetError('rows must be an array');
  const dim = rows[0]?.vector.length;
  rows.forEach((row, i) => {
    if (typeof row.symbol !== 'string' || row.symbol === '') throw datasetError(`rows[${i}].symbol must be a non-empty string`, { index: i });
    if (!Number.isFinite(row.ts)) throw datasetError(`rows[${i}].ts must be a finite number (epoch ms)`, { index: i });
    if (!Number.isFinite(row.close) || row.close <= 0) throw datasetError(`rows[${i}].close must be a finite number > 0`, { index: i });
    if (!Array.isArray(row.vector) || row.vector.length !== dim) {
      throw datasetError(`rows[${i}].vector must have ${String(dim)} values like rows[0]`, { index: i });
    }
    if (!row.vector.every(Number.isFinite)) throw datasetError(`rows[${i}].vector holds a non-finite value`, { index: i });
  });
}

/** Orders samples by as-of time, then symbol: the pooled, time-major order used by the splits. */
export function compareByTime(a: { ts: number; symbol: string }, b: { ts: number; symbol: string }): number {
  return a.ts - b.ts || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0);
}

export function makeSupervised(rows: readonly FeatureRow[], { horizon, lookback }: SupervisedOptions): SupervisedSample[] {
  if (!Number.isInteger(horizon) || horizon < 1) throw datasetError(`horizon must be an integer >= 1, got ${horizon}`);
  if (!Number.isInteger(lookback) || lookback < 1) throw datasetError(`lookback must be an integer >= 1, got ${lookback}`);
  validateRows(rows);
  const bySymbol = new Map<string, FeatureRow[]>();
  for (const row of rows) {
    const list = bySymbol.get(row.symbol);
    if (list) list.push(row);
    else bySymbol.set(row.symbol, [row]);
  }
  const samples: SupervisedSample[] = [];
  for (const [symbol, list] of bySymbol) {
    const series = [...list].sort((a, b) => a.ts - b.ts);
    for (let i = 1; i < series.length; i++) {
      if ((series[i] as FeatureRow).ts === (series[i - 1] as FeatureRow).ts) {
        throw datasetError(`duplicate timestamp ${(series[i] as FeatureRow).ts} for symbol ${symbol}`, { symbol });
      }
    }
    for (let t = lookback - 1; t + horizon < series.length; t++) {
      const inputs = series.slice(t - lookback + 1, t + 1);
      const asOf = series[t] as FeatureRow;
      samples.push({
        symbol,
        ts: asOf.ts,
        inputTs: inputs.map((r) => r.ts),
        labelStart: (series[t + 1] as FeatureRow).ts,
        labelEnd: (series[t + horizon] as FeatureRow).ts,
        horizon,
        lastClose: asOf.close,
        label: (series[t + horizon] as FeatureRow).close / asOf.close - 1,
        window: inputs.map((r) => r.vector),
      });
    }
  }
  return samples.sort(compareByTime);
}
