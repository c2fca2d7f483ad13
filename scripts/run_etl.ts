/**
 * `npm run etl -- <command>`: extraction from the command line, with the extractor's code and
 * cursors (MongoDB `extract_cursors`), so a re-run fetches nothing it already published.
 *
 *   npm run etl -- backfill --from 2015-01-01 --to 2016-12-31 [--providers csv] [--symbols AAPL,MSFT] [--path DIR]
 *   npm run etl -- poll [--providers csv,yahoo] [--symbols AAPL]
 *
 * backfill  fetches every page of the range for every task (provider × symbol), with a progress
 *           bar on a terminal and a summary of fetched, published, skipped and failed.
 * poll      one polling pass (one page per task), like one round of the extractor service.
 *
 * Providers, symbols, keys and base URLs come from the same environment variables as the
 * extractor (docs/raw-topics.md); the flags override EXTRACT_PROVIDERS, EXTRACT_SYMBOLS and
 * EXTRACT_REPLAY_PATH. KAFKA_BROKERS / MONGO_URL default to the local infrastructure
 * (`npm run infra:up`). Exit code: 0 ok, 1 some task failed, 2 bad usage or configuration.
 */
import { parseArgs } from 'node:util';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import pino from 'pino';
import { z } from 'zod';
import { BaseEnv, ConfigError, connectMongo, createKafka, createKafkaRawSink, createMetrics, ensureTopics, loadConfig, REDACT_PATHS, wantsHelp, withLocalInfraDefaults } from '@stock-mlops/platform';
import { cursorTime, type TaskResult } from '@stock-mlops/extract/extract_loop';
import { createExtractor, errorCodeOf, FAULT_RE, faultHook } from '@stock-mlops/extract/extractor';
import { createExtractorMetrics } from '@stock-mlops/extract/metrics';
import { createMongoCursorStore } from '@stock-mlops/extract/mongo_cursor_store';
import { buildTasks, describeSettings, ProviderEnv, resolveProviderSettings, SECRET_LOG_PATHS } from '@stock-mlops/extract/provider_settings';

const USAGE = `usage:
  npm run etl -- backfill [--from DATE] [--to DATE] [--providers LIST] [--symbols LIST] [--path DIR]
  npm run etl -- poll [--providers LIST] [--symbols LIST] [--path DIR]
DATE is YYYY-MM-DD (or an ISO timestamp); --to is inclusive (default: now).
LIST is comma-separated, e.g. --providers csv,yahoo --symbols AAPL,MSFT.`;

export class UsageError extends Error {
  readonly code = 'E_USAGE';
}

export interface EtlArgs {
  command: 'backfill' | 'poll';
  from?: Date;
  to?: Date;
  providers?: string;
  symbols?: string;
  path?: string;
}

function parseDate(text: string, flag: string, endOfDay: boolean): Date {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const t = day ? Date.parse(`${text}T${endOfDay ? '23:59:59.999' : '00:00:00.000'}Z`) : /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(t)) throw new UsageError(`${flag}: "${text}" is not a date (YYYY-MM-DD or an ISO timestamp)`);
  return new Date(t);
}

export function parseEtlArgs(argv: string[]): EtlArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { from: { type: 'string' }, to: { type: 'string' }, providers: { type: 'string' }, symbols: { type: 'string' }, path: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || positionals.length !== 1 || (command !== 'backfill' && command !== 'poll')) {
    throw new UsageError(positionals.length > 1 ? `unexpected argument "${positionals[1]}"` : command ? `unknown command "${command}"` : 'missing command');
  }
  const args: EtlArgs = { command };
  if (command === 'poll' && (values.from || values.to)) throw new UsageError('--from/--to apply to backfill only');
  if (values.from) args.from = parseDate(values.from, '--from', false);
  if (values.to) args.to = parseDate(values.to, '--to', true);
  if (args.from && args.to && args.from > args.to) throw new UsageError('--from is after --to');
  if (values.providers !== undefined) args.providers = values.providers;
  if (values.symbols !== undefined) args.symbols = values.symbols;
  if (values.path !== undefined) args.path = values.path;
  return args;
}

const EtlEnv = BaseEnv.extend(ProviderEnv.shape).extend({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
  EXTRACT_FAULT: z.string().regex(FAULT_RE, 'crash-after-publishing:YYYY-MM-DD (tests only)').optional(),
});

function describe(r: TaskResult): string {
  const status = r.error !== undefined ? `FAILED ${errorCodeOf(r.error)}: ${(r.error as Error).message}` : r.upToDate ? 'up to date' : 'ok';
  return `  ${`${r.provider} ${r.symbol}`.padEnd(28)} fetched ${String(r.fetched).padStart(6)}  published ${String(r.published).padStart(6)}  skipped ${String(r.skipped).padStart(5)}  cursor ${r.cursor ?? '-'}  ${status}`;
}

async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(USAGE);
    return 0;
  }
  let args: EtlArgs;
  try {
    args = parseEtlArgs(argv);
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const env = withLocalInfraDefaults(process.env);
  if (args.providers !== undefined) env.EXTRACT_PROVIDERS = args.providers;
  if (args.symbols !== undefined) env.EXTRACT_SYMBOLS = args.symbols;
  if (args.path !== undefined) env.EXTRACT_REPLAY_PATH = args.path;
  // A backfill replays files as fast as it can; pacing is for the live service.
  if (args.command === 'backfill') env.EXTRACT_REPLAY_SPEED = '0';
  let config: z.infer<typeof EtlEnv>;
  let settings: ReturnType<typeof resolveProviderSettings>;
  try {
    config = loadConfig(EtlEnv, env);
    settings = resolveProviderSettings(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }

  const log = pino(
    { level: config.LOG_LEVEL, base: { service: 'etl', pid: process.pid }, redact: { paths: [...REDACT_PATHS, ...SECRET_LOG_PATHS], censor: '***' }, formatters: { level: (label) => ({ level: label }) } },
    pino.destination({ dest: 2, sync: true }),
  );
  const xm = createExtractorMetrics(createMetrics('etl').registry);
  const { tasks } = await buildTasks(settings, { onEvent: xm.onHttpEvent });
  log.info({ ...describeSettings(settings), tasks: tasks.map((t) => `${t.provider.name}:${t.symbol}`) }, 'etl tasks');
  if (tasks.length === 0) {
    console.error('nothing to do: no task matches the providers and symbols given');
    return 2;
  }

  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'etl', log });
  const topics = await ensureTopics(kafka, config.KAFKA_TOPIC_PREFIX, config.KAFKA_TOPIC_REPLICATION);
  const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, log);
  const sink = createKafkaRawSink({ kafka, topics, log, metrics: xm, groupPrefix: config.KAFKA_TOPIC_PREFIX });
  await sink.connect();
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const started = Date.now();
  const bars = process.stderr.isTTY
    ? new MultiBar({ format: '{task} [{bar}] {percentage}% | {published} new | {cursor}', hideCursor: true, clearOnComplete: false }, Presets.shades_classic)
    : undefined;
  const byTask = new Map<string, SingleBar>();
  const until = args.command === 'backfill' ? (args.to ?? new Date()) : undefined;
  const progress = (r: TaskResult, final = false) => {
    if (!bars || !until) return;
    const key = `${r.provider} ${r.symbol}`;
    let bar = byTask.get(key);
    const from = args.from?.getTime() ?? cursorTime(r.cursor) ?? until.getTime();
    if (!bar) byTask.set(key, (bar = bars.create(1000, 0, { task: key.padEnd(24), published: 0, cursor: '' })));
    const at = cursorTime(r.cursor) ?? from;
    const span = Math.max(1, until.getTime() - from);
    bar.update(final || r.upToDate ? 1000 : Math.round(Math.min(1, Math.max(0, (at - from) / span)) * 1000), { published: r.published, cursor: r.cursor ?? '' });
  };

  const extractor = createExtractor({ store: createMongoCursorStore(mongo.db, { log }), sink, log, afterPublish: faultHook(config.EXTRACT_FAULT) });
  try {
    const summary = await extractor.runAll(tasks, {
      signal: abort.signal,
      drain: args.command === 'backfill',
      until,
      from: args.from,
      retries: 2,
      onPage: progress,
      onError: progress,
    });
    for (const r of summary.perTask) progress(r, r.error === undefined);
    bars?.stop();
    const upToDate = summary.perTask.filter((r) => r.upToDate).length;
    console.log(`${args.command}: ${summary.perTask.length} task(s) in ${((Date.now() - started) / 1000).toFixed(1)} s${abort.signal.aborted ? ' (interrupted)' : ''}`);
    for (const r of summary.perTask) console.log(describe(r));
    console.log(
      `summary: fetched ${summary.fetched}, published ${summary.published}, skipped ${summary.skipped} (already on the topic), ` +
        `up to date ${upToDate} task(s), failed ${summary.failed} task(s)`,
    );
    return summary.failed > 0 ? 1 : 0;
  } finally {
    bars?.stop();
    await sink.disconnect().catch(() => undefined);
    await mongo.close().catch(() => undefined);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`etl failed: ${errorCodeOf(err)} ${(err as Error)?.message ?? String(err)}`);
      process.exit(1);
    },
  );
}
