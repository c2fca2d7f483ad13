import { z } from 'zod';
import { FiniteNumber, Interval, ModelRef, NonNegative, Symbol, Timestamp } from './primitives.ts';

/**
 * Message payload schemas (the `data` of an envelope), one per topic family.
 * Raw schemas are strict (unknown keys are rejected) because external producers write to
 * raw topics directly; the JSON Schemas in `schemas/` are generated from these.
 */

export const RawPriceBar = z.strictObject({
  symbol: Symbol,
  interval: Interval,
  ts: Timestamp.describe('bar start time, ISO-8601 UTC'),
  open: FiniteNumber,
  high: FiniteNumber,
  low: FiniteNumber,
  close: FiniteNumber,
  adjClose: FiniteNumber.optional().describe('split/dividend adjusted close, when the source has it'),
  volume: FiniteNumber,
  currency: z.string().regex(/^[A-Z]{3}$/).optional(),
  synthetic: z.boolean().optional().describe('true for generated (non-market) data'),
});
export type RawPriceBar = z.infer<typeof RawPriceBar>;

export const RawFinancialFact = z.strictObject({
  symbol: Symbol,
  concept: z.string().min(1).max(200).regex(/^[^$.]/, 'concept must not start with $ or .'),
  value: FiniteNumber,
  unit: z.string().min(1).max(32),
  periodStart: z.string().date().optional(),
  periodEnd: z.string().date(),
  fiscalYear: z.number().int().min(1900).max(2200).optional(),
  fiscalPeriod: z.string().min(1).max(8).optional(),
  form: z.string().min(1).max(32),
  filed: z.string().date().describe('filing date: the point in time the fact became known'),
  accession: z.string().max(64).optional(),
  taxonomy: z.string().max(32).optional(),
});
export type RawFinancialFact = z.infer<typeof RawFinancialFact>;

export const RawNewsArticle = z.strictObject({
  id: z.string().min(8).max(128).describe('stable id: hash of the canonical URL'),
  url: z.string().url().max(2048),
  publishedAt: Timestamp,
  title: z.string().min(1).max(1000),
  summary: z.string().max(10_000).default(''),
  source: z.string().min(1).max(200),
  tickers: z.array(Symbol).max(50).default([]),
  language: z.string().min(2).max(8).default('en'),
});
export type RawNewsArticle = z.infer<typeof RawNewsArticle>;

export const CleanPriceBar = z.strictObject({
  ...RawPriceBar.shape,
  adjFactor: FiniteNumber,
  zeroVolume: z.boolean(),
  outlier: z.boolean(),
});
export type CleanPriceBar = z.infer<typeof CleanPriceBar>;

export const CleanNewsArticle = z.strictObject({
  ...RawNewsArticle.shape,
  symbol: Symbol.describe('the ticker this copy of the article is keyed by'),
});
export type CleanNewsArticle = z.infer<typeof CleanNewsArticle>;

export const CleanFinancialFact = RawFinancialFact;
export type CleanFinancialFact = RawFinancialFact;

/** Marks generated (non-market) data downstream of a `synthetic: true` bar; absent for market data. */
const SyntheticMark = z.literal(true).optional().describe('present (true) only when the bar behind it is generated, non-market data');

/** Feature vector for one bar. `values` is ordered as the feature schema named by `schemaHash`. */
export const FeatureVector = z.strictObject({
  symbol: Symbol,
  interval: Interval,
  ts: Timestamp,
  close: FiniteNumber.describe('(adjusted) close of the bar the features describe'),
  schemaVersion: z.string().min(1).max(32).describe('feature schema version'),
  schemaHash: z.string().regex(/^[0-9a-f]{16,64}$/),
  names: z.array(z.string().max(64)).max(1024).optional().describe('feature names, in order'),
  values: z.array(FiniteNumber).min(1).max(1024),
  synthetic: SyntheticMark,
});
export type FeatureVector = z.infer<typeof FeatureVector>;

/**
 * A feature schema, stored once per hash on the compacted `stock.schemas.v1` topic (key: the
 * hash) and in MongoDB's `feature_schemas` collection: feature vectors carry only the hash and
 * the values, consumers resolve the names from here (docs/api.md).
 */
export const FeatureSchemaRecord = z.strictObject({
  schemaHash: FeatureVector.shape.schemaHash,
  schemaVersion: FeatureVector.shape.schemaVersion,
  names: z.array(z.string().min(1).max(64)).min(1).max(1024).describe('feature names, in the order of a vector\'s values'),
});
export type FeatureSchemaRecord = z.infer<typeof FeatureSchemaRecord>;

export const PricePrediction = z.strictObject({
  symbol: Symbol,
  interval: Interval,
  asOf: Timestamp.describe('event time of the features the prediction was made from'),
  horizon: z.number().int().positive(),
  lastClose: FiniteNumber,
  predictedReturn: FiniteNumber,
  predictedPrice: FiniteNumber,
  model: ModelRef,
  featureSchemaHash: z.string(),
  latencyMs: NonNegative,
  synthetic: SyntheticMark.describe('copied from the feature vector the prediction was made from'),
});
export type PricePrediction = z.infer<typeof PricePrediction>;

export const SentimentLabel = z.enum(['negative', 'neutral', 'positive']);
export const SentimentPrediction = z.strictObject({
  articleId: z.string().min(1).max(128),
  symbol: Symbol,
  publishedAt: Timestamp,
  label: SentimentLabel,
  probs: z.strictObject({ negative: FiniteNumber, neutral: FiniteNumber, positive: FiniteNumber }),
  score: FiniteNumber,
  model: ModelRef,
  latencyMs: NonNegative,
});
export type SentimentPrediction = z.infer<typeof SentimentPrediction>;

/**
 * A human label for a piece of text (a headline), on `stock.labels.sentiment.v1`, keyed by
 * `sentimentTextHash(text)`. The last label per text wins.
 */
export const SENTIMENT_LABELS_MAX_TEXT_CHARS = 2000;
export const SentimentLabelRecord = z.strictObject({
  text: z.string().trim().min(1).max(SENTIMENT_LABELS_MAX_TEXT_CHARS),
  label: SentimentLabel,
  labeller: z.string().min(1).max(100),
  labelledAt: Timestamp,
  articleId: z.string().min(1).max(128).optional(),
  symbol: Symbol.optional(),
});
export type SentimentLabelRecord = z.infer<typeof SentimentLabelRecord>;

/**
 * `promoted`/`rolled_back` move an alias (`alias`, default production); `challenger_set` points the
 * `challenger` alias at `model` (`previous` = the challenger it replaced), `challenger_cleared`
 * removes it (`model` = the version it held).
 */
export const ModelEventKind = z.enum(['registered', 'promoted', 'rejected', 'rolled_back', 'training_failed', 'challenger_set', 'challenger_cleared']);
export const ModelEvent = z.strictObject({
  kind: ModelEventKind,
  model: ModelRef,
  task: z.enum(['price', 'sentiment']),
  alias: z.string().max(32).optional(),
  previous: ModelRef.optional(),
  reason: z.string().max(2000).optional(),
  metrics: z.record(z.string(), FiniteNumber).optional(),
});
export type ModelEvent = z.infer<typeof ModelEvent>;

export const MonitorEventKind = z.enum(['retrain_requested', 'alert', 'report', 'challenger_promoted', 'challenger_kept']);
export const MonitorEvent = z.strictObject({
  kind: MonitorEventKind,
  task: z.enum(['price', 'sentiment']),
  model: ModelRef.optional(),
  reason: z.string().max(2000),
  evidence: z.record(z.string(), FiniteNumber).default({}),
  incidentId: z.string().max(128).optional(),
});
export type MonitorEvent = z.infer<typeof MonitorEvent>;
