import type { Consumer, Kafka } from 'kafkajs';
import type { z } from 'zod';
import { DLQ_BY_STAGE, type DataTopicKey, type Topics } from '@stock-mlops/contracts';
import { BaseEnv, loadConfig } from './config.ts';
import { startOpsServer, type OpsServerOptions } from './http.ts';
import { createKafka, ensureTopics } from './kafka/client.ts';
import { runConsumer, type ConsumerOptions } from './kafka/consumer.ts';
import { BatchingProducer } from './kafka/producer.ts';
import { resolveInstanceId } from './instance_id.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { connectMongo, type MongoHandle } from './mongo.ts';
import { Shutdown } from './shutdown.ts';

/**
 * What a service says about one of its consumers; the service context fills in the rest (Kafka,
 * topics, producer, logger, metrics, onFatal), prefixes the group with KAFKA_TOPIC_PREFIX and
 * dead-letters to the stage's topic (DLQ_BY_STAGE).
 */
export type ConsumeOptions<K extends DataTopicKey> = Omit<
  ConsumerOptions<K>,
  'kafka' | 'topics' | 'producer' | 'log' | 'metrics' | 'onFatal' | 'groupId' | 'dlqTopic'
> & {
  /** Consumer group name without the topic prefix. */
  group: string;
};

/** The options runConsumer gets from svc.consume: the group under the topic prefix, the stage's dead-letter topic. */
export function consumerOptions<K extends DataTopicKey>(
  shared: Pick<ConsumerOptions<K>, 'kafka' | 'topics' | 'producer' | 'log' | 'metrics' | 'onFatal'> & { prefix: string },
  { group, ...rest }: ConsumeOptions<K>,
): ConsumerOptions<K> {
  const { prefix, ...common } = shared;
  return { ...rest, ...common, groupId: `${prefix}${group}`, dlqTopic: shared.topics[DLQ_BY_STAGE[rest.stage]] };
}

export interface ServiceContext<C> {
  name: string;
  config: C;
  log: Logger;
  metrics: Metrics;
  shutdown: Shutdown;
  kafka: Kafka;
  producer: BatchingProducer;
  topics: Topics;
  mongo: MongoHandle | undefined;
  /** Mark a readiness condition; `/readyz` is ready when every condition is true. */
  setReady: (condition: string, ready: boolean) => void;
  opsPort: number;
  /** This process's stable id (instance_id.ts): names its one-per-replica consumer groups. */
  instanceId: string;
  /** Exit with a non-zero code after a clean shutdown (a supervisor restarts us). */
  fatal: (err: unknown) => void;
  /**
   * Start a consumer (runConsumer) with the service's shared options. Every consumer started this
   * way is disconnected by one shutdown hook, `kafka-consumers`, registered at the first call
   * (hooks run last-in first-out), all of them concurrently: each disconnect waits out a fetch.
   */
  consume: <K extends DataTopicKey>(opts: ConsumeOptions<K>) => Promise<Consumer>;
}

export interface ServiceOptions<S extends z.ZodObject> {
  name: string;
  env: S;
  mongo?: boolean;
  http?: Pick<OpsServerOptions, 'extra'>;
  /** Env variables read before INSTANCE_ID for the instance id (a service's older name for it). */
  instanceIdAliases?: readonly string[];
}

/** Common wiring for a service process: config, logs, metrics, Kafka, optional MongoDB, ops HTTP, shutdown. */
export async function startService<S extends z.ZodObject>(opts: ServiceOptions<S>): Promise<ServiceContext<z.infer<S> & BaseEnv>> {
  const schema = BaseEnv.extend(opts.env.shape);
  const config = loadConfig(schema) as z.infer<S> & BaseEnv;
  const log = createLogger(opts.name, config.LOG_LEVEL);
  const metrics = createMetrics(opts.name);
  const shutdown = new Shutdown(log, config.SHUTDOWN_TIMEOUT_MS);
  const conditions = new Map<string, boolean>();
  const setReady = (c: string, r: boolean) => conditions.set(c, r);
  let exitCode = 0;
  const fatal = (err: unknown) => {
    if (shutdown.isStopping) {
      log.warn({ err }, 'error during shutdown');
      return;
    }
    log.fatal({ err }, 'fatal error; shutting down');
    exitCode = 1;
    void shutdown.run().finally(() => process.exit(exitCode));
  };
  process.on('unhandledRejection', (err) => fatal(err));
  shutdown.installSignalHandlers();
  const instance = resolveInstanceId({ service: opts.name, env: process.env, aliases: opts.instanceIdAliases, dir: config.INSTANCE_STATE_DIR, scope: config.KAFKA_TOPIC_PREFIX });
  log.info({ instanceId: instance.id, from: instance.source }, 'instance id');

  const ops = await startOpsServer({
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    registry: metrics.registry,
    ...(config.OPS_TOKEN ? { token: config.OPS_TOKEN } : {}),
    readiness: () => {
      const detail = Object.fromEntries(conditions);
      return { ready: conditions.size > 0 && [...conditions.values()].every(Boolean), detail: { conditions: detail } };
    },
    ...(opts.http ?? {}),
  });
  shutdown.add('ops-http', ops.close);
  log.info({ port: ops.port }, 'ops http listening (/healthz, /readyz, /metrics)');

  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? opts.name, log });
  const topics = await ensureTopics(kafka, config.KAFKA_TOPIC_PREFIX, config.KAFKA_TOPIC_REPLICATION, config.KAFKA_TOPIC_PARTITIONS);
  const producer = new BatchingProducer(kafka, { log, metrics });
  await producer.connect();
  shutdown.add('producer', () => producer.disconnect());

  let mongo: MongoHandle | undefined;
  if (opts.mongo) {
    mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, log, { socketTimeoutMs: config.MONGO_SOCKET_TIMEOUT_MS });
    shutdown.add('mongo', () => mongo!.close());
  }
  let consumers: Consumer[] | undefined;
  const consume = async <K extends DataTopicKey>(opts: ConsumeOptions<K>): Promise<Consumer> => {
    if (!consumers) {
      const all: Consumer[] = (consumers = []);
      shutdown.add('kafka-consumers', async () => {
        await Promise.all(all.map((c) => c.disconnect()));
      });
    }
    // A service whose env schema has KAFKA_SESSION_TIMEOUT_MS (KafkaSessionTimeoutMs) gives it to all its consumers.
    const sessionTimeoutMs = opts.sessionTimeoutMs ?? (config as { KAFKA_SESSION_TIMEOUT_MS?: number }).KAFKA_SESSION_TIMEOUT_MS;
    const withSession = sessionTimeoutMs === undefined ? opts : { ...opts, sessionTimeoutMs };
    const consumer = await runConsumer(consumerOptions({ kafka, topics, producer, log, metrics, onFatal: fatal, prefix: config.KAFKA_TOPIC_PREFIX }, withSession));
    consumers.push(consumer);
    return consumer;
  };
  return { name: opts.name, config, log, metrics, shutdown, kafka, producer, topics, mongo, setReady, opsPort: ops.port, instanceId: instance.id, fatal, consume };
}
