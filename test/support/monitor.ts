/**
 * Shared real data for the monitor tests: daily bars of shared/data/prices through the same
 * cleaning and feature code as the transformer, plus builders for the records the monitor
 * consumes and a registry document with a drift reference built like the trainer builds it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FeatureVector, PricePrediction } from '@stock-mlops/contracts';
import { referenceStats, referenceStatsByFeature, toColumns } from '@stock-mlops/ml/evaluation/drift';
import { computeFeaturesFromBars, FEATURE_SCHEMA, parseYahooCsv, type FeatureRow } from '@stock-mlops/transform';
import { DEFAULT_SETTINGS, type MonitorSettings, type RegistryDoc } from '@stock-mlops/monitor';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const sharedDataDir = process.env.SHARED_DATA_DIR ?? path.resolve(repoRoot, '../shared/data');

const cache = new Map<string, FeatureRow[]>();

/** Feature rows (ascending ts) of one shared CSV, computed by the production feature code. */
export function realFeatures(symbol: string): FeatureRow[] {
  const hit = cache.get(symbol);
  if (hit) return hit;
  const text = readFileSync(path.join(sharedDataDir, 'prices', `${symbol}.csv`), 'utf8');
  const rows = computeFeaturesFromBars(parseYahooCsv(text, symbol, 'test').bars).rows;
  cache.set(symbol, rows);
  return rows;
}

export function toFeatureVector(r: FeatureRow, symbol = r.symbol): FeatureVector {
  return {
    symbol,
    interval: '1d',
    ts: r.ts,
    close: r.close,
    schemaVersion: FEATURE_SCHEMA.version,
    schemaHash: FEATURE_SCHEMA.hash,
    names: [...FEATURE_SCHEMA.names],
    values: r.vector,
  };
}

export function prediction(p: { symbol: string; asOf: string; lastClose: number; predictedReturn: number; version?: number; horizon?: number }): PricePrediction {
  return {
    symbol: p.symbol,
    interval: '1d',
    asOf: p.asOf,
    horizon: p.horizon ?? 1,
    lastClose: p.lastClose,
    predictedReturn: p.predictedReturn,
    predictedPrice: p.lastClose * (1 + p.predictedReturn),
    model: { name: 'price', version: p.version ?? 1 },
    featureSchemaHash: FEATURE_SCHEMA.hash,
    latencyMs: 1,
  };
}

export function bar(symbol: string, ts: string, close: number, zeroVolume = false) {
  return { symbol, interval: '1d' as const, ts, close, zeroVolume };
}

/** A registry document whose reference describes `rows` (as the trainer's buildReference does). */
export function registryDoc(version: number, rows: readonly FeatureRow[], predicted: readonly number[], opts: { trainedThrough: string; mape?: number }): RegistryDoc {
  const names = [...FEATURE_SCHEMA.names];
  const sampleOpts = { sampleSize: 200 };
  return {
    name: 'price',
    version,
    task: 'price',
    featureSchemaHash: FEATURE_SCHEMA.hash,
    metrics: { mape: opts.mape ?? 0.012, rmse: 1 },
    dataWindow: { from: rows[0]!.ts, to: opts.trainedThrough, rows: rows.length },
    reference: {
      names,
      features: referenceStatsByFeature(toColumns(rows.map((r) => r.vector), names), sampleOpts),
      predictions: referenceStats(predicted, sampleOpts),
      realized: referenceStats(predicted, sampleOpts),
    },
  };
}

export function settings(overrides: Partial<MonitorSettings> = {}): MonitorSettings {
  return { ...DEFAULT_SETTINGS, ...overrides };
}

/** A deterministic stand-in for a model: a small fixed function of the features (seeded by version). */
export function fakePredict(values: readonly number[], version = 1): number {
  return 0.0005 * version + 0.05 * (values[0] ?? 0);
}
