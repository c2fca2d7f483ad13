import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { envBool, envPort, KafkaSessionTimeoutMs } from '@stock-mlops/platform';
import type { WsOptions } from './ws_server.ts';

/** Predictor settings (environment variables; see docs/api.md). Shared ones come from BaseEnv. */
export const PredictorEnv = z.object({
  GRPC_HOST: z.string().default('127.0.0.1'),
  GRPC_PORT: envPort.default(50051),
  GRPC_MAX_MESSAGE_BYTES: z.coerce.number().int().min(1024).default(4 * 1024 * 1024),
  GRPC_TOKEN: z.string().min(16).optional().describe('bearer token required on every RPC (health and reflection excepted)'),
  GRPC_TLS_CERT: z.string().min(1).optional().describe('PEM certificate chain file; with GRPC_TLS_KEY serves TLS'),
  GRPC_TLS_KEY: z.string().min(1).optional(),
  GRPC_STREAM_BACKLOG_MAX: z.coerce.number().int().positive().default(1000),
  PREDICT_BATCH_MAX: z.coerce.number().int().positive().default(64).describe('largest micro-batch (1 = no batching)'),
  PREDICT_BATCH_DELAY_MS: z.coerce.number().min(0).max(1000).default(0).describe('longest wait for a micro-batch to fill (0 = the next turn of the event loop: what arrived in the same turn, or while the worker was busy, still batches)'),
  PREDICT_QUEUE_MAX: z.coerce.number().int().positive().default(2048).describe('queued items beyond which requests get RESOURCE_EXHAUSTED'),
  PREDICT_HISTORY_KEEP: z.coerce.number().int().min(1).max(256).default(32).describe('feature vectors per symbol kept in the history checkpoint (at least the served model\'s lookback)'),
  PREDICT_WORKER: envBool.default(true).describe('run price-model inference in a worker thread (1) or in the serving thread (0)'),
  PREDICT_IN_FLIGHT: z.coerce.number().int().min(1).max(8).default(1).describe('micro-batches handed to the inference worker at once (PREDICT_WORKER=1 only; in the serving thread one batch runs at a time); 2 did not pay on a shared 2-core machine, see docs/benchmarks.md'),
  PREDICT_BATCH_REQUESTS_MAX: z.coerce.number().int().positive().default(1024).describe('most requests in one PredictBatch'),
  OIP_MAX_ELEMENTS: z.coerce.number().int().positive().default(1_000_000),
  SENTIMENT_MAX_TEXTS: z.coerce.number().int().positive().default(256),
  WS_HOST: z.string().default('127.0.0.1'),
  WS_PORT: envPort.default(8081),
  WS_PATH: z.string().startsWith('/').default('/ws'),
  WS_HEARTBEAT_MS: z.coerce.number().int().positive().default(15_000),
  WS_MAX_BUFFERED_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
  WS_MAX_CLIENTS: z.coerce.number().int().positive().default(10_000),
  WS_TOKEN: z.string().min(16).optional(),
  WS_ALLOWED_ORIGINS: z.string().optional(),
  PREDICTOR_INSTANCE_ID: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/).optional(),
  MODEL_POLL_MS: z.coerce.number().int().positive().default(10_000),
  SHADOW_QUEUE_MAX: z.coerce.number().int().positive().default(4096).describe('production predictions waiting to be shadow-scored by the challenger; beyond, the oldest are dropped'),
  SHADOW_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000).describe('longest a challenger batch may run (not counting its wait for idle time) before it counts as failed'),
  SHADOW_MAX_FAILURES: z.coerce.number().int().positive().default(3).describe('failing challenger batches in a row after which the challenger is dropped'),
  KAFKA_SESSION_TIMEOUT_MS: KafkaSessionTimeoutMs.describe('group session timeout of the predictor\'s consumers (broker minimum 6 s)'),
});
export type PredictorEnv = z.infer<typeof PredictorEnv>;

export function readTls(config: Pick<PredictorEnv, 'GRPC_TLS_CERT' | 'GRPC_TLS_KEY'>): { cert: Buffer; key: Buffer } | undefined {
  const { GRPC_TLS_CERT: cert, GRPC_TLS_KEY: key } = config;
  if (!cert && !key) return undefined;
  if (!cert || !key) throw Object.assign(new Error('GRPC_TLS_CERT and GRPC_TLS_KEY must be set together'), { code: 'E_CONFIG' });
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

export const PREDICTOR_VERSION = (JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

/** The WebSocket server's settings from the environment (ws_server.ts; the caller adds log and core). */
export function wsOptions(config: PredictorEnv): Omit<WsOptions, 'log' | 'core'> {
  return {
    host: config.WS_HOST,
    port: config.WS_PORT,
    path: config.WS_PATH,
    heartbeatMs: config.WS_HEARTBEAT_MS,
    maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
    maxClients: config.WS_MAX_CLIENTS,
    token: config.WS_TOKEN,
    allowedOrigins: config.WS_ALLOWED_ORIGINS?.split(',').map((s) => s.trim()),
  };
}
