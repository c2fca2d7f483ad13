/**
 * Heartbeats while a batch handler runs (packages/platform/src/kafka/heartbeat.ts, runConsumer's
 * heartbeatWhileHandling) and serialized(). kafkajs is replaced by a fake consumer: its `run`
 * keeps the eachBatch callback, and the test hands it one batch with a heartbeat that records
 * each call in order with the commit and the handler's start and end.
 */
import * as assert from 'uvu/assert';
import pino from 'pino';
import type { Consumer, ConsumerRunConfig, EachBatchPayload, Kafka } from 'kafkajs';
import { encode, makeEnvelope, resolveTopics } from '@stock-mlops/contracts';
import { consumerOptions, heartbeatWhile, HEARTBEAT_EVERY_MS, runConsumer, serialized, type BatchingProducer } from '@stock-mlops/platform';
import { suite } from '../../harness/index.ts';

const t = suite('platform: heartbeats while a handler runs; serialized()');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * Resolves once `cond()` holds. The work below lasts until the beats it expects have happened
 * (not a fixed time, which a loaded machine stretches: CI once saw 2 beats of 20 ms in 130 ms);
 * if they never come, the test's timeout fails it.
 */
const until = async (cond: () => boolean) => {
  while (!cond()) await sleep(5);
};

t('heartbeatWhile: beats while the work runs, stops once it returns', async () => {
  let beats = 0;
  const result = await heartbeatWhile(async () => void beats++, async () => {
    await until(() => beats >= 4);
    return 'done';
  }, 20);
  assert.is(result, 'done');
  // It returned, so it saw 4 beats while it ran.
  const after = beats;
  await sleep(80);
  assert.is(beats, after, 'no beat after the work returned');
});

t('heartbeatWhile: stops once the work throws, and the error reaches the caller', async () => {
  let beats = 0;
  const err = await heartbeatWhile(async () => void beats++, async () => {
    await until(() => beats >= 2);
    throw new Error('handler failed');
  }, 20).catch((e: unknown) => e);
  assert.instance(err, Error);
  assert.is((err as Error).message, 'handler failed');
  // It threw, so it saw 2 beats while it ran.
  const after = beats;
  await sleep(80);
  assert.is(beats, after, 'no beat after the work threw');
});

t('heartbeatWhile: a failing heartbeat (REBALANCE_IN_PROGRESS) neither stops the work nor escapes as an unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    let beats = 0;
    const result = await heartbeatWhile(async () => {
      beats++;
      throw Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
    }, async () => {
      await until(() => beats >= 3);
      return 42;
    }, 20);
    await sleep(10);
    assert.is(result, 42);
    // It returned, so the heartbeat was tried 3 times although each attempt failed.
    assert.equal(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

/** A fake kafkajs consumer: records heartbeats, commits and the handler's start and end in order; `batch()` runs one batch through eachBatch. */
function fakeKafka() {
  const events: Array<{ what: 'heartbeat' | 'commit' | 'handler-start' | 'handler-end' }> = [];
  let config: ConsumerRunConfig | undefined;
  const mark = (what: (typeof events)[number]['what']) => events.push({ what });
  const consumer = {
    events: { CRASH: 'crash', GROUP_JOIN: 'join' },
    on: () => () => {},
    connect: async () => {},
    subscribe: async () => {},
    run: async (c: ConsumerRunConfig) => void (config = c),
    disconnect: async () => {},
    commitOffsets: async () => void mark('commit'),
  } as unknown as Consumer;
  const kafka = { consumer: () => consumer, admin: () => ({}) } as unknown as Kafka;
  const value = Buffer.from(
    encode('modelEvents', makeEnvelope('modelEvents', { data: { kind: 'promoted', model: { name: 'price', version: 1 }, task: 'price' }, source: 'test' })).value,
  );
  const batch = async (topic: string) => {
    const payload = {
      batch: {
        topic,
        partition: 0,
        messages: [{ offset: '0', key: Buffer.from('price'), value, headers: {}, timestamp: '0', attributes: 0 }],
        lastOffset: () => '0',
        offsetLag: () => '0',
      },
      heartbeat: async () => void mark('heartbeat'),
      resolveOffset: () => {},
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload;
    await config!.eachBatch!(payload);
  };
  return { kafka, events, mark, batch };
}

async function consumerWith(handlerMs: number, opts: { heartbeatWhileHandling?: boolean; fail?: boolean }) {
  const fake = fakeKafka();
  const topics = resolveTopics('unit.');
  const consumer = await runConsumer({
    kafka: fake.kafka,
    groupId: 'g',
    topics,
    subscribe: ['modelEvents'] as const,
    stage: 'predict',
    dlqTopic: topics.dlqPredict,
    producer: {} as BatchingProducer,
    log: pino({ level: 'silent' }),
    stallMs: 0,
    onFatal: () => {},
    ...(opts.heartbeatWhileHandling ? { heartbeatWhileHandling: true } : {}),
    handle: async () => {
      fake.mark('handler-start');
      await sleep(handlerMs);
      fake.mark('handler-end');
      if (opts.fail) throw new Error('handler failed');
    },
  });
  return { fake, consumer, topic: topics.modelEvents };
}

/** Heartbeats recorded between the handler's start and end. */
const during = (events: Array<{ what: string }>) => {
  const start = events.findIndex((e) => e.what === 'handler-start');
  const end = events.findIndex((e) => e.what === 'handler-end');
  return events.slice(start, end).filter((e) => e.what === 'heartbeat').length;
};

t('runConsumer with heartbeatWhileHandling: heartbeats while a long handler runs, none after it returns but kafkajs\'s one after the commit', async () => {
  const { fake, consumer, topic } = await consumerWith(2.4 * HEARTBEAT_EVERY_MS, { heartbeatWhileHandling: true });
  await fake.batch(topic);
  assert.ok(during(fake.events) >= 2, `heartbeats during the handler: ${during(fake.events)}`);
  const end = fake.events.findIndex((e) => e.what === 'handler-end');
  assert.equal(fake.events.slice(end).map((e) => e.what), ['handler-end', 'commit', 'heartbeat'], 'no timer beat between the handler\'s end and the commit');
  const n = fake.events.length;
  await sleep(1.3 * HEARTBEAT_EVERY_MS);
  assert.is(fake.events.length, n, 'nothing after the batch');
  await consumer.disconnect();
});

t('runConsumer with heartbeatWhileHandling: heartbeats stop when the handler throws (no commit)', async () => {
  const { fake, consumer, topic } = await consumerWith(1.4 * HEARTBEAT_EVERY_MS, { heartbeatWhileHandling: true, fail: true });
  const err = await fake.batch(topic).catch((e: unknown) => e);
  assert.is((err as Error).message, 'handler failed');
  assert.ok(during(fake.events) >= 1);
  const n = fake.events.length;
  await sleep(1.3 * HEARTBEAT_EVERY_MS);
  assert.is(fake.events.length, n, 'no heartbeat after the handler threw');
  assert.not.ok(fake.events.some((e) => e.what === 'commit'));
  await consumer.disconnect();
});

t('runConsumer without the option: no heartbeat while the handler runs (a hung handler must not keep its partitions)', async () => {
  const { fake, consumer, topic } = await consumerWith(1.2 * HEARTBEAT_EVERY_MS, {});
  await fake.batch(topic);
  assert.is(during(fake.events), 0);
  assert.equal(fake.events.map((e) => e.what), ['handler-start', 'handler-end', 'commit', 'heartbeat']);
  await consumer.disconnect();
});

t('svc.consume fills the shared options: the group under the topic prefix, the dead-letter topic of the stage', () => {
  const topics = resolveTopics('p.');
  const shared = { kafka: {} as Kafka, topics, producer: {} as BatchingProducer, log: pino({ level: 'silent' }), onFatal: () => {}, prefix: 'p.' };
  const handle = async () => {};
  for (const [stage, dlq] of [['transform', topics.dlqTransform], ['load', topics.dlqLoad], ['predict', topics.dlqPredict], ['train', topics.dlqTrain], ['monitor', topics.dlqMonitor]] as const) {
    const o = consumerOptions(shared, { group: 'loader', subscribe: ['features'] as const, stage, handle, fromBeginning: false });
    assert.is(o.dlqTopic, dlq, stage);
    assert.is(o.groupId, 'p.loader');
    assert.is(o.fromBeginning, false, 'the caller\'s options are kept');
    assert.is(o.handle, handle);
    assert.not.ok('group' in o || 'prefix' in o);
  }
});

t('serialized: one at a time in call order; a failure goes to its caller only', async () => {
  const run = serialized();
  const log: string[] = [];
  const job = (name: string, ms: number, fail = false) =>
    run(async () => {
      log.push(`${name}:start`);
      await sleep(ms);
      log.push(`${name}:end`);
      if (fail) throw new Error(name);
      return name;
    });
  const results = await Promise.allSettled([job('a', 30), job('b', 5, true), job('c', 1)]);
  assert.equal(log, ['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
  assert.equal(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)), ['a', 'b', 'c']);
});

t.run();
