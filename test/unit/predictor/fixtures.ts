/**
 * Test fixtures for the predictor: small price models with non-trivial (seeded random) weights,
 * feature series, registry inputs, a tiny trained sentiment model, and an in-process serving
 * stack (core + queue + catalog + gRPC server) over a real registry database.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import client from 'prom-client';
import type { Db } from 'mongodb';
import { mulberry32, type FeatureVector } from '@stock-mlops/contracts';
import type { BatcherOptions } from '@stock-mlops/ml/inference/batcher';
import { ModelStore, type ModelArtifacts, type RegisterInput } from '@stock-mlops/ml/registry/model_store';
import { DEFAULT_PRICE_CONFIG, PriceModel } from '@stock-mlops/ml/training/models/price_predictor';
import { initTf } from '@stock-mlops/ml/tf';
import { PredictorCore } from '../../../services/predictor/src/core.ts';
import { startGrpcServer, type GrpcHandle } from '../../../services/predictor/src/grpc_server.ts';
import { createPriceInference, type PriceInference } from '../../../services/predictor/src/inference.ts';
import { ModelCatalog } from '../../../services/predictor/src/model_loader.ts';

export const SCHEMA_HASH = 'feedfacecafebeef0123456789abcdef';
export const LOOKBACK = 5;
export const N_FEATURES = 4;

const rng = mulberry32;

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
  const r = rng(seed);
  m.model.setWeights(m.model.getWeights().map((w) => tf.tensor(Array.from({ length: w.size }, () => (r() - 0.5) * scale), w.shape)));
  return m;
}

/** A deterministic feature series for one symbol (daily bars ending 2024-01-n). */
export function featureSeries(symbol: string, n: number, seed = 1, nFeatures = N_FEATURES): FeatureVector[] {
  const r = rng(seed);
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

let sentimentCache: ModelArtifacts | undefined;

/**
 * A tiny trained sentiment model's registry artifacts. Trained in a child process: tfjs gives
 * layers of a second model with the same names a suffix, so training and loading in one process
 * would not round-trip.
 */
export function sentimentArtifacts(): ModelArtifacts {
  if (sentimentCache) return sentimentCache;
  const dir = mkdtempSync(path.join(tmpdir(), 'sentiment-fixture-'));
  execFileSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'make-sentiment-fixture.ts'), dir], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
  sentimentCache = { json: JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as Record<string, unknown>, weights: new Uint8Array(readFileSync(path.join(dir, 'weights.bin'))) };
  return sentimentCache;
}

export interface ServingStack {
  core: PredictorCore;
  inference: PriceInference;
  catalog: ModelCatalog;
  store: ModelStore;
  grpc: GrpcHandle;
  /** Metrics of the inference queue (batch sizes, drops). */
  registry: client.Registry;
  close: () => Promise<void>;
}

/** Core + queue + catalog (over `db`) + gRPC server on a free port, in this process. */
export async function startServing(
  db: Db,
  opts: { batch?: Partial<BatcherOptions>; token?: string; tls?: { cert: Buffer; key: Buffer }; maxMessageBytes?: number } = {},
): Promise<ServingStack> {
  const { tf } = await initTf();
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const registry = new client.Registry();
  const inference = createPriceInference({ maxBatch: 64, maxDelayMs: 1, maxQueue: 1024, ...opts.batch }, registry);
  const core = new PredictorCore(inference.run);
  const store = new ModelStore(db);
  const catalog = new ModelCatalog(store, core, tf, log);
  await catalog.syncProduction('test');
  const grpc = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    log,
    core,
    catalog,
    maxMessageBytes: opts.maxMessageBytes ?? 4 * 1024 * 1024,
    token: opts.token,
    tls: opts.tls,
    version: 'test',
    domain: { maxBatchRequests: 256, maxTexts: 64, maxStreamBacklog: 100 },
    oip: { maxElements: 100_000, maxTexts: 64 },
  });
  grpc.setServing(true);
  return {
    core,
    inference,
    catalog,
    store,
    grpc,
    registry,
    close: async () => {
      await grpc.close();
      inference.close();
    },
  };
}

/**
 * Call at the end of an `after` hook: if a client library (kafkajs retry loops after a failure)
 * still holds the event loop once the suite has reported, exit instead of hanging the runner.
 */
export function exitWhenDone(): void {
  setTimeout(() => process.exit(process.exitCode ?? 0), 5_000).unref();
}
