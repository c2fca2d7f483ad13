/**
 * extractor: polls the configured providers per symbol and publishes raw events, keyed by
 * symbol, with deterministic event ids and a trace id header. Cursors live in MongoDB and move
 * only after Kafka acknowledged the events, so a restart resumes with neither gap nor re-fetch.
 */
import { z } from 'zod';
import { encode, makeEnvelope, newTraceId, TRACE_HEADER, type DataTopicKey } from '@stock-mlops/contracts';
import { startService } from '@stock-mlops/platform';
import { extractOnce, type Publish } from './extract_loop.ts';
import { createMongoCursorStore } from './mongo_cursor_store.ts';
import { buildTasks, ProviderEnv } from './providers.ts';

const Env = ProviderEnv.extend({
  EXTRACT_POLL_MS: z.coerce.number().int().min(100).default(5_000),
});

const svc = await startService({ name: 'extractor', env: Env, mongo: true });
const { config, log, topics, producer, shutdown } = svc;
const cursors = createMongoCursorStore(svc.mongo!.db);
const tasks = await buildTasks(config);
log.info({ tasks: tasks.map((t) => `${t.provider.name}:${t.symbol}`) }, 'extraction tasks');

export const publish: Publish = async (topic, provider, items) => {
  const messages = items.map((it) => {
    const traceId = newTraceId();
    const env = makeEnvelope(topic as DataTopicKey & typeof topic, {
      data: it.data as never,
      source: provider.name,
      idParts: it.idParts,
      eventTime: it.eventTime,
      traceId,
    });
    log.debug({ traceId, topic, eventId: env.eventId }, 'extracted');
    return { ...encode(topic, env as never), headers: { [TRACE_HEADER]: traceId } };
  });
  await producer.send(topics[topic], messages);
};

const abort = new AbortController();
shutdown.add('extract-loop', () => abort.abort());
svc.setReady('extractor', true);
while (!abort.signal.aborted) {
  const s = await extractOnce(tasks, cursors, publish, {
    signal: abort.signal,
    onError: ({ provider, symbol, error }) => log.error({ provider, symbol, err: (error as Error).message, code: (error as { code?: string }).code }, 'extraction failed'),
  });
  if (s.fetched > 0) log.info({ fetched: s.fetched, failed: s.failed }, 'extraction pass');
  await new Promise((r) => setTimeout(r, s.fetched > 0 ? 0 : config.EXTRACT_POLL_MS));
}
