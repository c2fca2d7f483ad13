/**
 * runConsumer recovers in process: a crash that a rejoin fixes (group membership, coordinator,
 * connection) makes the same consumer connect and run again after a bounded exponential backoff,
 * with a warning that carries a code and a counted recovery; only other crashes reach onFatal.
 * kafkajs is replaced by a fake consumer that records calls and emits crashes on demand.
 */
import { EventEmitter } from 'node:events';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { Writable } from 'node:stream';
import kafkajs, { type Consumer, type Kafka } from 'kafkajs';
import { resolveTopics } from '@stock-mlops/contracts';
import { createBackoff, createMetrics, rejoinReason, runConsumer, type BatchingProducer } from '@stock-mlops/platform';
import { suite } from '../../harness/index.ts';

// kafkajs is CommonJS: its error classes are reachable only through the default export.
const { KafkaJSConnectionError, KafkaJSError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;
type KafkaJSProtocolError = InstanceType<typeof KafkaJSProtocolError>;

const t = suite('platform: consumer rejoins after group and connection errors');

/** A kafkajs protocol error as the broker answer decodes to (the type and retriable flag of kafkajs's table). */
function protocolError(type: string, message: string, retriable = false): KafkaJSProtocolError {
  return new KafkaJSProtocolError({ type, message, retriable } as unknown as Error);
}
/** How kafkajs's retrier wraps an error it will not retry (its constructor sets `cause`; the typings omit it). */
const nonRetriable = (inner: Error): Error => Object.assign(new KafkaJSNonRetriableError(inner), { cause: inner });
/** What runner.commitOffsets throws when the broker answers UNKNOWN_MEMBER_ID. */
const wrappedUnknownMember = () => nonRetriable(protocolError('UNKNOWN_MEMBER_ID', 'The coordinator is not aware of this member'));

t('rejoinReason: membership, coordinator and connection errors (also wrapped) rejoin; bugs and auth do not', () => {
  assert.is(rejoinReason(wrappedUnknownMember()), 'UNKNOWN_MEMBER_ID');
  assert.is(rejoinReason(nonRetriable(wrappedUnknownMember())), 'UNKNOWN_MEMBER_ID');
  for (const type of ['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'NOT_COORDINATOR_FOR_GROUP', 'GROUP_COORDINATOR_NOT_AVAILABLE']) {
    assert.is(rejoinReason(new KafkaJSError(protocolError(type, type))), undefined, 'KafkaJSError copies no type: only the cause chain carries it');
    assert.is(rejoinReason(nonRetriable(protocolError(type, type))), type);
  }
  assert.is(rejoinReason(new KafkaJSConnectionError('Connection error: ECONNREFUSED')), 'KafkaJSConnectionError');
  assert.is(rejoinReason(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 'ECONNRESET');
  const retries = new KafkaJSNumberOfRetriesExceeded(new Error('timeout'), { retryCount: 8, retryTime: 10_000 });
  assert.is(rejoinReason(retries), 'KafkaJSNumberOfRetriesExceeded');
  const bug = new TypeError('x is not a function');
  assert.is(rejoinReason(nonRetriable(bug)), undefined);
  const auth = protocolError('GROUP_AUTHORIZATION_FAILED', 'Not authorized to access group');
  assert.is(rejoinReason(nonRetriable(auth)), undefined);
  assert.is(rejoinReason(new Error('boom')), undefined);
  assert.is(rejoinReason(undefined), undefined);
});

t('backoff: doubles from the first delay, stays under the cap, and starts over after a quiet period', () => {
  let now = 0;
  const b = createBackoff({ initialMs: 100, maxMs: 1_000, resetAfterMs: 10_000, now: () => now, random: () => 0.5 });
  const delays = [1, 2, 3, 4, 5, 6].map(() => {
    now += 1;
    return b.next().delayMs;
  });
  assert.equal(delays, [100, 200, 400, 800, 1000, 1000]);
  now += 20_000;
  assert.equal(b.next(), { attempt: 1, delayMs: 100 });
  const jittered = createBackoff({ initialMs: 100, maxMs: 1_000, random: () => 0 });
  assert.is(jittered.next().delayMs, 80, '−20 % jitter at the low end');
});

interface FakeConsumer {
  consumer: Consumer;
  calls: string[];
  crash: (error: Error, restart: boolean) => void;
  join: () => void;
}

function fakeKafka(): { kafka: Kafka; fake: FakeConsumer } {
  const emitter = new EventEmitter();
  const calls: string[] = [];
  const events = { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' };
  const consumer = {
    events,
    on: (name: string, fn: (e: unknown) => void) => {
      emitter.on(name, fn);
      return () => emitter.off(name, fn);
    },
    connect: async () => void calls.push('connect'),
    subscribe: async () => void calls.push('subscribe'),
    run: async () => void calls.push('run'),
    disconnect: async () => void calls.push('disconnect'),
    commitOffsets: async () => {},
  } as unknown as Consumer;
  const fake: FakeConsumer = {
    consumer,
    calls,
    crash: (error, restart) => void emitter.emit(events.CRASH, { payload: { error, restart, groupId: 'g' } }),
    join: () => void emitter.emit(events.GROUP_JOIN, { payload: {} }),
  };
  return { kafka: { consumer: () => consumer, admin: () => ({}) } as unknown as Kafka, fake };
}

function capture(): { log: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(onFatal: (err: Error) => void) {
  const { kafka, fake } = fakeKafka();
  const { log, lines } = capture();
  const metrics = createMetrics('test');
  const consumer = await runConsumer({
    kafka,
    groupId: 'g',
    topics: resolveTopics('unit.'),
    subscribe: ['features'] as const,
    stage: 'predict',
    dlqTopic: 'dlq',
    producer: {} as BatchingProducer,
    log,
    metrics,
    lagIntervalMs: 0,
    onFatal,
    rejoinBackoff: { initialMs: 20, maxMs: 80, random: () => 0.5 },
    handle: async () => {},
  });
  const recoveries = async () => (await metrics.consumerRecoveries.get()).values.map((v) => [v.labels.reason, v.value]);
  return { consumer, fake, lines, recoveries };
}

t('a coordinator error wrapped as non-retriable: the same consumer rejoins, warns with a code, counts it, never calls onFatal', async () => {
  const fatal: Error[] = [];
  const { consumer, fake, lines, recoveries } = await start((e) => fatal.push(e));
  assert.equal(fake.calls, ['connect', 'subscribe', 'run']);

  fake.crash(wrappedUnknownMember(), false);
  await sleep(60);
  assert.equal(fake.calls, ['connect', 'subscribe', 'run', 'connect', 'run'], 'connect + run again (the subscription is kept)');
  fake.join();
  // The rejoined consumer crashes again during its join: the next delay is longer.
  fake.crash(nonRetriable(protocolError('REBALANCE_IN_PROGRESS', 'rebalancing')), false);
  await sleep(15);
  assert.is(fake.calls.filter((c) => c === 'run').length, 2, 'not yet: the second delay is 40 ms');
  await sleep(60);
  assert.is(fake.calls.filter((c) => c === 'run').length, 3);

  assert.equal(fatal, [], 'onFatal is never called');
  const warns = lines().filter((l) => l.code === 'E_CONSUMER_REJOIN');
  assert.equal(warns.map((w) => [w.level, w.reason, w.attempt, w.delayMs]), [
    [40, 'UNKNOWN_MEMBER_ID', 1, 20],
    [40, 'REBALANCE_IN_PROGRESS', 2, 40],
  ]);
  assert.ok(lines().some((l) => l.msg === 'consumer rejoined its group'));
  assert.equal((await recoveries()).sort(), [['REBALANCE_IN_PROGRESS', 1], ['UNKNOWN_MEMBER_ID', 1]]);
  await consumer.disconnect();
});

t('a crash kafkajs restarts itself is a counted warning; a crash no rejoin fixes stays fatal', async () => {
  const fatal: Error[] = [];
  const { consumer, fake, lines, recoveries } = await start((e) => fatal.push(e));
  fake.crash(new KafkaJSNumberOfRetriesExceeded(new Error('slow'), { retryCount: 8, retryTime: 1 }), true);
  await sleep(40);
  assert.is(fake.calls.filter((c) => c === 'run').length, 1, 'kafkajs restarts it: no second run from us');
  assert.ok(lines().some((l) => l.code === 'E_CONSUMER_RESTART' && l.level === 40));
  assert.equal(await recoveries(), [['KafkaJSNumberOfRetriesExceeded', 1]]);
  assert.equal(fatal, []);

  const bug = new TypeError('handler bug');
  fake.crash(nonRetriable(bug), false);
  await sleep(40);
  assert.is(fatal.length, 1);
  assert.ok(lines().some((l) => l.code === 'E_CONSUMER_FATAL' && l.level === 50));
  assert.is(fake.calls.filter((c) => c === 'run').length, 1, 'no rejoin for a bug');
  await consumer.disconnect();
});

t('a rejoin whose connect fails on a broker outage backs off and tries again; disconnect cancels a pending rejoin', async () => {
  const fatal: Error[] = [];
  const { consumer, fake } = await start((e) => fatal.push(e));
  let failures = 2;
  const connect = fake.consumer.connect;
  fake.consumer.connect = async () => {
    fake.calls.push('connect');
    if (failures-- > 0) throw nonRetriable(new KafkaJSConnectionError('Connection error: ECONNREFUSED'));
  };
  fake.crash(wrappedUnknownMember(), false);
  await sleep(20 + 40 + 80 + 60);
  assert.is(fake.calls.filter((c) => c === 'connect').length, 1 + 3, 'two failed connects, then one that works');
  assert.is(fake.calls.filter((c) => c === 'run').length, 2);
  assert.equal(fatal, []);

  fake.consumer.connect = connect;
  fake.crash(wrappedUnknownMember(), false);
  await consumer.disconnect();
  await sleep(150);
  assert.is(fake.calls.filter((c) => c === 'run').length, 2, 'no rejoin after disconnect');
  assert.equal(fatal, []);
});

t.run();
