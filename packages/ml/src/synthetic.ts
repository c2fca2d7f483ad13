/**
 * Synthetic serving inputs for tests and benchmarks: small price models with non-trivial (seeded
 * random) weights, deterministic feature series, and registry inputs for them.
 */
import type { Db } from 'mongodb';
import { mulberry32, type FeatureSchemaRecord, type FeatureVector } from '@stock-mlops/contracts';
import { FeatureSchemaStore } from '@stock-mlops/load';
import { initTf } from './tf.ts';
import { ModelStore, type ModelArtifacts, type RegisterInput } from './registry/model_store.ts';
import { DEFAULT_PRICE_CONFIG, PriceModel } from './models/price_predictor.ts';

export const SCHEMA_HASH = 'feedfacecafebeef0123456789abcdef';
export const LOOKBACK = 5;
export const N_FEATURES = 4;

/** The feature schema SCHEMA_HASH stands for: N_FEATURES names (`f0`…). */
export const SYNTHETIC_SCHEMA: FeatureSchemaRecord = { schemaHash: SCHEMA_HASH, schemaVersion: 'test', names: Array.from({ length: N_FEATURES }, (_, j) => `f${j}`) };

/**
 * Stores SYNTHETIC_SCHEMA in `feature_schemas`: vectors of `featureSeries` carry only the hash,
 * so store it before producing them to Kafka (as the transformer stores its own schema).
 */
export function storeSyntheticSchema(db: Db): Promise<void> {
  return new FeatureSchemaStore(db).put(SYNTHETIC_SCHEMA);
}

/**
 * An MLP price model whose weights are seeded random values in ±scale/2 (an untrained one predicts
 * exactly 0). Default input: the test schema, feature means 0.1·j; `zeroMean` for real features.
 */
export async function randomPriceModel(
  seed: number,
  opts: { lookback?: number; nFeatures?: number; arch?: 'mlp' | 'lstm'; hidden?: number; schemaHash?: string; zeroMean?: boolean; scale?: number } = {},
): Promise<PriceModel> {
  const { tf } = await initTf();
  const lookback = opts.lookback ?? LOOKBACK;
  const nFeatures = opts.nFeatures ?? N_FEATURES;
  const scale = opts.scale ?? 1;
  const m = PriceModel.build(tf, { ...DEFAULT_PRICE_CONFIG, arch: opts.arch ?? 'mlp', lookback, hidden: opts.hidden ?? 8, dropout: 0 }, {
    nFeatures,
    featureSchemaHash: opts.schemaHash ?? SCHEMA_HASH,
    featureMean: Array.from({ length: nFeatures }, (_, j) => (opts.zeroMean ? 0 : j * 0.1)),
    featureStd: Array.from({ length: nFeatures }, () => 1),
    targetScale: 0.01,
  });
  const r = mulberry32(seed);
  m.model.setWeights(m.model.getWeights().map((w) => tf.tensor(Array.from({ length: w.size }, () => (r() - 0.5) * scale), w.shape)));
  return m;
}

/** A deterministic feature series for one symbol (daily bars ending 2024-01-n). */
export function featureSeries(symbol: string, n: number, seed = 1, nFeatures = N_FEATURES): FeatureVector[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => ({
    symbol,
    interval: '1d' as const,
    ts: new Date(Date.UTC(2024, 0, 1 + i)).toISOString(),
    close: 100 + i,
    schemaVersion: 'test',
    schemaHash: SCHEMA_HASH,
    values: Array.from({ length: nFeatures }, () => r() * 2 - 1),
  }));
}

export function registerInput(name: 'price' | 'sentiment', artifacts: ModelArtifacts, featureSchemaHash = SCHEMA_HASH): RegisterInput {
  return {
    name,
    task: name,
    metrics: {},
    params: {},
    featureSchemaHash,
    normalization: null,
    reference: null,
    dataWindow: null,
    lineage: {},
    gitSha: 'test',
    artifacts,
  };
}

/** Register a version and make it production; returns its number. */
export async function promote(store: ModelStore, name: 'price' | 'sentiment', artifacts: ModelArtifacts, featureSchemaHash = SCHEMA_HASH): Promise<number> {
  const v = await store.register(registerInput(name, artifacts, featureSchemaHash));
  await store.setAlias(name, 'production', v.version, 'test');
  return v.version;
}
