import { Kafka, logLevel, type Admin, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import { resolveTopics, TOPIC_DEFS, TOPIC_KEYS, type Topics } from '@stock-mlops/contracts';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs client whose own log lines go through pino. Retries are bounded. */
export function createKafka(opts: { brokers: string; clientId: string; log: Logger; extra?: Partial<KafkaConfig> }): Kafka {
  const log = opts.log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers.split(','),
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 10_000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        log[LEVELS[level] ?? 'info'](rest, message);
      },
    ...opts.extra,
  });
}

/**
 * The durability settings of a topic with this replication factor: with acks=all, a write is
 * acknowledged once min(2, RF) replicas have it, so a cluster of RF 3 keeps accepting writes with
 * one broker down and loses nothing acknowledged when one fails.
 */
export function topicReplication(replicationFactor: number): { replicationFactor: number; minInsyncReplicas: number } {
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) throw new RangeError(`replication factor must be a positive integer (got ${replicationFactor})`);
  return { replicationFactor, minInsyncReplicas: Math.min(2, replicationFactor) };
}

/**
 * Create every topic of the contract that is missing (idempotent), replicated `replicationFactor`
 * times with min.insync.replicas = min(2, RF). `partitions` (KAFKA_TOPIC_PARTITIONS), when above 0,
 * replaces the count of every topic that TOPIC_DEFS gives more than one partition; the
 * single-partition topics (model and monitor events, dead letters) keep one, for their order.
 */
export async function ensureTopics(kafka: Kafka, prefix = '', replicationFactor = 1, partitions = 0): Promise<Topics> {
  const { minInsyncReplicas } = topicReplication(replicationFactor);
  const topics = resolveTopics(prefix);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = TOPIC_KEYS.filter((k) => !existing.has(topics[k]));
    if (missing.length > 0) {
      await admin.createTopics({
        // Waited for below: on a cluster, kafkajs' own wait fails when a broker has not seen the new topic yet.
        waitForLeaders: false,
        topics: missing.map((k) => ({
          topic: topics[k],
          numPartitions: topicPartitions(TOPIC_DEFS[k].partitions, partitions),
          replicationFactor,
          configEntries: [
            { name: 'min.insync.replicas', value: String(minInsyncReplicas) },
            ...(TOPIC_DEFS[k].compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
          ],
        })),
      });
      await waitForLeaders(admin, missing.map((k) => topics[k]));
    }
  } finally {
    await admin.disconnect();
  }
  return topics;
}

/** A topic's partition count under a KAFKA_TOPIC_PARTITIONS override (0 = none). */
export function topicPartitions(defined: number, override: number): number {
  return override > 0 && defined > 1 ? override : defined;
}

/** Polls the metadata until every partition of the topics has a leader (30 s at most; a broker that does not know a topic yet is asked again). */
async function waitForLeaders(admin: Admin, names: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: names });
      if (meta.topics.length === names.length && meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`topics without a leader after ${timeoutMs} ms: ${names.join(', ')}${last ? ` (${(last as Error).message})` : ''}`);
}
