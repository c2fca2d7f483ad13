import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { AppError } from './errors.ts';

/**
 * Configuration comes from environment variables only, validated with zod.
 * A bad or missing value fails fast with one line per variable: `NAME: what is wrong`.
 */
export class ConfigError extends AppError {
  constructor(readonly problems: string[]) {
    super('E_CONFIG', `invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

const port = z.coerce.number().int().min(0).max(65535);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Settings every service shares. */
export const BaseEnv = z.object({
  KAFKA_BROKERS: z
    .string()
    .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'must be a comma-separated list of host:port')
    .default('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  KAFKA_TOPIC_REPLICATION: z.coerce.number().int().min(1).max(10).default(1).describe('replication factor for topics a service creates (min.insync.replicas = min(2, it))'),
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(0).max(1000).default(0).describe('partitions of the multi-partition topics a service creates (0 = each topic\'s own count in TOPIC_DEFS)'),
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]*$/, "only letters, digits, '.', '_' and '-'")
    .default(''),
  MONGO_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://').default('mongodb://127.0.0.1:27017'),
  MONGO_DB: z.string().regex(/^[A-Za-z0-9_-]{1,48}$/, 'letters, digits, _ or -').default('stock_mlops'),
  MONGO_SOCKET_TIMEOUT_MS: z.coerce.number().int().min(1_000).default(120_000).describe('a database request unanswered this long fails and is retried (0 is not allowed: an unanswered request would stall the stage)'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HTTP_PORT: port.default(0).describe('health/metrics port (0 = any free port)'),
  HTTP_HOST: z.string().default('127.0.0.1'),
  OPS_TOKEN: z.string().min(16, 'use at least 16 characters').optional().describe('bearer token for /metrics on the ops port (probes stay open)'),
  INSTANCE_ID: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/).optional().describe('this process\'s stable id (names its one-per-replica consumer groups); see instance_id.ts'),
  INSTANCE_STATE_DIR: z.string().min(1).default(path.join(tmpdir(), 'stock-mlops-instances')).describe('where processes without INSTANCE_ID claim their instance slot'),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
});
export type BaseEnv = z.infer<typeof BaseEnv>;

/**
 * KAFKA_SESSION_TIMEOUT_MS for a service whose consumers honour it: add it to the service's env
 * schema; svc.consume then gives it to every consumer of that service (others keep kafkajs' 30 s).
 */
export const KafkaSessionTimeoutMs = z.coerce.number().int().min(6_000).max(300_000).default(30_000);

export const envBool = bool;
export const envPort = port;

/**
 * Fill KAFKA_BROKERS / MONGO_URL (and KAFKA_TOPIC_REPLICATION, which a local cluster writes) from
 * the local infrastructure's env file (written by `npm run infra:up`) when they are not set, so
 * CLIs work against the local stack.
 */
export function withLocalInfraDefaults(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const stateDir = env.STOCK_MLOPS_STATE ?? path.join(REPO_ROOT, '.infra');
  const file = path.join(stateDir, 'env');
  if (!existsSync(file)) return env;
  const local: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Z_]+)=["']?([^"'\n]*)["']?\s*$/.exec(line);
    if (m) local[m[1]!] = m[2]!;
  }
  const out: NodeJS.ProcessEnv = { ...env };
  for (const key of ['KAFKA_BROKERS', 'MONGO_URL'] as const) if (!out[key] && local[key] !== undefined) out[key] = local[key];
  // The replication factor belongs to the local brokers: taken only along with them.
  if (!env.KAFKA_BROKERS && !out.KAFKA_TOPIC_REPLICATION && local.KAFKA_TOPIC_REPLICATION !== undefined) out.KAFKA_TOPIC_REPLICATION = local.KAFKA_TOPIC_REPLICATION;
  return out;
}

export function loadConfig<T extends z.ZodObject>(schema: T, env: NodeJS.ProcessEnv = process.env): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => {
    const name = i.path.join('.') || '(env)';
    const value = env[name];
    const got = value === undefined ? 'it is not set' : `got "${redactValue(name, value)}"`;
    return `${name}: ${i.message} (${got})`;
  });
  throw new ConfigError(problems);
}

function redactValue(name: string, value: string): string {
  return /KEY|TOKEN|SECRET|PASSWORD/i.test(name) ? '***' : value.length > 80 ? `${value.slice(0, 80)}…` : value;
}
