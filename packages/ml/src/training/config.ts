import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_PRICE_CONFIG } from '../models/price_predictor.ts';

/**
 * Training configuration: defaults ← optional JSON config file ← CLI/env overrides.
 * Validated with zod; a bad value names the key and what is wrong.
 */
/** Default IC t-statistic floor of the price gate (see GateConfig.minIcT and docs/models.md). */
export const MIN_IC_T_DEFAULT = 2;

export const GateConfig = z.strictObject({
  /** Metric the gate compares (lower is better). */
  metric: z.enum(['rmse', 'mae']).default('rmse'),
  /**
   * Which baseline the candidate must beat: one naive baseline, 'best' for all four naive ones,
   * or 'ridge' (the ridge regression fitted beside the model). The zero return (the random walk)
   * is always checked as well: no margin setting can drop it.
   */
  baseline: z.enum(['zero', 'persistence', 'reversal', 'movingAverage', 'best', 'ridge']).default('best'),
  /** Required relative improvement over the baseline (0.001 = 0.1 %); negative allows a worse model. */
  baselineMargin: z.number().min(-1).max(1).default(0),
  /** Required relative improvement over the current production model on the same test window. */
  productionMargin: z.number().min(-1).max(1).default(0),
  /** Minimum t-statistic of the information coefficient on the test window (0 = not checked). */
  minIcT: z.number().min(0).max(100).default(MIN_IC_T_DEFAULT),
});
export type GateConfig = z.infer<typeof GateConfig>;

export const PriceTrainConfig = z.strictObject({
  model: z
    .strictObject({
      arch: z.enum(['mlp', 'lstm', 'gru']).default(DEFAULT_PRICE_CONFIG.arch),
      lookback: z.number().int().min(1).max(256).default(DEFAULT_PRICE_CONFIG.lookback),
      hidden: z.number().int().min(1).max(1024).default(DEFAULT_PRICE_CONFIG.hidden),
      dropout: z.number().min(0).max(0.9).default(DEFAULT_PRICE_CONFIG.dropout),
      learningRate: z.number().positive().max(1).default(DEFAULT_PRICE_CONFIG.learningRate),
      l2: z.number().min(0).max(1).default(DEFAULT_PRICE_CONFIG.l2),
      epochs: z.number().int().min(1).max(1000).default(DEFAULT_PRICE_CONFIG.epochs),
      batchSize: z.number().int().min(1).max(65536).default(DEFAULT_PRICE_CONFIG.batchSize),
      patience: z.number().int().min(1).max(1000).default(DEFAULT_PRICE_CONFIG.patience),
      seed: z.number().int().min(0).default(DEFAULT_PRICE_CONFIG.seed),
      horizon: z.number().int().min(1).max(60).default(DEFAULT_PRICE_CONFIG.horizon),
    })
    .prefault({}),
  data: z
    .strictObject({
      trainFrac: z.number().min(0.1).max(0.9).default(0.7),
      valFrac: z.number().min(0.05).max(0.5).default(0.15),
      testFrac: z.number().min(0.05).max(0.5).default(0.15),
      /** Periods dropped between splits; at least the horizon. */
      embargo: z.number().int().min(0).default(5),
      /** Restrict to these symbols (default: every symbol with features). */
      symbols: z.array(z.string()).optional(),
      /** Use only the most recent N rows per symbol (0 = all). */
      maxRowsPerSymbol: z.number().int().min(0).default(0),
      /** 'pooled': one model over every symbol; 'perSymbol': one model per symbol (named price-<symbol>). */
      pooling: z.enum(['pooled', 'perSymbol']).default('pooled'),
      /** Walk-forward timeline: 'time' pools the calendar across symbols, 'symbol' splits each symbol's own history. */
      splitBy: z.enum(['time', 'symbol']).default('time'),
    })
    .prefault({}),
  gate: GateConfig.prefault({}),
  backtest: z.strictObject({ costBps: z.number().min(0).max(1000).default(5) }).prefault({}),
});
export type PriceTrainConfig = z.infer<typeof PriceTrainConfig>;

function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let cur: Record<string, unknown> = obj;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (next === undefined || typeof next !== 'object' || next === null) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

function coerce(v: string): unknown {
  if (v === 'true' || v === 'false') return v === 'true';
  if (/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(v)) return Number(v);
  if (v.startsWith('[') || v.startsWith('{')) return JSON.parse(v);
  return v;
}

/** Sentiment gate: metrics where higher is better, against the majority-class baseline and production. */
export const SentimentGateConfig = z.strictObject({
  metric: z.enum(['macroF1', 'accuracy']).default('macroF1'),
  baseline: z.enum(['majority']).default('majority'),
  baselineMargin: z.number().min(-1).max(1).default(0),
  productionMargin: z.number().min(-1).max(1).default(0),
  /**
   * With at least `minHeldBack` held-back labels (sentiment_labels.ts), the production check
   * becomes two: on the fixed evaluation set `metric` may be at most `labelsTolerance` (absolute)
   * below production's, and on the held-back labels `labelsMetric` must beat production's by more
   * than `labelsMargin` (absolute). See docs/models.md.
   */
  labelsTolerance: z.number().min(0).max(1).default(0.01),
  labelsMetric: z.enum(['macroF1', 'accuracy']).default('accuracy'),
  labelsMargin: z.number().min(0).max(1).default(0),
  minHeldBack: z.number().int().min(1).default(20),
});
export type SentimentGateConfig = z.infer<typeof SentimentGateConfig>;

/**
 * Sentiment training: `model` is passed to trainSentiment as overrides of its defaults (epochs,
 * patience, batchSize, members, features …); `data` says how to read the CSV and how much to hold out.
 */
export const SentimentTrainConfig = z.strictObject({
  model: z
    .looseObject({
      epochs: z.number().int().min(1).max(1000).optional(),
      patience: z.number().int().min(0).max(1000).optional(),
      batchSize: z.number().int().min(1).max(65536).optional(),
      monitor: z.enum(['loss', 'accuracy', 'macroF1']).optional(),
      classWeighting: z.enum(['balanced', 'none']).optional(),
      members: z.array(z.looseObject({ kind: z.enum(['cnn', 'bag']) })).min(1).optional(),
      features: z.record(z.string(), z.unknown()).optional(),
    })
    .prefault({}),
  seed: z.number().int().min(0).default(42),
  data: z
    .strictObject({
      textColumn: z.string().min(1).default('text'),
      labelColumn: z.string().min(1).default('label'),
      /** Raw label → negative|neutral|positive; the default fits the bundled Twitter Financial News set. */
      labelMap: z.string().default('0=negative,1=positive,2=neutral'),
      skipUnknownLabels: z.boolean().default(false),
      /** Stratified share held out for the evaluation (never used for fitting or early stopping). */
      testFraction: z.number().min(0.05).max(0.5).default(0.2),
      /** Stratified share of the rest used for early stopping. */
      validationFraction: z.number().min(0.05).max(0.5).default(0.15),
      /** Stratified subsample of at most N rows before splitting (0 = all): keeps start-up training short. */
      maxRows: z.number().int().min(0).default(0),
    })
    .prefault({}),
  gate: SentimentGateConfig.prefault({}),
});
export type SentimentTrainConfig = z.infer<typeof SentimentTrainConfig>;

function configError(message: string): Error {
  return Object.assign(new Error(message), { code: 'E_CONFIG' });
}

/** Merge an optional JSON file and `key.path=value` overrides, then validate with `schema`. */
function loadConfigWith<S extends z.ZodType>(schema: S, what: string, file?: string, overrides: string[] = []): z.infer<S> {
  let base: Record<string, unknown> = {};
  if (file) {
    try {
      base = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw configError(`cannot read ${what} config ${file}: ${(err as Error).message}`);
    }
  }
  for (const o of overrides) {
    const i = o.indexOf('=');
    if (i <= 0) throw configError(`override "${o}" must look like key.path=value`);
    setPath(base, o.slice(0, i), coerce(o.slice(i + 1)));
  }
  const r = schema.safeParse(base);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw configError(`invalid ${what} config: ${msg}`);
  }
  return r.data;
}

/**
 * Build the config from an optional JSON file and `key.path=value` overrides
 * (e.g. `model.arch=gru`, `model.epochs=5`, `gate.baselineMargin=0.001`).
 */
export function loadPriceTrainConfig(file?: string, overrides: string[] = []): PriceTrainConfig {
  return loadConfigWith(PriceTrainConfig, 'training', file, overrides);
}

/** Same for the sentiment model (e.g. `model.epochs=3`, `data.maxRows=2000`). */
export function loadSentimentTrainConfig(file?: string, overrides: string[] = []): SentimentTrainConfig {
  return loadConfigWith(SentimentTrainConfig, 'sentiment training', file, overrides);
}
