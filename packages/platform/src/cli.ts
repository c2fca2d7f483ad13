/**
 * Command-line conventions and what the CLIs (scripts/train_model.ts, evaluate_model.ts,
 * models.ts, run_etl.ts, start.ts) share: `-h`/`--help` and usage errors, settings from the
 * environment (MONGO_URL / KAFKA_BROKERS when set, else the local infrastructure), structured
 * logs that never mix with stdout (stdout is for results: tables, or JSON on the last line), a
 * progress bar on stderr, and model-event publishing.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SingleBar } from 'cli-progress';
import pino, { type Logger } from 'pino';
import { AppError, encode, makeEnvelope, type ModelEvent, type MonitorEvent } from '@stock-mlops/contracts';
import { BaseEnv, loadConfig, REPO_ROOT, withLocalInfraDefaults } from './config.ts';
import { createKafka, ensureTopics } from './kafka/client.ts';
import { BatchingProducer } from './kafka/producer.ts';
import { REDACT_PATHS } from './logger.ts';

/** Whether the command line asks for help (`-h` or `--help`). */
export const wantsHelp = (argv: readonly string[]): boolean => argv.includes('-h') || argv.includes('--help');

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

/**
 * Publish events to the model-events (or monitor-events) topic. A failure is logged, not thrown:
 * the registry change is already durable and a running predictor also polls the registry.
 */
export async function publishEvents(env: CliEnv, log: Logger, events: { model?: ModelEvent[]; monitor?: MonitorEvent[] }, source: string): Promise<boolean> {
  const kafka = createKafka({ brokers: env.KAFKA_BROKERS, clientId: `${source}-cli`, log, extra: { retry: { initialRetryTime: 200, retries: 3, maxRetryTime: 2_000 } } });
  const producer = new BatchingProducer(kafka, { log });
  let connected = false;
  try {
    const topics = await ensureTopics(kafka, env.KAFKA_TOPIC_PREFIX, env.KAFKA_TOPIC_REPLICATION);
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
 * exits 0; an unknown flag or a missing value is an `E_USAGE` error (exit 2, usage on stderr,
 * see `runCli`).
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
 * `parseCli` for scripts without a CLI runner: a usage error prints the error and `usage` on
 * stderr and exits 2 right here.
 */
export function parseCommandLine<C extends Omit<ParseArgsConfig, 'args' | 'strict'>>(usage: string, config: C, argv = process.argv.slice(2)): ReturnType<typeof parseArgs<C & { strict: true }>> {
  try {
    return parseCli(usage, config, argv);
  } catch (err) {
    process.stderr.write(`error E_USAGE: ${(err as Error).message}\n${usage.trimEnd()}\n`);
    process.exit(2);
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
