/**
 * extractor: polls the configured providers per symbol on each provider's interval and publishes
 * raw events keyed by symbol, with deterministic event ids and a trace-id header. Cursors live in
 * MongoDB and move only after Kafka acknowledged the events; on start-up (and after a failed
 * publish) the raw topic is read back from the saved position, so a crash between the ack and the
 * cursor write publishes nothing twice. Provider errors are counted and logged, never fatal.
 * With EXTRACT_AFTER_REPLAY, each replayed symbol continues after its last bar (after_replay.ts).
 */
import { z } from 'zod';
import { loadConfig, startService } from '@stock-mlops/platform';
import { planContinuation, type ContinuationTask } from './after_replay.ts';
import { createExtractor, errorCodeOf, FAULT_RE, faultHook } from './extractor.ts';
import { createExtractorMetrics } from './metrics.ts';
import { createMongoCursorStore } from './mongo_cursor_store.ts';
import { buildTasks, describeSettings, ProviderEnv, resolveProviderSettings, withSecretRedaction, type PlannedTask } from './providers.ts';
import type { CsvReplayProvider } from '@stock-mlops/extract/prices/csv-replay';
import { createKafkaRawSink } from './raw_sink.ts';
import { retryAfterOf, runScheduler } from './scheduler.ts';

const Env = ProviderEnv.extend({
  EXTRACT_FAULT: z.string().regex(FAULT_RE, 'crash-after-publishing:YYYY-MM-DD (tests only)').optional(),
});

// Validate every provider setting before connecting anywhere: a bad value names its variable.
const settings = resolveProviderSettings(loadConfig(ProviderEnv));
const svc = await startService({ name: 'extractor', env: Env, mongo: true });
const { config, kafka, topics, shutdown, metrics } = svc;
const log = withSecretRedaction(svc.log);
const xm = createExtractorMetrics(metrics.registry);

const registryDeps = { onEvent: xm.onHttpEvent };
const { registry, tasks: planned } = await buildTasks(settings, registryDeps);
const store = createMongoCursorStore(svc.mongo!.db, { log, isStopping: () => shutdown.isStopping });
const replay = registry.get('csv-replay') as CsvReplayProvider | undefined;
const continuation = replay
  ? await planContinuation({ settings: settings.afterReplay, replay, symbols: planned.filter((t) => t.provider === replay).map((t) => t.symbol), store, log, registryDeps })
  : [];
const tasks: Array<PlannedTask & Partial<Pick<ContinuationTask, 'paced' | 'ready'>>> = [...planned, ...continuation];
const sink = createKafkaRawSink({ kafka, topics, log, metrics: xm, groupPrefix: config.KAFKA_TOPIC_PREFIX });
await sink.connect();
shutdown.add('raw-sink', () => sink.disconnect());
const extractor = createExtractor({ store, sink, log, afterPublish: faultHook(config.EXTRACT_FAULT) });
log.info({ ...describeSettings(settings), tasks: tasks.map((t) => `${t.provider.name}:${t.symbol}`) }, 'extraction tasks');
if (tasks.length === 0) log.warn('no extraction tasks: check EXTRACT_PROVIDERS, EXTRACT_SYMBOLS and the replay path');

// Read back, in one pass, what any task published beyond its cursor before the last stop.
await extractor.settle(tasks).catch((err: unknown) => log.error({ err: (err as Error).message, code: errorCodeOf(err) }, 'recovery read-back failed; each task retries it before its first run'));

const abort = new AbortController();
const loop = runScheduler({
  tasks: tasks.map((t) => ({ ...t, key: `${t.provider.name}|${t.symbol}`, lane: t.provider.name })),
  signal: abort.signal,
  run: async (task) => {
    if (task.ready && !(await task.ready().catch(() => false))) return { more: false };
    const r = await extractor.runTask(task, { signal: abort.signal });
    const provider = task.provider.name;
    if (r.error !== undefined) {
      const code = errorCodeOf(r.error);
      if (code === 'E_ABORTED' && abort.signal.aborted) return { more: false };
      const retryAfterMs = retryAfterOf(r.error);
      xm.fetches.inc({ provider, outcome: retryAfterMs !== undefined ? 'rescheduled' : 'error', code });
      log.error({ provider, symbol: task.symbol, code, phase: r.phase, retryAfterMs, err: (r.error as Error).message }, 'extraction failed');
      return { more: false, error: r.error };
    }
    xm.fetches.inc({ provider, outcome: r.fetched > 0 ? 'ok' : 'empty', code: '' });
    xm.lastSuccess.set({ provider, symbol: task.symbol }, Date.now() / 1000);
    if (r.published > 0 || r.skipped > 0) {
      log[r.published >= 100 || r.skipped > 0 ? 'info' : 'debug']({ provider, symbol: task.symbol, published: r.published, skipped: r.skipped, cursor: r.cursor }, 'extracted');
    }
    return { more: r.fetched > 0 && !task.paced };
  },
  onPlanned: (task, next) => {
    if (next.reason === 'retry-after') log.warn({ provider: task.provider.name, symbol: task.symbol, delayMs: next.delayMs }, 'provider asked us to come back later; rescheduled');
  },
});
shutdown.add('extract-loop', async () => {
  abort.abort();
  await loop;
});
svc.setReady('extractor', true);
