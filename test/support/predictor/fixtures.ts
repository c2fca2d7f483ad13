/**
 * Test fixtures for the predictor: the synthetic models, series and registry inputs of
 * @stock-mlops/ml/synthetic, a tiny trained sentiment model, and an in-process serving stack
 * (core + queue + catalog + gRPC server) over a real registry database.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import client from 'prom-client';
import type { Db } from 'mongodb';
import type { BatcherOptions } from '@stock-mlops/ml/inference/batcher';
import { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { createPriceInference, type PriceInference } from '@stock-mlops/ml/inference/price_inference';
import { ModelStore, type ModelArtifacts } from '@stock-mlops/ml/registry/model_store';
import { initTf } from '@stock-mlops/ml/tf';
import { startGrpcServer, type GrpcHandle } from '../../../services/predictor/src/grpc_server.ts';
import { ModelCatalog } from '../../../services/predictor/src/model_loader.ts';

export { featureSeries, LOOKBACK, N_FEATURES, promote, randomPriceModel, registerInput, SCHEMA_HASH, storeSyntheticSchema } from '@stock-mlops/ml/synthetic';

let sentimentCache: ModelArtifacts | undefined;

/**
 * A tiny trained sentiment model's registry artifacts. Trained in a child process: tfjs gives
 * layers of a second model with the same names a suffix, so training and loading in one process
 * would not round-trip.
 */
export function sentimentArtifacts(): ModelArtifacts {
  if (sentimentCache) return sentimentCache;
  const dir = mkdtempSync(path.join(tmpdir(), 'sentiment-fixture-'));
  execFileSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'make_sentiment_fixture.ts'), dir], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
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
