import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { withLocalInfraDefaults } from '@stock-mlops/platform/config';
import { REPO_ROOT } from './supervisor.ts';

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'infra', 'infra.sh');

/**
 * Local infrastructure via scripts/infra/infra.sh. With both KAFKA_BROKERS and MONGO_URL set,
 * nothing is started and the external servers are used.
 */
export function infraUp(env: NodeJS.ProcessEnv = process.env): { env: { KAFKA_BROKERS: string; MONGO_URL: string }; started: boolean } {
  if (env.KAFKA_BROKERS && env.MONGO_URL) return { env: { KAFKA_BROKERS: env.KAFKA_BROKERS, MONGO_URL: env.MONGO_URL }, started: false };
  const r = spawnSync('bash', [SCRIPT, 'up'], { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.status !== 0) throw Object.assign(new Error('infrastructure failed to start (scripts/infra/infra.sh up)'), { code: 'E_INFRA' });
  return { env: readInfraEnv(env), started: true };
}

/** The brokers and database of the local infrastructure: the environment's, else `.infra/env`'s (read by the platform's one parser). */
export function readInfraEnv(env: NodeJS.ProcessEnv = process.env): { KAFKA_BROKERS: string; MONGO_URL: string } {
  const merged = withLocalInfraDefaults(env);
  return { KAFKA_BROKERS: merged.KAFKA_BROKERS ?? '', MONGO_URL: merged.MONGO_URL ?? '' };
}

export function infraDown(env: NodeJS.ProcessEnv = process.env): void {
  spawnSync('bash', [SCRIPT, 'down'], { stdio: 'inherit', env });
}

/** Thread dump of a server (`infra.sh stacks`): FerretDB prints where its goroutines wait, then exits. Never throws. */
export function infraStacks(component: 'kafka' | 'mongo', env: NodeJS.ProcessEnv = process.env): void {
  spawnSync('bash', [SCRIPT, 'stacks', component], { stdio: ['ignore', 'inherit', 'inherit'], env, timeout: 30_000 });
}

export function infraCtl(cmd: 'start' | 'stop' | 'restart', component: 'kafka' | 'mongo', env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync('bash', [SCRIPT, cmd, component], { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.status !== 0) throw Object.assign(new Error(`infra ${cmd} ${component} failed`), { code: 'E_INFRA' });
}
