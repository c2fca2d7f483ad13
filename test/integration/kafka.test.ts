/**
 * Real broker, several processes: a message produced in one process is consumed by a consumer
 * group in another; invalid records go to the dead-letter topic with their reason; committed
 * offsets are honoured by the next member of the group.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import pino from 'pino';
import { DLQ_HEADERS, resolveTopics } from '@stock-mlops/contracts';
import { BatchingProducer, createKafka, ensureTopics, runConsumer, createMetrics } from '@stock-mlops/platform';
import { suite } from '../harness/index.ts';
import { collect, requireInfra, uniqueId, waitFor } from '../support/stack.ts';

const t = suite('kafka platform (real broker)', { timeoutMs: 120_000 });
const log = pino({ level: 'silent' });

t('a consumer group in this process consumes what another process produced, and dead-letters bad records', async () => {
  const { KAFKA_BROKERS } = requireInfra();
  const prefix = `${uniqueId('k')}.`;
  const kafka = createKafka({ brokers: KAFKA_BROKERS, clientId: 'kafka-test', log });
  const topics = await ensureTopics(kafka, prefix);
  assert.equal(topics, resolveTopics(prefix));
  const producer = new BatchingProducer(kafka, { log });
  await producer.connect();
  const metrics = createMetrics('kafka-test');
  const seen: string[] = [];
  const groupId = `${prefix}group`;
  const start = () =>
    runConsumer({
      kafka,
      groupId,
      topics,
      subscribe: ['rawPrices'] as const,
      stage: 'transform',
      dlqTopic: topics.dlqTransform,
      producer,
      log,
      metrics,
      onFatal: (err) => {
        throw err;
      },
      handle: async (batch) => {
        for (const m of batch) seen.push(`${m.envelope.data.symbol}|${m.envelope.data.ts}`);
      },
    });
  const consumer = await start();
  try {
    const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '../support/produce_child.ts'), topics.rawPrices, '40', 'XPROC'], {
      env: process.env,
      encoding: 'utf8',
    });
    assert.is(child.status, 0, child.stderr);
    assert.match(child.stdout, /produced 40/);
    await waitFor('40 records consumed', () => (seen.length >= 40 ? true : undefined), 60_000);
    assert.is(new Set(seen).size, 40);
    assert.ok(seen.every((s) => s.startsWith('XPROC|')));

    // A bad record goes to the dead-letter topic with reason, source topic, partition and offset.
    const raw = kafka.producer();
    await raw.connect();
    await raw.send({ topic: topics.rawPrices, messages: [{ key: 'XPROC', value: '{"type":"price.bar.raw","schemaVersion":9}' }] });
    await raw.disconnect();
    const dlq = await collect([topics.dlqTransform], 'dlq-reader');
    const dead = await waitFor('a dead letter', () => dlq.messages[0], 60_000);
    await dlq.stop();
    assert.is(dead.m.headers?.[DLQ_HEADERS.code]?.toString(), 'E_SCHEMA_VERSION');
    assert.match(dead.m.headers?.[DLQ_HEADERS.reason]?.toString() ?? '', /schemaVersion 9/);
    assert.is(dead.m.headers?.[DLQ_HEADERS.sourceTopic]?.toString(), topics.rawPrices);
    assert.match(dead.m.headers?.[DLQ_HEADERS.sourcePartition]?.toString() ?? '', /^\d+$/);
    assert.match(dead.m.headers?.[DLQ_HEADERS.sourceOffset]?.toString() ?? '', /^\d+$/);
    const metricsText = await metrics.registry.metrics();
    assert.match(metricsText, /stockmlops_dead_lettered_total\{[^}]*code="E_SCHEMA_VERSION"[^}]*\} 1/);
  } finally {
    await consumer.disconnect();
  }

  // The next member of the group starts after the committed offsets: nothing is redelivered.
  const before = seen.length;
  const again = await start();
  try {
    await new Promise((r) => setTimeout(r, 4_000));
    assert.is(seen.length, before, 'committed records are not consumed again');
  } finally {
    await again.disconnect();
    await producer.disconnect();
  }
});

t.run();
