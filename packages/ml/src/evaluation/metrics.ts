/**
 * Evaluation metrics: price forecasts (error, direction, information coefficient), naive
 * baselines, a long/flat backtest with transaction costs, and sentiment classification.
 *
 * All functions are pure and validate their inputs: arrays must have equal lengths and hold
 * finite numbers, otherwise an MlError with code E_METRICS_INPUT is thrown. Undefined results
 * (a correlation of a constant series, a Sharpe ratio with zero volatility, a directional
 * accuracy with no non-zero realized return) are NaN, never a made-up number.
 *
 * Row i of every price input describes one prediction made at time t_i: `lastClose` is the
 * close at t_i, `realizedReturn` the simple return from t_i to t_{i+1}, `predictedReturn` the
 * model's forecast of that return made at t_i. The baselines additionally assume the rows are
 * consecutive periods of a single series in time order.
 */
import { mean, pearson, spearman, sum, variance } from './stats.ts';
import { assertFiniteArray, assertOption, assertSameLength, inputError } from './validate.ts';

// ---------------------------------------------------------------------------------------------
// Price forecasts
// ---------------------------------------------------------------------------------------------

export interface PriceSeries {
  /** Close at the as-of time t (> 0). */
  lastClose: readonly number[];
  /** Simple return realized over the next period, close_{t+1} / close_t - 1 (> -1). */
  realizedReturn: readonly number[];
  /** Forecast of `realizedReturn` made at t. */
  predictedReturn: readonly number[];
}

export interface PriceMetrics {
  n: number;
  /** Mean absolute error of the predicted price lastClose·(1+predicted) vs lastClose·(1+realized). */
  mae: number;
  /** Root mean squared error of the same prices. */
  rmse: number;
  /** Mean absolute percentage error of the prices, as a fraction (0.01 = 1 %), like sklearn. */
  mape: number;
  /**
   * Share of rows with a non-zero realized return whose predicted return has the same sign.
   * Rows with realizedReturn exactly 0 carry no direction and are left out; a predicted return
   * of exactly 0 makes no directional call and counts as wrong. NaN when no row qualifies.
   */
  directionalAccuracy: number;
  /** Number of rows that entered `directionalAccuracy`. */
  directionalN: number;
  /** Information coefficient: Pearson correlation of predicted vs realized returns. */
  ic: number;
  /** Rank IC: Spearman correlation (average ranks for ties) of predicted vs realized returns. */
  rankIc: number;
}

function assertPriceSeries(series: PriceSeries): number {
  assertFiniteArray('lastClose', series.lastClose);
  assertFiniteArray('realizedReturn', series.realizedReturn);
  assertFiniteArray('predictedReturn', series.predictedReturn);
  const n = assertSameLength({
    lastClose: series.lastClose,
    realizedReturn: series.realizedReturn,
    predictedReturn: series.predictedReturn,
  });
  series.lastClose.forEach((c, i) => {
    if (c <= 0) throw inputError(`lastClose[${i}] must be > 0, got ${c}`, { index: i });
  });
  series.realizedReturn.forEach((r, i) => {
    if (r <= -1) throw inputError(`realizedReturn[${i}] must be > -1, got ${r}`, { index: i });
  });
  return n;
}

export function priceMetrics(series: PriceSeries): PriceMetrics {
  const n = assertPriceSeries(series);
  const { lastClose, realizedReturn, predictedReturn } = series;
  const absErr: number[] = [];
  const sqErr: number[] = [];
  const pctErr: number[] = [];
  let directionalN = 0;
  let directionalHits = 0;
  for (let i = 0; i < n; i++) {
    const close = lastClose[i] as number;
    const realized = realizedReturn[i] as number;
    const predicted = predictedReturn[i] as number;
    const actualPrice = close * (1 + realized);
    const err = close * (1 + predicted) - actualPrice;
    absErr.push(Math.abs(err));
    sqErr.push(err * err);
    pctErr.push(Math.abs(err) / Math.abs(actualPrice));
    if (realized !== 0) {
      directionalN++;
      if (Math.sign(predicted) === Math.sign(realized)) directionalHits++;
    }
  }
  return {
    n,
    mae: mean(absErr),
    rmse: Math.sqrt(mean(sqErr)),
    mape: mean(pctErr),
    directionalAccuracy: directionalN > 0 ? directionalHits / directionalN : Number.NaN,
    directionalN,
    ic: pearson(predictedReturn, realizedReturn),
    rankIc: spearman(predictedReturn, realizedReturn),
  };
}

// ---------------------------------------------------------------------------------------------
// Naive baselines
// ---------------------------------------------------------------------------------------------

export type BaselineName = 'zero' | 'persistence' | 'movingAverage';

export interface BaselineOptions {
  /** Number of past realized returns averaged by the moving-average drift baseline. */
  maWindow?: number;
}

export const DEFAULT_MA_WINDOW = 20;

/**
 * Predicted returns of the naive baselines, each using only returns realized before row i
 * (realizedReturn[i-1] is the return from t_{i-1} to t_i, known at t_i):
 * - zero: 0 (random walk: tomorrow's price is today's);
 * - persistence: realizedReturn[i-1];
 * - movingAverage: mean of the last `maWindow` realized returns before row i (fewer at the start).
 * Row 0 has no history, so persistence and movingAverage predict 0 there.
 */
export function baselinePredictions(
  realizedReturn: readonly number[],
  { maWindow = DEFAULT_MA_WINDOW }: BaselineOptions = {},
): Record<BaselineName, number[]> {
  assertFiniteArray('realizedReturn', realizedReturn);
  assertOption(Number.isInteger(maWindow) && maWindow >= 1, `maWindow must be an integer >= 1, got ${maWindow}`);
  const n = realizedReturn.length;
  const zero = new Array<number>(n).fill(0);
  const persistence = realizedReturn.map((_, i) => (i === 0 ? 0 : (realizedReturn[i - 1] as number)));
  const movingAverage = realizedReturn.map((_, i) =>
    i === 0 ? 0 : mean(realizedReturn.slice(Math.max(0, i - maWindow), i)),
  );
  return { zero, persistence, movingAverage };
}

export interface PriceEvaluation {
  model: PriceMetrics;
  baselines: Record<BaselineName, PriceMetrics>;
}

/** Metrics of the model and of each naive baseline on the same rows, side by side. */
export function evaluatePriceWithBaselines(series: PriceSeries, options: BaselineOptions = {}): PriceEvaluation {
  const model = priceMetrics(series);
  const predictions = baselinePredictions(series.realizedReturn, options);
  const baseline = (name: BaselineName): PriceMetrics =>
    priceMetrics({ lastClose: series.lastClose, realizedReturn: series.realizedReturn, predictedReturn: predictions[name] });
  return {
    model,
    baselines: { zero: baseline('zero'), persistence: baseline('persistence'), movingAverage: baseline('movingAverage') },
  };
}

// ---------------------------------------------------------------------------------------------
// Long/flat backtest
// ---------------------------------------------------------------------------------------------

export interface BacktestOptions {
  /** Go long when predictedReturn > threshold, else stay flat. Default 0. */
  threshold?: number;
  /** Cost in basis points of the traded notional, charged per unit of position change. Default 0. */
  costBps?: number;
  /** Periods per year used to annualize (252 trading days). */
  periodsPerYear?: number;
}

export interface PerformanceStats {
  n: number;
  /** equity[n-1] - 1. */
  totalReturn: number;
  /** Geometric: finalEquity^(periodsPerYear/n) - 1; -1 once equity is wiped out. */
  annualizedReturn: number;
  /** Sample standard deviation (n-1) of per-period net returns × sqrt(periodsPerYear). */
  annualizedVolatility: number;
  /** mean/std (n-1) of per-period net returns × sqrt(periodsPerYear), risk-free rate 0; NaN if std is 0. */
  sharpe: number;
  /** Largest peak-to-trough fall of the equity curve (starting at 1) as a positive fraction. */
  maxDrawdown: number;
  /** Number of position changes, including the initial entry from flat. */
  trades: number;
  /** Fraction of periods spent long. */
  exposure: number;
}

export interface StrategyResult extends PerformanceStats {
  /** Position held over period i (0 or 1). */
  positions: number[];
  /** Net return of period i: position·realized − cost·|position change|. */
  returns: number[];
  /** Equity after period i, starting from 1 before period 0. */
  equity: number[];
}

export interface BacktestResult {
  strategy: StrategyResult;
  buyAndHold: StrategyResult;
}

/**
 * Largest peak-to-trough decline of `curve`, as a positive fraction of the running peak
 * (0 for a curve that never falls). The running peak starts at curve[0].
 */
export function maxDrawdown(curve: readonly number[]): number {
  assertFiniteArray('curve', curve);
  let peak = curve[0] as number;
  let worst = 0;
  for (const v of curve) {
    if (v > peak) peak = v;
    if (peak > 0) worst = Math.max(worst, (peak - v) / peak);
  }
  return worst;
}

function simulate(positions: number[], realized: readonly number[], costRate: number, periodsPerYear: number): StrategyResult {
  const n = positions.length;
  const returns: number[] = [];
  const equity: number[] = [];
  let previous = 0;
  let trades = 0;
  let value = 1;
  for (let i = 0; i < n; i++) {
    const position = positions[i] as number;
    const change = Math.abs(position - previous);
    if (change > 0) trades++;
    const r = position * (realized[i] as number) - costRate * change;
    returns.push(r);
    value *= 1 + r;
    equity.push(value);
    previous = position;
  }
  const final = equity[n - 1] as number;
  const std = n > 1 ? Math.sqrt(variance(returns, 1)) : Number.NaN;
  const annualization = Math.sqrt(periodsPerYear);
  return {
    n,
    totalReturn: final - 1,
    annualizedReturn: final > 0 ? final ** (periodsPerYear / n) - 1 : -1,
    annualizedVolatility: std * annualization,
    sharpe: std > 0 ? (mean(returns) / std) * annualization : Number.NaN,
    maxDrawdown: maxDrawdown([1, ...equity]),
    trades,
    exposure: sum(positions) / n,
    positions,
    returns,
    equity,
  };
}

/**
 * Long/flat backtest. The position for period i is decided at t_i from the prediction made at
 * t_i (position_i = predictedReturn_i > threshold ? 1 : 0) and earns realizedReturn_i, the return
 * from t_i to t_{i+1}; no look-ahead. Every change of position costs costBps/10^4 of equity,
 * charged in the period the new position is taken; the book starts flat, so entering counts as
 * a trade. Buy-and-hold is long every period and pays the entry cost once.
 */
export function backtestLongFlat(
  input: { predictedReturn: readonly number[]; realizedReturn: readonly number[] },
  { threshold = 0, costBps = 0, periodsPerYear = 252 }: BacktestOptions = {},
): BacktestResult {
  assertFiniteArray('predictedReturn', input.predictedReturn);
  assertFiniteArray('realizedReturn', input.realizedReturn);
  assertSameLength({ predictedReturn: input.predictedReturn, realizedReturn: input.realizedReturn });
  input.realizedReturn.forEach((r, i) => {
    if (r < -1) throw inputError(`realizedReturn[${i}] must be >= -1, got ${r}`, { index: i });
  });
  assertOption(Number.isFinite(threshold), `threshold must be finite, got ${threshold}`);
  assertOption(Number.isFinite(costBps) && costBps >= 0, `costBps must be a finite number >= 0, got ${costBps}`);
  assertOption(Number.isFinite(periodsPerYear) && periodsPerYear > 0, `periodsPerYear must be > 0, got ${periodsPerYear}`);
  const costRate = costBps / 10_000;
  const positions = input.predictedReturn.map((p) => (p > threshold ? 1 : 0));
  return {
    strategy: simulate(positions, input.realizedReturn, costRate, periodsPerYear),
    buyAndHold: simulate(positions.map(() => 1), input.realizedReturn, costRate, periodsPerYear),
  };
}

// ---------------------------------------------------------------------------------------------
// Classification (sentiment)
// ---------------------------------------------------------------------------------------------

export const SENTIMENT_LABELS = ['negative', 'neutral', 'positive'] as const;

export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** Number of rows whose true label is `label`. */
  support: number;
}

export interface ClassificationMetrics {
  n: number;
  labels: string[];
  accuracy: number;
  /** Unweighted mean of per-class F1 over all `labels`, including classes with no support. */
  macroF1: number;
  perClass: ClassMetrics[];
  /** confusionMatrix[i][j] = rows with true label labels[i] predicted as labels[j]. */
  confusionMatrix: number[][];
}

/**
 * Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.
 * Zero division follows sklearn's zero_division=0: precision of a class never predicted,
 * recall of a class with no support, and F1 = 2tp/(2tp+fp+fn) with a zero denominator are 0.
 * Every label must belong to `labels` (default negative/neutral/positive).
 */
export function classificationMetrics(
  yTrue: readonly string[],
  yPred: readonly string[],
  { labels = SENTIMENT_LABELS }: { labels?: readonly string[] } = {},
): ClassificationMetrics {
  assertOption(Array.isArray(yTrue) && Array.isArray(yPred), 'yTrue and yPred must be arrays');
  const n = assertSameLength({ yTrue, yPred });
  assertOption(n > 0, 'classification metrics need at least one row');
  assertOption(labels.length > 0 && new Set(labels).size === labels.length, 'labels must be non-empty and unique', {
    labels: [...labels],
  });
  const index = new Map(labels.map((l, i) => [l, i]));
  const confusionMatrix = labels.map(() => new Array<number>(labels.length).fill(0));
  for (let i = 0; i < n; i++) {
    const t = index.get(yTrue[i] as string);
    const p = index.get(yPred[i] as string);
    if (t === undefined || p === undefined) {
      const [name, value] = t === undefined ? ['yTrue', yTrue[i]] : ['yPred', yPred[i]];
      throw inputError(`${name}[${i}] is not one of the labels [${labels.join(', ')}]: ${String(value)}`, { index: i });
    }
    const row = confusionMatrix[t] as number[];
    row[p] = (row[p] as number) + 1;
  }
  return metricsFromConfusion(confusionMatrix, labels);
}

/**
 * The scores of `classificationMetrics` from a confusion matrix (confusionMatrix[i][j] = rows with
 * true label labels[i] predicted as labels[j]), with the same zero-division rules; an empty
 * matrix scores 0. For callers that count predictions themselves (e.g. label indices).
 */
export function metricsFromConfusion(confusionMatrix: number[][], labels: readonly string[]): ClassificationMetrics {
  const divide = (a: number, b: number): number => (b === 0 ? 0 : a / b);
  let n = 0;
  let correct = 0;
  confusionMatrix.forEach((row, i) => {
    for (const v of row) n += v;
    correct += row[i] ?? 0;
  });
  const perClass = labels.map((label, c) => {
    const tp = confusionMatrix[c]?.[c] ?? 0;
    const support = sum(confusionMatrix[c] ?? []);
    const predicted = sum(confusionMatrix.map((row) => row[c] ?? 0));
    return {
      label,
      precision: divide(tp, predicted),
      recall: divide(tp, support),
      f1: divide(2 * tp, support + predicted),
      support,
    };
  });
  return {
    n,
    labels: [...labels],
    accuracy: divide(correct, n),
    macroF1: perClass.length === 0 ? 0 : mean(perClass.map((c) => c.f1)),
    perClass,
    confusionMatrix,
  };
}
