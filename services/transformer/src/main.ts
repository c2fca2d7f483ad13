/**
 * transformer: raw prices → clean prices + features, incrementally per symbol; raw news and
 * financial facts → their clean topics. Invalid or late records go to the transform dead-letter
 * topic with the reason; duplicates are dropped and counted.
 *
 * Per-symbol state (cleaner + feature engine + the last input offset it covers) is saved to
 * MongoDB before offsets are committed and reloaded after a restart or rebalance, so redelivered
 * records are skipped: outputs are neither lost nor produced twice.
 */
import { z } from 'zod';
import client from 'prom-client';
import { encode, makeEnvelope, TRACE_HEADER, type RawPriceBar } from '@stock-mlops/contracts';
import { runConsumer, startService, withDbRetry, type Consumed, type OutMessage } from '@stock-mlops/platform';
import { FEATURE_SCHEMA, SymbolPipeline, type PipelineOutput, type PipelineSnapshot } from '@stock-mlops/transform';

const Env = z.object({
  TRANSFORM_REORDER_WINDOW: z.coerce.number().int().min(0).max(1000).default(0),
  TRANSFORM_IDLE_FLUSH_MS: z.coerce.number().int().min(100).default(2_000),
});

const svc = await startService({ name: 'transformer', env: Env, mongo: true });
const { config, log, topics, producer, kafka, shutdown, metrics } = svc;
const stateCol = svc.mongo!.db.collection<{ _id: string; snapshot: string; updatedAt: string }>('transformer_state');
const duplicates = new client.Counter({
  name: 'stockmlops_duplicates_dropped_total',
  help: 'Records dropped as duplicates or redeliveries',
  labelNames: ['reason'] as const,
  registers: [metrics.registry],
});

const pipelines = new Map<string, SymbolPipeline>();
const lastSeen = new Map<string, number>();
let lock: Promise<unknown> = Promise.resolve();
/** Serialize batch handling and idle flushes (they share per-symbol state). */
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = lock.then(fn);
  lock = run.catch(() => {});
  return run;
}

async function pipelineFor(symbol: string): Promise<SymbolPipeline> {
  const cached = pipelines.get(symbol);
  if (cached) return cached;
  const doc = await withDbRetry(() => stateCol.findOne({ _id: symbol }), { log });
  let p: SymbolPipeline | undefined;
  if (doc) {
    p = SymbolPipeline.restore(JSON.parse(doc.snapshot) as PipelineSnapshot);
    if (!p) log.warn({ symbol }, 'stored state is for another feature schema; starting fresh');
  }
  p ??= SymbolPipeline.create(symbol, { reorderWindow: config.TRANSFORM_REORDER_WINDOW });
  pipelines.set(symbol, p);
  return p;
}

async function saveState(symbols: Iterable<string>): Promise<void> {
  const now = new Date().toISOString();
  const ops = [...symbols].map((s) => ({
    updateOne: {
      filter: { _id: s },
      update: { $set: { snapshot: JSON.stringify(pipelines.get(s)!.snapshot()), updatedAt: now } },
      upsert: true,
    },
  }));
  if (ops.length) await withDbRetry(() => stateCol.bulkWrite(ops, { ordered: false }), { log });
}

function outputs(out: PipelineOutput, traceId: string | undefined): { clean: OutMessage[]; features: OutMessage[] } {
  const headers = traceId ? { [TRACE_HEADER]: traceId } : undefined;
  const withHeaders = (m: { key: string; value: string }): OutMessage => (headers ? { ...m, headers } : m);
  const clean = out.clean.map((b) => {
    const { flags, source, ...rest } = b;
    const data = { ...(rest as Omit<RawPriceBar, never>), adjFactor: b.adjFactor, zeroVolume: flags.zeroVolume, outlier: flags.outlier };
    return withHeaders(
      encode('cleanPrices', makeEnvelope('cleanPrices', { data: data as never, source, idParts: [b.symbol, b.interval, b.ts], eventTime: b.ts, ...(traceId ? { traceId } : {}) })),
    );
  });
  const features = out.features.map(({ bar, vector }) =>
    withHeaders(
      encode(
        'features',
        makeEnvelope('features', {
          data: {
            symbol: bar.symbol,
            interval: bar.interval as RawPriceBar['interval'],
            ts: bar.ts,
            close: bar.close,
            schemaVersion: FEATURE_SCHEMA.version,
            schemaHash: FEATURE_SCHEMA.hash,
            names: [...FEATURE_SCHEMA.names],
            values: vector,
          },
          source: 'transformer',
          idParts: [bar.symbol, bar.interval, bar.ts, FEATURE_SCHEMA.hash],
          eventTime: bar.ts,
          ...(traceId ? { traceId } : {}),
        }),
      ),
    ),
  );
  return { clean, features };
}

async function handlePrices(batch: Consumed<'rawPrices'>[], ctx: Parameters<Parameters<typeof runConsumer>[0]['handle']>[1]): Promise<void> {
  const clean: OutMessage[] = [];
  const features: OutMessage[] = [];
  const touched = new Set<string>();
  for (const m of batch) {
    const d = m.envelope.data;
    const p = await pipelineFor(d.symbol);
    const partitionKey = `${m.topic}:${m.partition}`;
    if (p.seen(partitionKey, m.offset)) {
      duplicates.inc({ reason: 'redelivered' });
      continue;
    }
    const bar = {
      symbol: d.symbol,
      ts: new Date(d.ts).toISOString(),
      interval: d.interval,
      open: d.open,
      high: d.high,
      low: d.low,
      close: d.close,
      volume: d.volume,
      source: m.envelope.source,
      ...(d.adjClose !== undefined ? { adjClose: d.adjClose } : {}),
    };
    const out = p.push(bar, { partitionKey, offset: m.offset });
    touched.add(d.symbol);
    lastSeen.set(d.symbol, Date.now());
    for (const r of out.rejected) {
      if (r.code === 'E_DUPLICATE') duplicates.inc({ reason: 'duplicate' });
      else ctx.deadLetter(m, r.code, r.reason);
    }
    const o = outputs(out, m.traceId);
    clean.push(...o.clean);
    features.push(...o.features);
    if (m.traceId) log.debug({ traceId: m.traceId, symbol: d.symbol, ts: bar.ts, clean: o.clean.length, features: o.features.length }, 'transformed');
  }
  await Promise.all([producer.send(topics.cleanPrices, clean), producer.send(topics.features, features)]);
  await saveState(touched);
}

const consumer = await runConsumer({
  kafka,
  groupId: `${config.KAFKA_TOPIC_PREFIX}transformer`,
  topics,
  subscribe: ['rawPrices', 'rawNews', 'rawFinancials'] as const,
  stage: 'transform',
  dlqTopic: topics.dlqTransform,
  producer,
  log,
  metrics,
  onFatal: svc.fatal,
  handle: (batch, ctx) =>
    exclusive(async () => {
      const key = batch[0]!.topicKey;
      if (key === 'rawPrices') {
        return handlePrices(batch as Consumed<'rawPrices'>[], ctx).catch((err: unknown) => {
          // In-memory state may have run ahead of what is durable: reload it on the retry.
          pipelines.clear();
          throw err;
        });
      }
      if (key === 'rawNews') {
        // One clean copy per ticker the article mentions, keyed by that ticker.
        const out = (batch as Consumed<'rawNews'>[]).flatMap((m) =>
          m.envelope.data.tickers.map((symbol) =>
            encode('cleanNews', makeEnvelope('cleanNews', { data: { ...m.envelope.data, symbol }, source: m.envelope.source, idParts: [m.envelope.data.id, symbol], eventTime: m.envelope.data.publishedAt })),
          ),
        );
        return producer.send(topics.cleanNews, out);
      }
      const out = (batch as Consumed<'rawFinancials'>[]).map((m) =>
        encode('cleanFinancials', makeEnvelope('cleanFinancials', { data: m.envelope.data, source: m.envelope.source, eventId: m.envelope.eventId, eventTime: m.envelope.eventTime })),
      );
      return producer.send(topics.cleanFinancials, out);
    }),
});
shutdown.add('consumer', () => consumer.disconnect());
// A rebalance may move symbols to another instance: forget cached state so it is reloaded.
consumer.on(consumer.events.GROUP_JOIN, () => {
  void exclusive(async () => {
    pipelines.clear();
  });
});

// Idle flush: release bars held for reordering once a symbol has been quiet for a while.
const idle = setInterval(() => {
  void exclusive(async () => {
    const now = Date.now();
    const touched: string[] = [];
    const clean: OutMessage[] = [];
    const features: OutMessage[] = [];
    for (const [symbol, p] of pipelines) {
      if (p.pending === 0 || now - (lastSeen.get(symbol) ?? 0) < config.TRANSFORM_IDLE_FLUSH_MS) continue;
      const o = outputs(p.flush(), undefined);
      clean.push(...o.clean);
      features.push(...o.features);
      touched.push(symbol);
    }
    if (touched.length === 0) return;
    await Promise.all([producer.send(topics.cleanPrices, clean), producer.send(topics.features, features)]);
    await saveState(touched);
  }).catch((err) => log.error({ err }, 'idle flush failed'));
}, Math.max(250, Math.floor(config.TRANSFORM_IDLE_FLUSH_MS / 2)));
shutdown.add('idle-flush', () => clearInterval(idle));
svc.setReady('consumer', true);
log.info({ schema: FEATURE_SCHEMA.hash.slice(0, 12), features: FEATURE_SCHEMA.names.length }, 'transformer running');
