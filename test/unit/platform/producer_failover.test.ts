/**
 * The kafkajs producer's retry after a broker fails mid-send (patches/kafkajs+2.2.4.patch).
 *
 * kafkajs 2.2.4 remembers a send's responses per broker; on a retry it skips every broker that
 * already answered. When the failed broker's partitions move to one of those brokers, their
 * messages are never sent and `send()` resolves (tulios/kafkajs#1303). The cluster failover chaos
 * test lost 65 feature vectors this way. These tests drive kafkajs's own `sendMessages` with a
 * fake cluster of three brokers (fakes of kafkajs's internal interfaces, not of Kafka):
 * partition 0's leader fails and partition 0 moves to the broker that already acknowledged
 * partition 1.
 */
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { suite } from '../../harness/index.ts';

const require = createRequire(import.meta.url);
type Message = { key: string; value: string; partition: number };
type TopicData = Array<{ topic: string; partitions: Array<{ partition: number; messages: Message[] }> }>;
type SendMessages = (deps: Record<string, unknown>) => (req: { acks: number; timeout?: number; compression?: number; topicMessages: Array<{ topic: string; messages: Message[] }> }) => Promise<Array<{ topicName: string; partition: number }>>;
const createSendMessages = require('kafkajs/src/producer/sendMessages.js') as SendMessages;
const createRetry = require('kafkajs/src/retry/index.js') as (opts: Record<string, number>) => unknown;

const t = suite('kafkajs producer: a retry after a broker failure sends every unacknowledged partition');

interface Produced {
  broker: number;
  topic: string;
  partition: number;
  keys: string[];
}

/** Three brokers; partition p led by broker p + 1 until `failing` fails once, then its partitions move to `movesTo`. */
function fakeCluster(failing: number, movesTo: number, failure: 'connection' | 'in-flight') {
  const leaders = new Map([
    [0, 1],
    [1, 2],
    [2, 3],
  ]);
  const produced: Produced[] = [];
  let failed = false;
  let slowAnswered = false;
  const broker = (nodeId: number) => ({
    nodeId,
    produce: async ({ topicData }: { topicData: TopicData }) => {
      if (nodeId === failing && !failed) {
        failed = true;
        for (const [p, l] of leaders) if (l === failing) leaders.set(p, movesTo);
        throw Object.assign(new Error(`connect ECONNREFUSED broker ${nodeId}`), { name: 'KafkaJSConnectionError', retriable: true });
      }
      // 'in-flight': the other brokers answer after the failure (a retry must not send their partitions again).
      if (failure === 'in-flight' && nodeId !== failing && !slowAnswered) {
        slowAnswered = true;
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const { topic, partitions } of topicData) for (const p of partitions) produced.push({ broker: nodeId, topic, partition: Number(p.partition), keys: p.messages.map((m) => m.key) });
      return { topics: topicData.map(({ topic, partitions }) => ({ topicName: topic, partitions: partitions.map((p) => ({ partition: Number(p.partition), errorCode: 0, baseOffset: '0' })) })) };
    },
  });
  const brokers = new Map([1, 2, 3].map((id) => [id, broker(id)]));
  const cluster = {
    targetTopics: new Set<string>(),
    addMultipleTargetTopics: async (topics: string[]) => topics.forEach((x) => cluster.targetTopics.add(x)),
    refreshMetadataIfNecessary: async () => {},
    refreshMetadata: async () => {},
    isConnected: () => true,
    removeBroker: () => {},
    findTopicPartitionMetadata: () => [...leaders].map(([partitionId, leader]) => ({ partitionId, leader })),
    findLeaderForPartitions: (_topic: string, partitions: Array<string | number>) => {
      const out: Record<string, number[]> = {};
      for (const p of partitions) (out[leaders.get(Number(p))!] ??= []).push(Number(p));
      return out;
    },
    findBroker: async ({ nodeId }: { nodeId: string | number }) => brokers.get(Number(nodeId)),
  };
  return { cluster, produced };
}

const eosManager = {
  isTransactional: () => false,
  acquireBrokerLock: async () => {},
  releaseBrokerLock: async () => {},
  getSequence: () => 0,
  updateSequence: () => {},
  getProducerId: () => -1,
  getProducerEpoch: () => 0,
  getTransactionalId: () => undefined,
};
const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const messages = (topic: string): Message[] => [0, 1, 2].flatMap((partition) => [0, 1].map((i) => ({ key: `${topic}-p${partition}-m${i}`, value: 'v', partition })));

async function send(failure: 'connection' | 'in-flight') {
  const { cluster, produced } = fakeCluster(1, 2, failure);
  const sendMessages = createSendMessages({
    logger,
    cluster,
    partitioner: ({ message }: { message: Message }) => message.partition,
    eosManager,
    retrier: createRetry({ retries: 3, initialRetryTime: 5, maxRetryTime: 20 }),
  });
  const topicMessages = [
    { topic: 'clean', messages: messages('clean') },
    { topic: 'features', messages: messages('features') },
  ];
  const responses = await sendMessages({ acks: -1, topicMessages });
  return { produced, responses, sent: topicMessages.flatMap((x) => x.messages.map((m) => m.key)) };
}

t('the failed leader\'s partitions, moved to a broker that already answered, are sent to it on the retry', async () => {
  const { produced, responses, sent } = await send('connection');
  const keys = produced.flatMap((p) => p.keys);
  assert.equal([...keys].sort(), [...sent].sort(), 'every message produced exactly once');
  const moved = produced.filter((p) => p.partition === 0);
  assert.equal(moved.map((p) => [p.broker, p.topic]), [[2, 'clean'], [2, 'features']], 'partition 0 went to its new leader, broker 2');
  assert.is(responses.length, 6, 'one response per topic partition');
  assert.equal(new Set(responses.map((r) => `${r.topicName}:${r.partition}`)).size, 6);
});

t('requests still in flight when another broker fails settle before the retry: nothing is sent twice', async () => {
  const { produced, sent } = await send('in-flight');
  // A request of the first attempt that was still in flight lands now at the latest.
  await new Promise((r) => setTimeout(r, 100));
  const keys = produced.flatMap((p) => p.keys);
  assert.is(keys.length, sent.length, 'no message produced twice');
  assert.equal([...keys].sort(), [...sent].sort());
});

t.run();
