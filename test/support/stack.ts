/**
 * Test support: run the real services against the real broker and database started by the
 * test runner (KAFKA_BROKERS / MONGO_URL), isolated per test by a topic prefix and a database.
 * Every name made here starts with the test file's id (scripts/lib/isolation.ts), so the runner
 * drops the file's databases, topics and groups when the file ends.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { Supervisor, serviceSpec, type ServiceName } from '../../scripts/lib/supervisor.ts';
import { currentFileId, ownedPrefix } from '../../scripts/lib/isolation.ts';
import { testSignal } from '../harness/index.ts';

export function requireInfra(): { KAFKA_BROKERS: string; MONGO_URL: string } {
  const { KAFKA_BROKERS, MONGO_URL } = process.env;
  if (!KAFKA_BROKERS || !MONGO_URL) {
    throw new Error('KAFKA_BROKERS and MONGO_URL must be set: run tests with `npm test` (it starts the local infrastructure)');
  }
  return { KAFKA_BROKERS, MONGO_URL };
}

/**
 * A name unique to this call and owned by this test file: `<file id>_<label><time><random>`. Use it
 * for every database name, topic prefix and consumer group (≤ 33 characters for labels up to 8).
 */
export function uniqueId(label: string): string {
  return `${ownedPrefix(currentFileId())}${label}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** The database name for a topic prefix: FerretDB allows letters, digits, `_` and `-`, and short names. */
export function dbNameFor(prefix: string, max = 40): string {
  return prefix.replace(/\W/g, '_').slice(0, max);
}

export { freePort } from '@stock-mlops/platform';

export function kafkaClient(clientId = 'test'): Kafka {
  return new Kafka({ clientId, brokers: requireInfra().KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
}

export async function mongoClient(): Promise<MongoClient> {
  const c = new MongoClient(requireInfra().MONGO_URL, { serverSelectionTimeoutMS: 10_000 });
  await c.connect();
  return c;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
}

/** Collect every message of some topics (from the beginning) with a throwaway consumer group. */
export async function collect(topics: string[], groupPrefix = 'collector'): Promise<{ messages: Array<{ topic: string; m: KafkaMessage }>; stop: () => Promise<void>; consumer: Consumer }> {
  const kafka = kafkaClient(groupPrefix);
  const consumer = kafka.consumer({ groupId: uniqueId(`${groupPrefix}-`) });
  const messages: Array<{ topic: string; m: KafkaMessage }> = [];
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ topic, message }) => void messages.push({ topic, m: message }) });
  return { messages, consumer, stop: () => consumer.disconnect() };
}

export interface StackOptions {
  services: ServiceName[];
  env?: NodeJS.ProcessEnv;
  perService?: Partial<Record<ServiceName, NodeJS.ProcessEnv>>;
  restart?: boolean;
}

export interface RunningStack {
  prefix: string;
  db: string;
  env: NodeJS.ProcessEnv;
  sup: Supervisor;
  logs: string[];
  stop: () => Promise<void>;
}

/** Start services as separate processes; logs are kept in memory (and printed when DEBUG_STACK=1). */
export function startStack(opts: StackOptions): RunningStack {
  const infra = requireInfra();
  const prefix = `${uniqueId('t')}.`;
  const db = dbNameFor(prefix);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...infra,
    KAFKA_TOPIC_PREFIX: prefix,
    MONGO_DB: db,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'debug',
    ...opts.env,
  };
  const logs: string[] = [];
  const sup = new Supervisor({
    env,
    restart: opts.restart ?? true,
    onLine: (svc, line) => {
      logs.push(`${svc}| ${line}`);
      if (process.env.DEBUG_STACK === '1') process.stdout.write(`${svc}| ${line}\n`);
    },
  });
  for (const s of opts.services) sup.start(serviceSpec(s, { HTTP_PORT: '0', ...(opts.perService?.[s] ?? {}) }));
  return { prefix, db, env, sup, logs, stop: () => sup.stop(10_000) };
}

/**
 * One line per service: how much it logged, when it last logged, and its last warning or error.
 * Short enough to survive a CI log that keeps only the tail (printed last on a failure).
 */
export function logDigest(stack: RunningStack): string {
  const bySvc = new Map<string, { lines: number; last?: string; warns: number; lastWarn?: string }>();
  for (const l of stack.logs) {
    const bar = l.indexOf('| ');
    const svc = l.slice(0, bar);
    const e = bySvc.get(svc) ?? { lines: 0, warns: 0 };
    bySvc.set(svc, e);
    e.lines++;
    let rec: { level?: string; time?: string; msg?: string; err?: unknown } | undefined;
    try {
      rec = JSON.parse(l.slice(bar + 2)) as typeof rec;
    } catch {
      continue;
    }
    if (rec?.time) e.last = rec.time.slice(11, 23);
    if (rec?.level === 'warn' || rec?.level === 'error' || rec?.level === 'fatal') {
      e.warns++;
      const err = typeof rec.err === 'string' ? rec.err : JSON.stringify(rec.err ?? '');
      e.lastWarn = `${rec.time?.slice(11, 23)} ${rec.msg}: ${err}`.slice(0, 180);
    }
  }
  return [...bySvc]
    .map(([svc, e]) => `  ${svc.padEnd(12)} ${String(e.lines).padStart(5)} lines, last at ${e.last ?? '?'}, ${e.warns} warnings${e.lastWarn ? `; last: ${e.lastWarn}` : ''}`)
    .join('\n');
}

/** Print the tail of the services' logs (for failure diagnosis). */
export function dumpLogs(stack: RunningStack, lines = 60): void {
  const interesting = stack.logs.filter((l) => !l.includes('"level":"debug"'));
  console.error(interesting.slice(-lines).join('\n'));
}

export interface FailureReport {
  /** How many lines of the services' logs to print on a failure (default 60). */
  logLines?: number;
  /** More diagnosis after the logs on a failure (e.g. what the database holds); its own errors are ignored. */
  onFailure?: (stack: RunningStack) => Promise<unknown> | unknown;
}

async function report(stack: RunningStack, opts: FailureReport): Promise<void> {
  dumpLogs(stack, opts.logLines);
  await Promise.resolve()
    .then(() => opts.onFailure?.(stack))
    .catch(() => undefined);
}

/**
 * Run `fn` against a running stack: when `fn` throws or the test times out, report the failure
 * (`FailureReport`) and rethrow; `onTimeout` runs after the report when the test times out.
 * Alone, for a stack shared by the tests of a suite (started in one, stopped in `t.after`);
 * `withStack` runs every test that has a stack of its own through it.
 */
export async function reportingFailures<T>(stack: RunningStack, fn: () => Promise<T>, opts: FailureReport & { onTimeout?: () => void } = {}): Promise<T> {
  const signal = testSignal();
  const timedOut = () => {
    void report(stack, opts).finally(opts.onTimeout);
  };
  signal?.addEventListener('abort', timedOut, { once: true });
  try {
    return await fn();
  } catch (err) {
    if (!signal?.aborted) await report(stack, opts);
    throw err;
  } finally {
    signal?.removeEventListener('abort', timedOut);
  }
}

/** Registers a clean-up for `withStack` to run before it stops the stack. */
export type Defer = (cleanup: () => Promise<unknown> | unknown) => void;

/**
 * Start a stack, run `fn` with it, and stop the stack however `fn` ends, also when the test times
 * out; when `fn` throws or the test times out, the failure is reported first (`FailureReport`:
 * the tail of the services' logs, then `onFailure`). Clean-ups `fn` registers with `defer`
 * (clients, consumers, servers it opened) run last registered first, their errors ignored,
 * before the stack stops.
 */
export async function withStack<T>(opts: StackOptions & FailureReport, fn: (stack: RunningStack, defer: Defer) => Promise<T>): Promise<T> {
  const stack = startStack(opts);
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  try {
    return await reportingFailures(stack, () => fn(stack, (c) => void cleanups.push(c)), { ...opts, onTimeout: () => void stack.stop() });
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
    await stack.stop();
  }
}
