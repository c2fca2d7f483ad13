/**
 * @stock-mlops/transform — pure feature pipeline shared by the streaming transformer and the
 * trainer: Bar → Cleaner → FeatureEngine → (normalizer). No I/O here.
 */
import type { Bar } from './bar.ts';
import { type BarFlags, Cleaner, type CleanBar, type CleanerOptions, type Rejection, validateBar } from './clean.ts';
import { FEATURE_SCHEMA, FeatureEngine, type FeatureSchema } from './feature_engineering.ts';

export {
  type Bar,
  type CsvRejection,
  type CsvRow,
  type ParseCsvOptions,
  type ParsedCsv,
  parseYahooCsv,
  parseYahooCsvRows,
  toIsoTimestamp,
} from './bar.ts';
export {
  BAR_REJECT_CODES,
  type BarFlags,
  type BarRejectCode,
  type BarValidation,
  type CleanBar,
  Cleaner,
  type CleanerOptions,
  type CleanerResult,
  type CleanerSnapshot,
  MIN_ROBUST_SIGMA,
  type Rejection,
  validateBar,
} from './clean.ts';
export { TRANSFORM_ERROR_CODES, TransformError, type TransformErrorCode } from './errors.ts';
export {
  ALPHA_WINDOWS,
  FEATURE_SCHEMA,
  FeatureEngine,
  type FeatureEngineSnapshot,
  type FeatureSchema,
  type FeatureUpdate,
  MA_WINDOWS,
  RETURN_HORIZONS,
  WARMUP_BARS,
  featureSchemaHash,
} from './feature_engineering.ts';
export {
  Atr,
  Bollinger,
  type BollingerValue,
  Ema,
  Macd,
  type MacdValue,
  RELATIVE_ZERO,
  RollingCorrelation,
  RollingMax,
  RollingMin,
  RollingStdDev,
  Rsi,
  Sma,
  TALIB_EPSILON,
  TALIB_ZERO,
  type ZeroGuard,
  trueRange,
} from './features/indicators.ts';
export { CLIP_Z, NORMALIZER_VERSION, RollingZScore, type RollingZScoreSnapshot, STD_FLOOR } from './normalize.ts';

export interface FeatureRow {
  symbol: string;
  ts: string;
  interval: string;
  /** Adjusted close of the bar the features describe (labels are built from it). */
  close: number;
  adjFactor: number;
  flags: BarFlags;
  /** FEATURE_SCHEMA.names order. */
  vector: number[];
}

export interface ComputedFeatures {
  schema: FeatureSchema;
  /** Ready rows only, grouped by symbol (first-appearance order), ascending ts within a symbol. */
  rows: FeatureRow[];
  rejected: Rejection[];
  /** Per symbol: bars cleaned, zero-volume bars skipped, warm-up bars without features. */
  stats: Record<string, { cleaned: number; skipped: number; warmup: number }>;
}

/**
 * Batch path (the trainer's CSV input): runs the same Cleaner + FeatureEngine as the streaming
 * transformer, one pair per symbol, in process. `cleaner` options apply to every symbol
 * (default reorder window 0: bars must be in ascending ts per symbol, as parseYahooCsv returns).
 */
export function computeFeaturesFromBars(bars: readonly Bar[], options: { cleaner?: Omit<CleanerOptions, 'symbol'> } = {}): ComputedFeatures {
  const rejected: Rejection[] = [];
  const pipelines = new Map<string, { cleaner: Cleaner; engine: FeatureEngine; rows: FeatureRow[] }>();
  const stats: ComputedFeatures['stats'] = {};

  const consume = (symbol: string, emitted: readonly CleanBar[]): void => {
    const p = pipelines.get(symbol);
    const s = stats[symbol];
    if (!p || !s) return;
    for (const bar of emitted) {
      s.cleaned++;
      const out = p.engine.update(bar);
      if (out.skipped) s.skipped++;
      else if (!out.ready) s.warmup++;
      else {
        p.rows.push({
          symbol,
          ts: bar.ts,
          interval: bar.interval,
          close: bar.close,
          adjFactor: bar.adjFactor,
          flags: { ...bar.flags },
          vector: out.vector,
        });
      }
    }
  };

  for (const bar of bars) {
    const validation = validateBar(bar);
    if (!validation.ok) {
      rejected.push({ bar, code: validation.code, reason: validation.reason });
      continue;
    }
    let p = pipelines.get(bar.symbol);
    if (!p) {
      p = { cleaner: new Cleaner({ ...options.cleaner, symbol: bar.symbol }), engine: new FeatureEngine(bar.symbol), rows: [] };
      pipelines.set(bar.symbol, p);
      stats[bar.symbol] = { cleaned: 0, skipped: 0, warmup: 0 };
    }
    const result = p.cleaner.push(bar);
    rejected.push(...result.rejected);
    consume(bar.symbol, result.emitted);
  }
  for (const [symbol, p] of pipelines) consume(symbol, p.cleaner.flush());

  return { schema: FEATURE_SCHEMA, rows: [...pipelines.values()].flatMap((p) => p.rows), rejected, stats };
}
export {
  SymbolPipeline,
  computePipelineFeatures,
  type PipelineEvent,
  type PipelineOutput,
  type PipelineRow,
  type PipelineSnapshot,
  type Position,
} from './pipeline.ts';
export { PIPELINE_SCHEMA, ROLLING_Z_FEATURES, ROLLING_Z_INPUTS, ROLLING_Z_WINDOW, type PipelineSchema } from './pipeline_schema.ts';
export {
  FUNDAMENTAL_CONCEPTS,
  FUNDAMENTAL_FEATURES,
  type FactOutcome,
  type FinancialFact,
  FundamentalsJoin,
  type FundamentalsSnapshot,
  MAX_FACTS,
  STALE_DAYS,
} from './joins/fundamentals.ts';
export { MAX_ARTICLES, NEWS_FEATURES, NewsJoin, type NewsSnapshot, type ScoreOutcome, type SentimentScore } from './joins/news.ts';
export { lexiconSentiment } from './joins/lexicon.ts';
