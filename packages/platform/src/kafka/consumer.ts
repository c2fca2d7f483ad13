import type { Admin, Consumer, ConsumerRunConfig, EachBatchPayload, IHeaders, Kafka, KafkaMessage, PartitionAssigner } from 'kafkajs';
import type { Logger } from 'pino';
import {
  decode,
  DLQ_HEADERS,
  TRACE_HEADER,
  type DataTopicKey,
  type EnvelopeOf,
  type Stage,
  type Topics,
} from '@stock-mlops/contracts';
import type { Metrics } from '../metrics.ts';
import type { BatchingProducer, OutMessage } from './producer.ts';
import { createBackoff, rejoinReason, type BackoffOptions } from './rejoin.ts';
import { consumerLag } from './lag.ts';
import { isStalled } from './stall.ts';
import { heartbeatWhile } from './heartbeat.ts';

export interface Consumed<K extends DataTopicKey> {
  topicKey: K;
  topic: string;
  partition: number;
  offset: string;
  key: string;
  envelope: EnvelopeOf<K>;
  traceId: string | undefined;
  raw: KafkaMessage;
}

export interface BatchContext {
  /** Send one consumed record to this stage's dead-letter topic with a reason (before the commit). */
  deadLetter: (msg: { topic: string; partition: number; offset: string; raw: KafkaMessage }, code: string, reason: string) => void;
  heartbeat: () => Promise<void>;
  isStopping: () => boolean;
}

export interface ConsumerOptions<K extends DataTopicKey> {
  kafka: Kafka;
  groupId: string;
  topics: Topics;
  subscribe: readonly K[];
  stage: Stage;
  dlqTopic: string;
  producer: BatchingProducer;
  log: Logger;
  metrics?: Metrics;
  fromBeginning?: boolean;
  partitionsConsumedConcurrently?: number;
  /** Group session timeout (default 30 s; the broker's minimum is 6 s): how long a dead member holds its partitions. */
  sessionTimeoutMs?: number;
  /** Custom partition assignment (default: kafkajs round robin). */
  partitionAssigners?: PartitionAssigner[];
  /** Called once before the consumer connects (e.g. to listen to GROUP_JOIN / REBALANCING from the first join on). */
  beforeRun?: (consumer: Consumer) => void;
  /**
   * Heartbeat the group every second while `handle` runs (heartbeat.ts), for handlers that may wait
   * longer than the session timeout: on a lock, on acks, on a database outage retried with backoff.
   * Off by default: a member that heartbeats keeps its partitions for as long as its handler hangs,
   * and the stall check (stall.ts) leaves a batch in flight alone, so a handler opts in only when
   * each of its waits ends (database requests time out: MONGO_SOCKET_TIMEOUT_MS).
   */
  heartbeatWhileHandling?: boolean;
  /** Handle the valid records of one batch (one topic-partition, in offset order). */
  handle: (messages: Consumed<K>[], ctx: BatchContext) => Promise<void>;
  /**
   * Called when the consumer crashed with an error that neither kafkajs's restart nor a rejoin
   * fixes (see rejoin.ts); group membership, coordinator and connection errors never reach it.
   */
  onFatal: (err: Error) => void;
  /** Delays between rejoins after a crash (default 0.5 s doubling up to 30 s, ±20 %). */
  rejoinBackoff?: BackoffOptions;
  /**
   * Liveness (stall.ts): a member idle this long while its partitions have unprocessed records and
   * none of its batches is in flight rejoins the group (default 120 s; 0 disables). Checked every
   * `stallCheckMs` (default 15 s).
   */
  stallMs?: number;
  stallCheckMs?: number;
  /**
   * How often to refresh the lag gauge of every assigned topic partition from the broker
   * (committed offset vs high watermark), so idle partitions report their lag too; 0 = only
   * after each batch. Default 15 s.
   */
  lagIntervalMs?: number;
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined) return undefined;
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : one.toString();
}

export function dlqMessage(
  stage: Stage,
  src: { topic: string; partition: number; offset: string; raw: KafkaMessage },
  code: string,
  reason: string,
): OutMessage {
  const headers: IHeaders = {
    ...(src.raw.headers ?? {}),
    [DLQ_HEADERS.reason]: reason.slice(0, 2000),
    [DLQ_HEADERS.code]: code,
    [DLQ_HEADERS.stage]: stage,
    [DLQ_HEADERS.sourceTopic]: src.topic,
    [DLQ_HEADERS.sourcePartition]: String(src.partition),
    [DLQ_HEADERS.sourceOffset]: src.offset,
    [DLQ_HEADERS.time]: new Date().toISOString(),
  };
  return { key: src.raw.key?.toString() ?? '', value: src.raw.value ?? Buffer.alloc(0), headers };
}

/**
 * An `eachBatch` consumer with at-least-once semantics: offsets are committed only after the
 * handler's side effects and the batch's dead-letter records are durable. Invalid messages
 * never reach the handler: they go to the stage's dead-letter topic with the reason.
 */
export async function runConsumer<K extends DataTopicKey>(opts: ConsumerOptions<K>): Promise<Consumer> {
  const consumer = opts.kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
    rebalanceTimeout: 30_000,
    heartbeatInterval: Math.min(3_000, Math.floor((opts.sessionTimeoutMs ?? 30_000) / 3)),
    ...(opts.partitionAssigners ? { partitionAssigners: opts.partitionAssigners } : {}),
    allowAutoTopicCreation: false,
    maxBytesPerPartition: 1024 * 1024,
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
  });
  const byName = new Map<string, K>(opts.subscribe.map((k) => [opts.topics[k], k]));
  let stopping = false;
  const backoff = createBackoff(opts.rejoinBackoff);
  let rejoinTimer: NodeJS.Timeout | undefined;
  let rejoining = false;
  const fatal = (err: Error) => {
    opts.log.error({ err, code: 'E_CONSUMER_FATAL', groupId: opts.groupId }, 'consumer crashed');
    opts.onFatal(err);
  };
  /**
   * After a crash kafkajs has left the group and disconnected, so the same consumer (same
   * subscription, same event listeners, same handle for the caller) connects and runs again.
   * Nothing was committed for the batch in flight: it is redelivered (at-least-once).
   */
  const rejoinLater = (err: Error, reason: string) => {
    if (stopping || rejoinTimer) return;
    rejoining = true;
    joined = false;
    const { attempt, delayMs } = backoff.next();
    opts.metrics?.consumerRecoveries.inc({ group: opts.groupId, reason });
    opts.log.warn({ code: 'E_CONSUMER_REJOIN', reason, groupId: opts.groupId, attempt, delayMs, err: err.message }, 'consumer lost its group or connection, rejoining');
    rejoinTimer = setTimeout(() => {
      rejoinTimer = undefined;
      void rejoin();
    }, delayMs);
  };
  const rejoin = async () => {
    try {
      await consumer.connect();
      if (stopping) return;
      await consumer.run(runConfig);
    } catch (err) {
      if (stopping) return;
      const reason = rejoinReason(err);
      if (reason) rejoinLater(err as Error, reason);
      else fatal(err as Error);
    }
  };
  consumer.on(consumer.events.CRASH, (e) => {
    const { error, restart } = e.payload as { error: Error; restart: boolean };
    if (stopping) return;
    if (restart) {
      // kafkajs restarts this one itself (a retriable error whose retries ran out).
      const reason = rejoinReason(error) ?? 'RETRIABLE';
      opts.metrics?.consumerRecoveries.inc({ group: opts.groupId, reason });
      opts.log.warn({ code: 'E_CONSUMER_RESTART', reason, groupId: opts.groupId, err: error.message }, 'consumer crashed, kafkajs restarts it');
      return;
    }
    const reason = rejoinReason(error);
    if (reason) rejoinLater(error, reason);
    else fatal(error);
  });
  // Liveness: when this member last started or finished a batch (or joined), and what it owns.
  let lastActivity = Date.now();
  let inFlight = 0;
  let assignment: Record<string, number[]> = {};
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    assignment = (e.payload as { memberAssignment?: Record<string, number[]> }).memberAssignment ?? {};
    joined = true;
    lastActivity = Date.now();
    if (!rejoining) return;
    rejoining = false;
    opts.log.info({ groupId: opts.groupId }, 'consumer rejoined its group');
  });
  const stallMs = opts.stallMs ?? 120_000;
  let stallAdmin: Admin | undefined;
  let checking = false;
  const checkStall = async () => {
    if (stopping || rejoining || checking || !isStalled({ idleMs: Date.now() - lastActivity, inFlight, lag: 1, joined, stallMs })) return;
    checking = true;
    try {
      if (!stallAdmin) {
        stallAdmin = opts.kafka.admin();
        await stallAdmin.connect();
      }
      const lag = joined ? await consumerLag(stallAdmin, opts.groupId, assignment) : 0;
      const idleMs = Date.now() - lastActivity;
      if (stopping || rejoining || !isStalled({ idleMs, inFlight, lag, joined, stallMs })) return;
      const wasJoined = joined;
      rejoining = true;
      joined = false;
      opts.metrics?.consumerRecoveries.inc({ group: opts.groupId, reason: 'STALLED' });
      opts.log.warn(
        { code: 'E_CONSUMER_STALLED', groupId: opts.groupId, lag, idleMs, assignment, joined: wasJoined },
        wasJoined ? 'consumer idle with unprocessed records on its partitions; rejoining' : 'consumer never completed its group join; rejoining',
      );
      await kafkaDisconnect().catch(() => {});
      lastActivity = Date.now();
      if (!stopping) await rejoin();
    } catch (err) {
      opts.log.debug({ err: (err as Error).message }, 'stall check failed');
    } finally {
      checking = false;
    }
  };
  const stallTimer = stallMs > 0 ? setInterval(() => void checkStall(), opts.stallCheckMs ?? 15_000) : undefined;
  stallTimer?.unref();
  const lag = opts.metrics && (opts.lagIntervalMs ?? 15_000) > 0 ? lagRefresher(opts, [...byName.keys()]) : undefined;
  const kafkaDisconnect = consumer.disconnect.bind(consumer);
  consumer.disconnect = async () => {
    stopping = true;
    clearTimeout(rejoinTimer);
    rejoinTimer = undefined;
    if (stallTimer) clearInterval(stallTimer);
    await lag?.stop();
    await stallAdmin?.disconnect().catch(() => {});
    await kafkaDisconnect();
  };
  opts.beforeRun?.(consumer);
  await consumer.connect();
  await consumer.subscribe({ topics: [...byName.keys()], fromBeginning: opts.fromBeginning ?? true });
  const runConfig: ConsumerRunConfig = {
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 1,
    eachBatch: async (payload) => {
      inFlight++;
      lastActivity = Date.now();
      try {
        await handleBatch(payload);
      } finally {
        inFlight--;
        lastActivity = Date.now();
      }
    },
  };
  async function handleBatch({ batch, heartbeat, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
      if (batch.messages.length === 0 || !isRunning() || isStale()) return;
      const started = process.hrtime.bigint();
      const topicKey = byName.get(batch.topic);
      if (topicKey === undefined) return;
      const dead: OutMessage[] = [];
      const deadLetter: BatchContext['deadLetter'] = (src, code, reason) => {
        dead.push(dlqMessage(opts.stage, src, code, reason));
        opts.metrics?.deadLettered.inc({ stage: opts.stage, code });
        opts.log.warn(
          { topic: src.topic, partition: src.partition, offset: src.offset, code, reason, traceId: header(src.raw.headers, TRACE_HEADER) },
          'dead-lettered',
        );
      };
      const valid: Consumed<K>[] = [];
      for (const raw of batch.messages) {
        const src = { topic: batch.topic, partition: batch.partition, offset: raw.offset, raw };
        const r = decode(topicKey, raw.value);
        if (!r.ok) {
          deadLetter(src, r.code, r.reason);
          continue;
        }
        valid.push({
          topicKey,
          topic: batch.topic,
          partition: batch.partition,
          offset: raw.offset,
          key: raw.key?.toString() ?? '',
          envelope: r.envelope,
          traceId: header(raw.headers, TRACE_HEADER) ?? r.envelope.traceId,
          raw,
        });
      }
      if (valid.length > 0) {
        try {
          const ctx: BatchContext = { deadLetter, heartbeat, isStopping: () => stopping || !isRunning() };
          await (opts.heartbeatWhileHandling ? heartbeatWhile(heartbeat, () => opts.handle(valid, ctx)) : opts.handle(valid, ctx));
        } catch (err) {
          // The batch is not committed and will be redelivered; count the attempt as failed.
          opts.metrics?.processed.inc({ topic: batch.topic, outcome: 'failed' }, valid.length);
          throw err;
        }
      }
      if (dead.length > 0) await opts.producer.send(opts.dlqTopic, dead);
      const last = batch.lastOffset();
      await consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
      ]);
      resolveOffset(last);
      await heartbeat();
      const okCount = valid.length;
      opts.metrics?.processed.inc({ topic: batch.topic, outcome: 'ok' }, okCount);
      if (dead.length) opts.metrics?.processed.inc({ topic: batch.topic, outcome: 'dead_lettered' }, dead.length);
      opts.metrics?.consumerLag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
      opts.metrics?.stageLatency.observe({ topic: batch.topic }, Number(process.hrtime.bigint() - started) / 1e9);
  }
  await consumer.run(runConfig);
  lag?.start();
  return consumer;
}

/**
 * Periodic lag of every partition of the subscribed topics: high watermark minus the group's
 * committed offset (a partition the group never committed counts from its low watermark when
 * the group reads from the beginning, else as 0). Errors are logged at debug level and retried
 * at the next tick; the gauge keeps its last value meanwhile.
 */
function lagRefresher<K extends DataTopicKey>(opts: ConsumerOptions<K>, topics: string[]): { start: () => void; stop: () => Promise<void> } {
  const admin = opts.kafka.admin();
  let timer: NodeJS.Timeout | undefined;
  let connected: Promise<void> | undefined;
  let running: Promise<void> | undefined;
  const refresh = async () => {
    connected ??= admin.connect();
    await connected;
    const committed = await admin.fetchOffsets({ groupId: opts.groupId, topics });
    for (const t of committed) {
      for (const p of await admin.fetchTopicOffsets(t.topic)) {
        const c = Number(t.partitions.find((x) => x.partition === p.partition)?.offset ?? -1);
        const next = c >= 0 ? c : (opts.fromBeginning ?? true) ? Number(p.low) : Number(p.high);
        opts.metrics!.consumerLag.set({ topic: t.topic, partition: String(p.partition) }, Math.max(0, Number(p.high) - next));
      }
    }
  };
  const tick = () => {
    if (running) return;
    running = refresh()
      .catch((err: unknown) => opts.log.debug({ err: (err as Error).message }, 'lag refresh failed'))
      .finally(() => {
        running = undefined;
      });
  };
  return {
    start: () => {
      tick();
      timer = setInterval(tick, opts.lagIntervalMs ?? 15_000);
      timer.unref();
    },
    stop: async () => {
      if (timer) clearInterval(timer);
      await running;
      if (connected) await admin.disconnect().catch(() => {});
    },
  };
}
