/**
 * extractor: polls the configured providers per symbol on each provider's interval and publishes
 * raw events keyed by symbol, with deterministic event ids and a trace-id header. Cursors live in
 * MongoDB and move only after Kafka acknowledged the events; on start-up (and after a failed
 * publish) the raw topic is read back from the saved position, so a crash between the ack and the
 * cursor write publishes nothing twice. Provider errors are counted and logged, never fatal.
 * With EXTRACT_AFTER_REPLAY, each replayed symbol continues after its last bar (after_replay.ts).
 */
import { loadConfig, startService } from '@stock-mlops/platform';
import { planContinuation } from './after_replay.ts';
import { ExtractorEnv } from './config.ts';
import { createExtractor, errorCodeOf, faultHook } from '@stock-mlops/extract/extractor';
import { createExtractorMetrics } from '@stock-mlops/extract/metrics';
import { createMongoCursorStore } from '@stock-mlops/extract/mongo_cursor_store';
import { buildTasks, describeSettings, ProviderEnv, resolveProviderSettings, withSecretRedaction } from '@stock-mlops/extract/provider_settings';
import type { CsvReplayProvider } from '@stock-mlops/extract/prices/csv_replay';
import { createKafkaRawSink } from '@stock-mlops/platform/kafka/raw_sink';
import { createTaskRunner, type ExtractionTask } from './run_task.ts';
import { runScheduler } from './scheduler.ts';

// Validate every provider setting before connecting anywhere: a bad value names its variable.
const settings = resolveProviderSettings(loadConfig(ProviderEnv));
const svc = await startService({ name: 'extractor', env: ExtractorEnv, mongo: true });
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
const tasks: ExtractionTask[] = [...planned, ...continuation];
const sink = createKafkaRawSink({ kafka, topics, log, metrics: xm, groupPrefix: config.KAFKA_TOPIC_PREFIX });
await sink.connect();
shutdown.add('raw-sink', () => sink.disconnect());
const extractor = createExtractor({ store, sink, log, afterPublish: faultHook(config.EXTRACT_FAULT) });
log.info({ ...describeSettings(settings), tasks: tasks.map((t) => `${t.provider.name}:${t.symbol}`) }, 'extraction tasks');
if (tasks.length === 0) log.warn('no extraction tasks: check EXTRACT_PROVIDERS, EXTRACT_SYMBOLS and the replay path');

// Read back, in one pass, what any task published beyond its cursor before the last stop.
await extractor.settle(tasks).catch((err: unknown) => log.error({ err: (err as Error).message, code: errorCodeOf(err) }, 'recovery read-back failed; each task retries it before its first run'));

const abort = new AbortController();
const runner = createTaskRunner({ extractor, metrics: xm, log, signal: abort.signal });
const loop = runScheduler({
  tasks: tasks.map((t) => ({ ...t, key: `${t.provider.name}|${t.symbol}`, lane: t.provider.name })),
  signal: abort.signal,
  run: runner.run,
  onPlanned: runner.onPlanned,
});
shutdown.add('extract-loop', async () => {
  abort.abort();
  await loop;
});
svc.setReady('extractor', true);
