/**
 * The Kafka side of extraction: publishes raw events (key = symbol, deterministic event id,
 * `trace-id` header) with acks=all and reports where they landed; reads a raw topic back from a
 * saved position to find events that were acknowledged but never covered by a cursor. Used by the
 * extractor service and `npm run etl` through `createExtractor` (@stock-mlops/extract/extractor),
 * whose task and item types fit the shapes below.
 */
import { randomBytes } from 'node:crypto';
import { Partitioners, type Kafka } from 'kafkajs';
import type { Counter } from 'prom-client';
import type { Logger } from 'pino';
import { encode, makeEnvelope, newTraceId, TRACE_HEADER, type Topics } from '@stock-mlops/contracts';
import { AppError } from '../errors.ts';

type Producer = ReturnType<Kafka['producer']>;

export type RawTopicKey = 'rawPrices' | 'rawFinancials' | 'rawNews';

/** A place in a topic partition's log: the offset of the next record. */
export interface LogPosition {
  partition: number;
  offset: string;
}

/** Who publishes: the provider's name is the envelope source, the symbol the key. */
export interface RawTask {
  provider: { readonly name: string };
  symbol: string;
}

/** One item to publish: `idParts` make the event id deterministic. */
export interface RawItem {
  idParts: Array<string | number>;
  eventTime: string;
  data: unknown;
}

export interface PublishResult {
  published: number;
  /** Items found already on the topic (by event id) and not sent again. */
  skipped: number;
  /** Log positions right after what was written; empty when nothing was written. */
  positions: LogPosition[];
  /** No event found by recovery is still waiting to be skipped: the saved position may move forward. */
  settled: boolean;
}

export interface RecoveryEntry {
  task: RawTask;
  topic: RawTopicKey;
  positions: LogPosition[];
}

export interface KafkaRawSink {
  /** The current end of every partition of `topic`: where the next publish can land. */
  head(topic: RawTopicKey): Promise<LogPosition[]>;
  /** Publish items (keyed, with event ids); resolves once the broker acknowledged them. */
  publish(task: RawTask, topic: RawTopicKey, items: RawItem[]): Promise<PublishResult>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /**
   * Read each entry's topic from its saved positions to the current end and remember the event
   * ids its provider published there; `publish` skips them. Returns the count found per entry.
   */
  recover(entries: RecoveryEntry[]): Promise<number[]>;
}

/** The counters the sink reports to (the extractor's metrics). */
export interface RawSinkMetrics {
  events: Pick<Counter<'provider' | 'topic' | 'outcome'>, 'inc'>;
  recoveries: Pick<Counter<'provider'>, 'inc'>;
}

export interface KafkaRawSinkOptions {
  kafka: Kafka;
  topics: Topics;
  log: Logger;
  metrics?: RawSinkMetrics;
  /** Split a publish into produce requests of at most this many bytes (the broker caps a batch at ~1 MB). */
  maxRequestBytes?: number;
  scanTimeoutMs?: number;
  /** Consumer group prefix for the short-lived recovery readers. */
  groupPrefix?: string;
  /** News ids remembered across symbols (an article tagged AAPL and MSFT is published once). */
  recentNewsIds?: number;
}

const taskKey = (t: RawTask) => `${t.provider.name}|${t.symbol}`;

interface Found {
  partition: number;
  offset: bigint;
  key: string;
  source: string;
  eventId: string;
  /** Epoch ms; Infinity when unreadable (kept until the task's publishes settle). */
  eventTime: number;
}

export function createKafkaRawSink(opts: KafkaRawSinkOptions): KafkaRawSink {
  const { kafka, topics, log } = opts;
  const maxBytes = opts.maxRequestBytes ?? 512 * 1024;
  const scanTimeoutMs = opts.scanTimeoutMs ?? 30_000;
  // Our own retries: kafkajs retrying a request whose ack was lost would write it twice, unseen.
  // A failed publish instead fails the task, which is recovered (read back) before it runs again.
  const producer: Producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    retry: { retries: 0 },
  });
  /** Per task: event ids already on the topic beyond its cursor (filled by `recover`). */
  const onTopic = new Map<string, Map<string, number>>();
  const recentNews = new Map<string, true>();
  const recentCap = opts.recentNewsIds ?? 20_000;

  function rememberNews(id: string): void {
    recentNews.set(id, true);
    if (recentNews.size > recentCap) recentNews.delete(recentNews.keys().next().value!);
  }

  /** Partition end offsets; retried briefly on retriable broker errors (a topic just created may have no leader yet). */
  async function endOffsets(topic: string): Promise<Array<{ partition: number; high: string; low: string }>> {
    for (let attempt = 1; ; attempt++) {
      const admin = kafka.admin();
      try {
        await admin.connect();
        return await admin.fetchTopicOffsets(topic);
      } catch (err) {
        if (!(err as { retriable?: boolean }).retriable || attempt >= 6) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    }
  }

  async function head(topic: RawTopicKey): Promise<LogPosition[]> {
    const offsets = await endOffsets(topics[topic]);
    return offsets.map((o) => ({ partition: o.partition, offset: o.high })).sort((a, b) => a.partition - b.partition);
  }

  async function publish(task: RawTask, topic: RawTopicKey, items: RawItem[]): Promise<PublishResult> {
    const source = task.provider.name;
    const key = taskKey(task);
    const skip = onTopic.get(key);
    const messages: Array<{ key: string; value: string; headers: Record<string, string> }> = [];
    const ids: string[] = [];
    let skipped = 0;
    for (const it of items) {
      const traceId = newTraceId();
      const env = makeEnvelope(topic, { data: it.data as never, source, idParts: it.idParts, eventTime: it.eventTime, traceId });
      if (skip?.delete(env.eventId) || (topic === 'rawNews' && recentNews.has(`${source}|${env.eventId}`))) {
        skipped++;
        continue;
      }
      messages.push({ ...encode(topic, env as never), headers: { [TRACE_HEADER]: traceId } });
      ids.push(env.eventId);
      log.trace({ traceId, topic, eventId: env.eventId, provider: source, symbol: task.symbol }, 'extracted');
    }
    if (skip) {
      // Recovered events older than this page's last item are behind the cursor now: never fetched again.
      const last = Date.parse(items[items.length - 1]?.eventTime ?? '');
      for (const [id, t] of skip) if (t < last) skip.delete(id);
      if (skip.size === 0) onTopic.delete(key);
    }
    const positions = new Map<number, LogPosition>();
    for (const chunk of chunks(messages, maxBytes)) {
      const meta = await producer.sendBatch({ acks: -1, topicMessages: [{ topic: topics[topic], messages: chunk }] });
      if (meta.length !== 1 || meta[0]!.baseOffset === undefined) {
        // One key per task means one partition; anything else would make the position ambiguous.
        throw new AppError('E_PUBLISH', `publish for ${source} [${task.symbol}] landed in ${meta.length} partitions`);
      }
      const m = meta[0]!;
      positions.set(m.partition, { partition: m.partition, offset: (BigInt(m.baseOffset!) + BigInt(chunk.length)).toString() });
    }
    if (topic === 'rawNews') for (const id of ids) rememberNews(`${source}|${id}`);
    opts.metrics?.events.inc({ provider: source, topic, outcome: 'published' }, messages.length);
    if (skipped) opts.metrics?.events.inc({ provider: source, topic, outcome: 'skipped' }, skipped);
    return { published: messages.length, skipped, positions: [...positions.values()], settled: !onTopic.has(key) };
  }

  /** Every record of `topic` in [from, current end) of the given partitions: (partition, offset, source, eventId). */
  async function scan(topic: string, from: Map<number, bigint>): Promise<Found[]> {
    const bounds = new Map<number, { low: bigint; high: bigint }>();
    for (const o of await endOffsets(topic)) bounds.set(o.partition, { low: BigInt(o.low), high: BigInt(o.high) });
    const targets = new Map<number, { from: bigint; end: bigint; inRange: boolean }>();
    for (const [p, start] of from) {
      const b = bounds.get(p);
      // Records before the log start were deleted by retention: read what is left.
      const first = b && start < b.low ? b.low : start;
      if (b && b.high > first) targets.set(p, { from: first, end: b.high, inRange: false });
    }
    const found: Found[] = [];
    if (targets.size === 0) return found;
    const consumer = kafka.consumer({
      groupId: `${opts.groupPrefix ?? ''}extractor-recovery-${randomBytes(6).toString('hex')}`,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 200,
    });
    const pending = new Set(targets.keys());
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: false });
      const done = new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new AppError('E_RECOVERY', `reading ${topic} back took longer than ${scanTimeoutMs} ms (partitions left: ${[...pending].join(',')})`)),
          scanTimeoutMs,
        );
        void consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const t = targets.get(batch.partition);
            if (!t || !pending.has(batch.partition)) return;
            for (const m of batch.messages) {
              const off = BigInt(m.offset);
              if (off < t.from || off >= t.end) continue;
              t.inRange = true;
              try {
                const v = JSON.parse(m.value?.toString() ?? '') as { source?: unknown; eventId?: unknown; eventTime?: unknown };
                if (typeof v.source === 'string' && typeof v.eventId === 'string') {
                  const eventTime = typeof v.eventTime === 'string' ? Date.parse(v.eventTime) : NaN;
                  found.push({ partition: batch.partition, offset: off, key: m.key?.toString() ?? '', source: v.source, eventId: v.eventId, eventTime: Number.isNaN(eventTime) ? Infinity : eventTime });
                }
              } catch {
                // Not ours (external producers may write anything); the transformer dead-letters it.
              }
            }
            // Done once reading started inside the range and reached its end (a batch fetched from
            // the group's initial position before the seek took effect does not count).
            const last = batch.messages.length ? BigInt(batch.messages[batch.messages.length - 1]!.offset) : -1n;
            if (t.inRange && last >= t.end - 1n) {
              pending.delete(batch.partition);
              if (pending.size === 0) resolve();
            }
          },
        }).catch(reject);
      });
      for (const [partition, t] of targets) consumer.seek({ topic, partition, offset: t.from.toString() });
      await done;
    } finally {
      if (timer) clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
    }
    return found;
  }

  async function recover(entries: RecoveryEntry[]): Promise<number[]> {
    const counts = entries.map(() => 0);
    const byTopic = new Map<RawTopicKey, number[]>();
    entries.forEach((e, i) => {
      if (e.positions.length) byTopic.set(e.topic, [...(byTopic.get(e.topic) ?? []), i]);
    });
    for (const [topic, idx] of byTopic) {
      const from = new Map<number, bigint>();
      for (const i of idx) {
        for (const p of entries[i]!.positions) {
          const o = BigInt(p.offset);
          const cur = from.get(p.partition);
          if (cur === undefined || o < cur) from.set(p.partition, o);
        }
      }
      const started = Date.now();
      const records = await scan(topics[topic], from);
      for (const i of idx) {
        const e = entries[i]!;
        const start = new Map(e.positions.map((p) => [p.partition, BigInt(p.offset)]));
        // This task's: its provider's, keyed by its symbol (news is not keyed by symbol), after its position.
        const mine = records.filter(
          (r) =>
            r.source === e.task.provider.name &&
            (topic === 'rawNews' || r.key === e.task.symbol) &&
            start.has(r.partition) &&
            r.offset >= start.get(r.partition)!,
        );
        if (mine.length === 0) continue;
        const key = taskKey(e.task);
        const known = onTopic.get(key) ?? new Map<string, number>();
        for (const r of mine) known.set(r.eventId, r.eventTime);
        onTopic.set(key, known);
        counts[i] = mine.length;
        opts.metrics?.recoveries.inc({ provider: e.task.provider.name }, mine.length);
      }
      log.info({ topic, partitions: from.size, records: records.length, ms: Date.now() - started }, 'raw topic read back for recovery');
    }
    return counts;
  }

  return {
    connect: () => producer.connect(),
    disconnect: () => producer.disconnect(),
    head,
    publish,
    recover,
  };
}

function* chunks<T extends { key: string; value: string }>(messages: T[], maxBytes: number): Generator<T[]> {
  let cur: T[] = [];
  let bytes = 0;
  for (const m of messages) {
    const n = Buffer.byteLength(m.value) + Buffer.byteLength(m.key) + 96;
    if (bytes + n > maxBytes && cur.length) {
      yield cur;
      cur = [];
      bytes = 0;
    }
    cur.push(m);
    bytes += n;
  }
  if (cur.length) yield cur;
}
