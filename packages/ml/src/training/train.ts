import { AppError } from '@stock-mlops/contracts';
import type { Tf } from '../tf.ts';
import { makeSupervised, type FeatureRow, type SupervisedSample } from '../datasets/supervised.ts';
import { walkForwardFolds, walkForwardSplit } from '../datasets/splits.ts';
import { assertNoLeakage } from '../datasets/leakage.ts';
import { backtestLongFlat, maxDrawdown, priceMetrics, type PriceMetrics } from '../evaluation/metrics.ts';
import { mean, variance } from '../evaluation/stats.ts';
import { PriceModel, type EpochLog } from '../models/price_predictor.ts';
import type { PriceTrainConfig } from './config.ts';
import { scoreFold, summarizeFolds, type FoldScore, type WalkForwardSummary } from './walk_forward_metrics.ts';
import type { BacktestStats, BaselineKey, PriceEvaluationReport } from './price_report.ts';

export type { BacktestStats, BaselineKey, PriceEvaluationReport } from './price_report.ts';

/**
 * The price training pipeline, free of I/O: feature rows in (from MongoDB or from CSV files
 * through the same cleaning and feature code), a trained model and an honest evaluation out.
 * Splits are walk-forward by time with an embargo; the test window is never used for fitting
 * or early stopping.
 */

/** The learned baseline: ridge regression on the model's features (see models/ridge.ts). */
export const RIDGE_BASELINE = 'ridge';


export interface PriceTrainingResult {
  model: PriceModel;
  history: EpochLog[];
  bestEpoch: number;
  evaluation: PriceEvaluationReport;
  /** The training split (what the model and the ridge were fitted on), for in-sample scores. */
  train: SupervisedSample[];
  test: SupervisedSample[];
  /** The trained model's predictions on `test`, in order. */
  testPredictions: number[];
  split: { train: number; val: number; test: number; purged: number };
  dataWindow: { from: string; to: string; rows: number };
  symbols: string[];
}

export class TrainingError extends AppError<'E_NOT_ENOUGH_DATA'> {
  constructor(code: 'E_NOT_ENOUGH_DATA', message: string) {
    super(code, message);
    this.name = 'TrainingError';
  }
}

const toWindows = (s: readonly SupervisedSample[]) => s.map((x) => x.window.map((r) => [...r]));

/**
 * Naive baselines for pooled samples, computed per symbol from realized labels only (a label is
 * known at time t once its labelEnd <= t): zero return (the random walk), persistence (the last
 * realized return: 1-day momentum), reversal (its negative: 1-day reversal) and the moving
 * average of the last `maWindow` realized returns (20-day momentum). `history` (e.g. the training
 * and validation samples) supplies labels realized before the first evaluated sample.
 */
export function baselineReturns(samples: readonly SupervisedSample[], maWindow = 20, history: readonly SupervisedSample[] = []): Record<BaselineKey, number[]> {
  const out: Record<BaselineKey, number[]> = {
    zero: samples.map(() => 0),
    persistence: new Array<number>(samples.length).fill(0),
    reversal: new Array<number>(samples.length).fill(0),
    movingAverage: new Array<number>(samples.length).fill(0),
  };
  const past = new Map<string, SupervisedSample[]>();
  for (const s of history) past.set(s.symbol, [...(past.get(s.symbol) ?? []), s]);
  const bySymbol = new Map<string, number[]>();
  samples.forEach((s, i) => bySymbol.set(s.symbol, [...(bySymbol.get(s.symbol) ?? []), i]));
  for (const [symbol, idx] of bySymbol) {
    idx.sort((a, b) => samples[a]!.ts - samples[b]!.ts);
    const evaluated = new Set(idx.map((i) => samples[i]!.ts));
    const known = [...(past.get(symbol) ?? []).filter((s) => !evaluated.has(s.ts)), ...idx.map((i) => samples[i]!)].sort((a, b) => a.labelEnd - b.labelEnd);
    let k = 0;
    const realized: number[] = [];
    for (const i of idx) {
      const ts = samples[i]!.ts;
      while (k < known.length && known[k]!.labelEnd <= ts) realized.push(known[k++]!.label);
      if (realized.length === 0) continue;
      out.persistence[i] = realized[realized.length - 1]!;
      out.reversal[i] = -realized[realized.length - 1]!;
      const tail = realized.slice(-maWindow);
      out.movingAverage[i] = tail.reduce((a, b) => a + b, 0) / tail.length;
    }
  }
  return out;
}


export interface BacktestCurves {
  /** As-of times of the portfolio periods (epoch ms). */
  ts: number[];
  strategy: number[];
  buyAndHold: number[];
  stats: { strategy: BacktestStats; buyAndHold: BacktestStats };
}

function statsOf(returns: number[], positions: number[], trades: number, periodsPerYear = 252): { stats: BacktestStats; equity: number[] } {
  const equity: number[] = [];
  let v = 1;
  for (const r of returns) equity.push((v *= 1 + r));
  const n = returns.length;
  const final = equity[n - 1] ?? 1;
  const std = n > 1 ? Math.sqrt(variance(returns, 1)) : Number.NaN;
  return {
    equity,
    stats: {
      annualizedReturn: final > 0 ? final ** (periodsPerYear / n) - 1 : -1,
      sharpe: std > 0 ? (mean(returns) / std) * Math.sqrt(periodsPerYear) : Number.NaN,
      maxDrawdown: maxDrawdown([1, ...equity]),
      trades,
      turnover: positions.length ? trades / positions.length : 0,
      exposure: positions.length ? mean(positions) : 0,
      totalReturn: final - 1,
    },
  };
}

/**
 * Long/flat backtest of predicted returns: each symbol runs its own long/flat book
 * (backtestLongFlat: long when the prediction is > 0, cost per position change); with several
 * symbols the portfolio holds them in equal weight, i.e. each period's return is the mean of
 * the symbols' net returns at that time. Buy-and-hold is the same portfolio always long.
 * Assumes horizon-1 labels (non-overlapping periods).
 */
export function backtestSamples(samples: readonly SupervisedSample[], predicted: readonly number[], costBps: number): BacktestCurves {
  const bySymbol = new Map<string, number[]>();
  samples.forEach((s, i) => bySymbol.set(s.symbol, [...(bySymbol.get(s.symbol) ?? []), i]));
  const perTs = new Map<number, { s: number[]; b: number[]; p: number[] }>();
  let tradesS = 0;
  let tradesB = 0;
  for (const idx of bySymbol.values()) {
    idx.sort((a, b) => samples[a]!.ts - samples[b]!.ts);
    const bt = backtestLongFlat({ predictedReturn: idx.map((i) => predicted[i]!), realizedReturn: idx.map((i) => samples[i]!.label) }, { costBps });
    tradesS += bt.strategy.trades;
    tradesB += bt.buyAndHold.trades;
    idx.forEach((i, k) => {
      const ts = samples[i]!.ts;
      const cell = perTs.get(ts) ?? { s: [], b: [], p: [] };
      cell.s.push(bt.strategy.returns[k]!);
      cell.b.push(bt.buyAndHold.returns[k]!);
      cell.p.push(bt.strategy.positions[k]!);
      perTs.set(ts, cell);
    });
  }
  const ts = [...perTs.keys()].sort((a, b) => a - b);
  const cells = ts.map((t) => perTs.get(t)!);
  const s = statsOf(cells.map((c) => mean(c.s)), cells.flatMap((c) => c.p), tradesS);
  const b = statsOf(cells.map((c) => mean(c.b)), cells.flatMap((c) => c.p.map(() => 1)), tradesB);
  return { ts, strategy: s.equity, buyAndHold: b.equity, stats: { strategy: s.stats, buyAndHold: b.stats } };
}

/**
 * Evaluate any predictor of returns on samples, beside the naive baselines and a long/flat
 * backtest. `history` holds earlier samples whose realized labels the baselines may use.
 */
export function evaluatePriceSamples(
  samples: readonly SupervisedSample[],
  predicted: readonly number[],
  costBps: number,
  history: readonly SupervisedSample[] = [],
  ridge?: readonly number[],
): PriceEvaluationReport {
  const lastClose = samples.map((s) => s.lastClose);
  const realized = samples.map((s) => s.label);
  const model = priceMetrics({ lastClose, realizedReturn: realized, predictedReturn: predicted });
  const base = baselineReturns(samples, 20, history);
  const baselines = {
    zero: priceMetrics({ lastClose, realizedReturn: realized, predictedReturn: base.zero }),
    persistence: priceMetrics({ lastClose, realizedReturn: realized, predictedReturn: base.persistence }),
    reversal: priceMetrics({ lastClose, realizedReturn: realized, predictedReturn: base.reversal }),
    movingAverage: priceMetrics({ lastClose, realizedReturn: realized, predictedReturn: base.movingAverage }),
    ...(ridge ? { ridge: priceMetrics({ lastClose, realizedReturn: realized, predictedReturn: ridge }) } : {}),
  };
  const bt = backtestSamples(samples, predicted, costBps);
  return { model, baselines, backtest: { strategy: bt.stats.strategy, buyAndHold: bt.stats.buyAndHold, costBps }, n: samples.length };
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
    by: cfg.data.splitBy,
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
  const testWindows = toWindows(split.test);
  const predicted = trained.model.predict(testWindows);
  const evaluation = evaluatePriceSamples(split.test, predicted, cfg.backtest.costBps, [...split.train, ...split.val], trained.model.predictRidge(testWindows));
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
    train: split.train,
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

export interface PriceModelEvaluation {
  evaluation: PriceEvaluationReport;
  samples: SupervisedSample[];
  predictions: number[];
  /** Samples before `from`: they only feed the baselines' history. */
  history: SupervisedSample[];
  /** With `folds`: the consecutive blocks scored one by one, and their summary. */
  blocks?: Array<{ from: string; to: string; score: FoldScore }>;
  summary?: WalkForwardSummary;
}

/**
 * Cuts time-ordered samples into `k` consecutive blocks of about equal size; samples with the
 * same as-of time (several symbols) stay in one block.
 */
export function timeBlocks<T extends { ts: number }>(samples: readonly T[], k: number): T[][] {
  const sorted = [...samples].sort((a, b) => a.ts - b.ts);
  const blocks: T[][] = [];
  let start = 0;
  for (let b = 1; b <= k && start < sorted.length; b++) {
    let end = b === k ? sorted.length : Math.round((sorted.length * b) / k);
    while (end < sorted.length && end > 0 && sorted[end]!.ts === sorted[end - 1]!.ts) end++;
    if (end > start) blocks.push(sorted.slice(start, end));
    start = end;
  }
  return blocks;
}

/**
 * Evaluate a trained model on feature rows (e.g. any CSV file): every sample whose as-of time
 * falls in [from, to] is predicted; earlier samples only feed the baselines' history. With
 * `folds` ≥ 2 the window is also cut into that many consecutive blocks, each scored on its own
 * and summarized across blocks (IC t-statistic across blocks).
 */
export function evaluatePriceModel(model: PriceModel, rows: readonly FeatureRow[], opts: { costBps: number; from?: number; to?: number; folds?: number }): PriceModelEvaluation {
  const { lookback, horizon } = model.meta.config;
  const all = makeSupervised(rows, { horizon, lookback });
  const from = opts.from ?? Number.NEGATIVE_INFINITY;
  const to = opts.to ?? Number.POSITIVE_INFINITY;
  const samples = all.filter((s) => s.ts >= from && s.ts <= to);
  if (samples.length < 2) throw new TrainingError('E_NOT_ENOUGH_DATA', `only ${samples.length} samples to evaluate (lookback ${lookback}, horizon ${horizon})`);
  const windows = toWindows(samples);
  const predictions = model.predict(windows);
  const history = all.filter((s) => s.ts < from);
  const ridge = model.predictRidge(windows);
  const evaluation = evaluatePriceSamples(samples, predictions, opts.costBps, history, ridge);
  if (!opts.folds || opts.folds < 2) return { evaluation, samples, predictions, history };
  // Score consecutive blocks of the window one by one (the model is fixed: no refit per block).
  const at = new Map(samples.map((s, i) => [s, i]));
  const blocks = timeBlocks(samples, opts.folds).map((block) => {
    const idx = block.map((s) => at.get(s)!);
    const first = block[0]!.ts;
    const ev = evaluatePriceSamples(block, idx.map((i) => predictions[i]!), opts.costBps, all.filter((s) => s.ts < first), ridge ? idx.map((i) => ridge[i]!) : undefined);
    return { from: new Date(first).toISOString().slice(0, 10), to: new Date(block[block.length - 1]!.ts).toISOString().slice(0, 10), score: scoreFold(ev) };
  });
  return { evaluation, samples, predictions, history, blocks, summary: summarizeFolds(blocks.map((b) => b.score)) };
}

export interface WalkForwardFoldResult {
  fold: number;
  train: number;
  val: number;
  test: number;
  from: string;
  to: string;
  bestEpoch: number;
  epochsRun: number;
  model: PriceMetrics;
  zero: PriceMetrics;
  ridge?: PriceMetrics;
  /** IC, rank IC, directional accuracy, error ratios to zero and the backtest of this block. */
  score: FoldScore;
}

export interface WalkForwardResult {
  folds: WalkForwardFoldResult[];
  /** Every fold's test predictions evaluated together (the folds' test blocks do not overlap). */
  evaluation: PriceEvaluationReport;
  samples: SupervisedSample[];
  predictions: number[];
  /** The folds' ridge baselines' predictions on the same samples. */
  ridgePredictions: number[];
  /** The folds' scores summarized, with the IC t-statistic across folds. */
  summary: WalkForwardSummary;
  history: SupervisedSample[];
}

/**
 * Expanding-window walk-forward evaluation: the timeline after an initial block is cut into
 * `folds` consecutive test blocks; for each, a fresh model is fit on everything before it
 * (minus the embargo), with the last `data.valFrac` share of that history (after another
 * embargo) held out for early stopping, and predicts the block. Models and baselines are then
 * scored on all test blocks together.
 */
export async function walkForwardEvaluatePrice(
  tf: Tf,
  rows: readonly FeatureRow[],
  featureSchemaHash: string,
  cfg: PriceTrainConfig,
  opts: { folds: number; minTrainFrac?: number; onEpoch?: (fold: number, log: EpochLog) => void },
): Promise<WalkForwardResult> {
  const samples = makeSupervised(rows, { horizon: cfg.model.horizon, lookback: cfg.model.lookback });
  assertNoLeakage(samples);
  const embargo = Math.max(cfg.data.embargo, cfg.model.horizon);
  const folds = walkForwardFolds(samples, { folds: opts.folds, embargo, by: cfg.data.splitBy, ...(opts.minTrainFrac !== undefined ? { minTrainFrac: opts.minTrainFrac } : {}) });
  const tested: SupervisedSample[] = [];
  const predictions: number[] = [];
  const ridgePredictions: number[] = [];
  const results: WalkForwardFoldResult[] = [];
  for (const f of folds) {
    const valFrac = cfg.data.valFrac / (cfg.data.trainFrac + cfg.data.valFrac);
    const inner = walkForwardSplit(f.train, { trainFrac: 1 - valFrac, valFrac, testFrac: 0, embargo, by: cfg.data.splitBy });
    if (inner.train.length < 50 || inner.val.length < 10 || f.test.length < 10) {
      throw new TrainingError('E_NOT_ENOUGH_DATA', `fold ${f.fold}: train ${inner.train.length}, val ${inner.val.length}, test ${f.test.length} (need 50/10/10)`);
    }
    const trained = await PriceModel.train(
      tf,
      cfg.model,
      { trainX: toWindows(inner.train), trainY: inner.train.map((s) => s.label), valX: toWindows(inner.val), valY: inner.val.map((s) => s.label), featureSchemaHash },
      opts.onEpoch ? (e) => opts.onEpoch!(f.fold, e) : undefined,
    );
    try {
      const windows = toWindows(f.test);
      const p = trained.model.predict(windows);
      const ridge = trained.model.predictRidge(windows)!;
      const ev = evaluatePriceSamples(f.test, p, cfg.backtest.costBps, f.train, ridge);
      results.push({
        fold: f.fold,
        train: inner.train.length,
        val: inner.val.length,
        test: f.test.length,
        from: new Date(f.test[0]!.ts).toISOString().slice(0, 10),
        to: new Date(f.test[f.test.length - 1]!.ts).toISOString().slice(0, 10),
        bestEpoch: trained.bestEpoch,
        epochsRun: trained.history.length,
        model: ev.model,
        zero: ev.baselines.zero,
        ridge: ev.baselines.ridge,
        score: scoreFold(ev),
      });
      tested.push(...f.test);
      predictions.push(...p);
      ridgePredictions.push(...ridge);
    } finally {
      trained.model.dispose();
    }
  }
  const firstTest = Math.min(...tested.map((s) => s.ts));
  const history = samples.filter((s) => s.ts < firstTest);
  return {
    folds: results,
    evaluation: evaluatePriceSamples(tested, predictions, cfg.backtest.costBps, history, ridgePredictions),
    samples: tested,
    predictions,
    ridgePredictions,
    history,
    summary: summarizeFolds(results.map((r) => r.score)),
  };
}
