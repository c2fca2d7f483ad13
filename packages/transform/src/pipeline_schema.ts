/**
 * The published feature schema: what the transformer emits and the loader stores, what the
 * trainer trains on and the predictor serves. Three blocks, in this order:
 *
 *   1. technical   FEATURE_SCHEMA (65 features of one bar's price history, feature_engineering.ts)
 *   2. joins       FUNDAMENTAL_FEATURES (joins/fundamentals.ts) + NEWS_FEATURES (joins/news.ts),
 *                  point-in-time joins of facts and news known before the bar
 *   3. normalized  rolling z-scores of the scale-dependent inputs (below)
 *
 * Versioning: 1.0.0 was the technical block alone; 2.0.0 added the joins and the normalized
 * block. Bump the version whenever a name, its order, its definition or a normalization
 * parameter (window, clip, NORMALIZER_VERSION) changes: the hash (sha256 of version and names)
 * identifies the schema everywhere (feature documents, model artifacts, transformer state), and
 * anything fitted or stored under another hash is refused (E_SCHEMA_MISMATCH) or rebuilt.
 *
 * Normalized block: z = clip((x − mean) / std, ±CLIP_Z) over the symbol's last ROLLING_Z_WINDOW
 * emitted vectors (current included; population std; std < STD_FLOOR → only centred), computed by
 * RollingZScore in the per-symbol pipeline. Its running statistics are part of the persisted
 * pipeline state, so a restarted or rebalanced transformer continues them bit for bit; its
 * parameters are part of this schema, so training and serving cannot disagree about them.
 * Inputs: atr_14 (price units), volatility_20 and ln(1 + volume) (raw shares) — the features
 * whose scale differs between symbols and drifts over years. z_ready is 0 (and the z values 0)
 * until the window is full.
 */
import { FEATURE_SCHEMA, featureSchemaHash } from './feature_engineering.ts';
import { FUNDAMENTAL_FEATURES } from './joins/fundamentals.ts';
import { NEWS_FEATURES } from './joins/news.ts';
import { CLIP_Z, NORMALIZER_VERSION, STD_FLOOR } from './normalize.ts';

export const ROLLING_Z_WINDOW = 60;
export const ROLLING_Z_INPUTS = Object.freeze(['atr_14', 'volatility_20', 'log_volume'] as const);
export const ROLLING_Z_FEATURES = Object.freeze([...ROLLING_Z_INPUTS.map((n) => `z${ROLLING_Z_WINDOW}_${n}`), 'z_ready']);

export interface PipelineSchema {
  readonly version: string;
  readonly names: readonly string[];
  readonly hash: string;
  /** Where each block starts in `names`. */
  readonly blocks: Readonly<{ technical: number; fundamentals: number; news: number; normalized: number }>;
  readonly normalization: Readonly<{ method: 'rolling-z'; window: number; clip: number; stdFloor: number; normalizerVersion: number; inputs: readonly string[] }>;
}

const VERSION = '2.0.0';
const NAMES: readonly string[] = Object.freeze([...FEATURE_SCHEMA.names, ...FUNDAMENTAL_FEATURES, ...NEWS_FEATURES, ...ROLLING_Z_FEATURES]);

export const PIPELINE_SCHEMA: PipelineSchema = Object.freeze({
  version: VERSION,
  names: NAMES,
  hash: featureSchemaHash(VERSION, NAMES),
  blocks: Object.freeze({
    technical: 0,
    fundamentals: FEATURE_SCHEMA.names.length,
    news: FEATURE_SCHEMA.names.length + FUNDAMENTAL_FEATURES.length,
    normalized: FEATURE_SCHEMA.names.length + FUNDAMENTAL_FEATURES.length + NEWS_FEATURES.length,
  }),
  normalization: Object.freeze({ method: 'rolling-z', window: ROLLING_Z_WINDOW, clip: CLIP_Z, stdFloor: STD_FLOOR, normalizerVersion: NORMALIZER_VERSION, inputs: ROLLING_Z_INPUTS }),
});
