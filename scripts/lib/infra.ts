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

/** The environment for infra.sh on a state dir of its own: its Kafka is local, whatever the caller's KAFKA_BROKERS says. */
function ownStateEnv(stateDir: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // A node restarting beside a loaded pipeline on a small machine may need minutes.
  const out: NodeJS.ProcessEnv = { KAFKA_START_TIMEOUT: '300', ...env, STOCK_MLOPS_STATE: stateDir };
  for (const k of ['KAFKA_BROKERS', 'KAFKA_TOPIC_REPLICATION', 'KAFKA_PORT', 'KAFKA_CONTROLLER_PORT']) delete out[k];
  return out;
}

/**
 * A Kafka cluster of `brokers` nodes of its own (`infra.sh up --brokers N kafka` with
 * STOCK_MLOPS_STATE=stateDir), beside the runner's single broker; ports are chosen free.
 */
export function kafkaClusterUp(stateDir: string, brokers: number, env: NodeJS.ProcessEnv = process.env): { KAFKA_BROKERS: string; KAFKA_TOPIC_REPLICATION: string } {
  const own = ownStateEnv(stateDir, env);
  const r = spawnSync('bash', [SCRIPT, 'up', '--brokers', String(brokers), 'kafka'], { stdio: ['ignore', 'inherit', 'inherit'], env: own });
  if (r.status !== 0) throw Object.assign(new Error(`a ${brokers}-broker Kafka failed to start (infra.sh up --brokers ${brokers} kafka)`), { code: 'E_INFRA' });
  const local = withLocalInfraDefaults({ STOCK_MLOPS_STATE: stateDir });
  return { KAFKA_BROKERS: local.KAFKA_BROKERS ?? '', KAFKA_TOPIC_REPLICATION: local.KAFKA_TOPIC_REPLICATION ?? '1' };
}

/** One node of that cluster: `kill` (SIGKILL), `stop` (controlled shutdown), `start` (returns once it answers). */
export function kafkaNode(stateDir: string, node: number, action: 'kill' | 'stop' | 'start', env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync('bash', [SCRIPT, 'kafka-node', String(node), action], { stdio: ['ignore', 'inherit', 'inherit'], env: ownStateEnv(stateDir, env) });
  if (r.status !== 0) throw Object.assign(new Error(`infra.sh kafka-node ${node} ${action} failed`), { code: 'E_INFRA' });
}

/** Stops that cluster and wipes its data (never throws). */
export function kafkaClusterDown(stateDir: string, env: NodeJS.ProcessEnv = process.env): void {
  spawnSync('bash', [SCRIPT, 'down', '--purge', 'kafka'], { stdio: 'inherit', env: ownStateEnv(stateDir, env) });
}
