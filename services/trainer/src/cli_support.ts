/**
 * What the model CLIs (scripts/train_model.ts, evaluate_model.ts, models.ts) share: settings
 * from the environment (MONGO_URL / KAFKA_BROKERS when set, else the local infrastructure),
 * structured logs that never mix with stdout (stdout is for results: tables, or JSON on the
 * last line), a progress bar on stderr, the registry connection, and model-event publishing.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SingleBar } from 'cli-progress';
import pino from 'pino';
import { encode, makeEnvelope, type ModelEvent, type MonitorEvent } from '@stock-mlops/contracts';
import { AppError, BaseEnv, BatchingProducer, wantsHelp, connectMongo, createKafka, ensureTopics, loadConfig, REDACT_PATHS, REPO_ROOT, withLocalInfraDefaults, type Logger, type MongoHandle } from '@stock-mlops/platform';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';

export class CliError extends AppError {
  constructor(
    code: string,
    message: string,
    /** Process exit code. */
    readonly exitCode = 2,
  ) {
    super(code, message);
    this.name = 'CliError';
  }
}

export type CliEnv = BaseEnv;

export function cliEnv(): CliEnv {
  return loadConfig(BaseEnv, withLocalInfraDefaults(process.env));
}

/**
 * JSON logs on stderr; when stderr is a terminal (where the progress bar draws) they go to
 * artifacts/logs/<name>.log instead so they never garble the bar.
 */
export function cliLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): { log: Logger; file?: string } {
  const opts = {
    level,
    base: { service: name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '***' },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (!process.stderr.isTTY) return { log: pino(opts, pino.destination({ fd: 2, sync: true })) };
  const dir = path.join(REPO_ROOT, 'artifacts/logs');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.log`);
  return { log: pino(opts, pino.destination({ dest: file, append: true, sync: true, mkdir: true })), file };
}

/** A progress bar on stderr; in a non-terminal it prints a plain progress line every 2 s. */
export function progressBar(label: string): { start: (total: number) => void; update: (value: number, payload: Record<string, string>) => void; stop: () => void } {
  const bar = new SingleBar({
    format: `${label} |{bar}| {value}/{total} {detail}`,
    stream: process.stderr,
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 2_000,
    clearOnComplete: false,
  });
  let started = false;
  return {
    start: (total) => {
      bar.start(total, 0, { detail: '' });
      started = true;
    },
    update: (value, payload) => {
      if (!started) return;
      bar.setTotal(Math.max(value, bar.getTotal()));
      bar.update(value, { detail: Object.entries(payload).map(([k, v]) => `${k} ${v}`).join(' ') });
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}

export async function openRegistry(env: CliEnv, log: Logger): Promise<{ mongo: MongoHandle; store: ModelStore }> {
  const mongo = await connectMongo(env.MONGO_URL, env.MONGO_DB, log);
  const store = new ModelStore(mongo.db);
  await store.ensureIndexes();
  return { mongo, store };
}

/**
 * Publish events to the model-events (or monitor-events) topic. A failure is logged, not thrown:
 * the registry change is already durable and a running predictor also polls the registry.
 */
export async function publishEvents(env: CliEnv, log: Logger, events: { model?: ModelEvent[]; monitor?: MonitorEvent[] }, source: string): Promise<boolean> {
  const kafka = createKafka({ brokers: env.KAFKA_BROKERS, clientId: `${source}-cli`, log, extra: { retry: { initialRetryTime: 200, retries: 3, maxRetryTime: 2_000 } } });
  const producer = new BatchingProducer(kafka, { log });
  let connected = false;
  try {
    const topics = await ensureTopics(kafka, env.KAFKA_TOPIC_PREFIX);
    await producer.connect();
    connected = true;
    const model = (events.model ?? []).map((e) => encode('modelEvents', makeEnvelope('modelEvents', { data: e, source })));
    const monitor = (events.monitor ?? []).map((e) => encode('monitorEvents', makeEnvelope('monitorEvents', { data: e, source })));
    await Promise.all([producer.send(topics.modelEvents, model), producer.send(topics.monitorEvents, monitor)]);
    log.info({ modelEvents: model.length, monitorEvents: monitor.length }, 'events published');
    return true;
  } catch (err) {
    log.warn({ err }, 'could not publish the events; running services pick the registry change up at their next poll');
    return false;
  } finally {
    if (connected) await producer.disconnect().catch(() => {});
  }
}

/** Print the result: a JSON line last on stdout with --json, else human-readable text. */
export function printResult(json: boolean, value: unknown, text: () => string): void {
  if (json) process.stdout.write(`${JSON.stringify(value)}\n`);
  else process.stdout.write(`${text()}\n`);
}

/**
 * Parse the command line the conventional way: `-h`/`--help` prints the usage on stdout and
 * exits 0; an unknown flag or a missing value is an `E_USAGE` error (exit 2, usage on stderr).
 */
export function parseCli<C extends Omit<ParseArgsConfig, 'args' | 'strict'>>(usage: string, config: C, argv = process.argv.slice(2)): ReturnType<typeof parseArgs<C & { strict: true }>> {
  if (wantsHelp(argv)) {
    process.stdout.write(`${usage.trimEnd()}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({ ...config, args: argv, strict: true as const }) as ReturnType<typeof parseArgs<C & { strict: true }>>;
  } catch (err) {
    throw new CliError('E_USAGE', (err as Error).message);
  }
}

/**
 * Run a CLI main: errors become one line on stderr and a non-zero exit code; a usage error
 * (exit code 2) is followed by the usage.
 */
export function runCli(main: () => Promise<void>, options: { usage?: string } = {}): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      const e = err as { code?: string; message?: string; exitCode?: number };
      process.stderr.write(`error ${e.code ?? 'E_INTERNAL'}: ${e.message ?? String(err)}\n`);
      if (e.code === 'E_USAGE' && options.usage) process.stderr.write(`${options.usage.trimEnd()}\n`);
      if (process.env.DEBUG_CLI === '1') console.error(err);
      process.exit(e.exitCode ?? 1);
    },
  );
}
