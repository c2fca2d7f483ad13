/**
 * The raw topics are a public contract: a producer that shares no code with us (a bare kafkajs
 * client, messages written by hand as JSON, topic names spelled from docs/raw-topics.md) feeds
 * the real transformer and loader. Valid bars become bars and features in MongoDB exactly like
 * the extractor's; invalid messages land in the transform dead-letter topic with their reasons,
 * and processing goes on.
 */
import * as assert from 'uvu/assert';
import { Kafka, logLevel } from 'kafkajs';
import { WARMUP_BARS } from '@stock-mlops/transform';
import { suite } from '../harness/index.ts';
import { mongoClient, requireInfra, waitFor, withStack } from '../support/stack.ts';
import { readTopic, topicCount } from '../support/extractor.ts';

const t = suite('external producer → raw topic → transformer → loader', { timeoutMs: 150_000 });

const SYMBOL = 'EXTP';
const N = WARMUP_BARS + 15;
const TRACE = 'feedfacecafe0001';

/** N weekday bars from 2024-01-01, hand-written in the documented envelope format. */
function validMessages(): Array<{ key: string; value: string; headers: Record<string, string> }> {
  const out = [];
  let day = Date.parse('2024-01-01T00:00:00Z');
  let close = 100;
  for (let i = 0; i < N; i++) {
    while ([0, 6].includes(new Date(day).getUTCDay())) day += 86_400_000;
    const ts = new Date(day).toISOString();
    const open = close;
    close = Math.round((open * (1 + 0.01 * Math.sin(i / 3))) * 100) / 100;
    const envelope = {
      eventId: `ext:${SYMBOL}:1d:${ts.slice(0, 10)}`,
      type: 'price.bar.raw',
      schemaVersion: 1,
      eventTime: ts,
      source: 'external-kafkajs',
      data: { symbol: SYMBOL, interval: '1d', ts, open, high: Math.max(open, close) + 0.5, low: Math.min(open, close) - 0.5, close, volume: 1_000_000 + i },
    };
    out.push({ key: SYMBOL, value: JSON.stringify(envelope), headers: { 'trace-id': TRACE } });
    day += 86_400_000;
  }
  return out;
}

const base = (ts: string) => ({
  eventId: `ext:${SYMBOL}:bad:${ts.slice(0, 10)}`,
  type: 'price.bar.raw',
  schemaVersion: 1,
  eventTime: ts,
  source: 'external-kafkajs',
  data: { symbol: SYMBOL, interval: '1d', ts, open: 10, high: 11, low: 9, close: 10.5, volume: 100 },
});

/** Each invalid message with the dead-letter code it must get. */
const INVALID: Array<{ code: string; value: string }> = [
  { code: 'E_JSON', value: '{"eventId": "x", not json' },
  { code: 'E_EMPTY', value: '' },
  { code: 'E_TYPE', value: JSON.stringify({ ...base('2025-01-06T00:00:00.000Z'), type: 'price.bar.clean' }) },
  { code: 'E_SCHEMA_VERSION', value: JSON.stringify({ ...base('2025-01-07T00:00:00.000Z'), schemaVersion: 2 }) },
  { code: 'E_SCHEMA', value: JSON.stringify({ ...base('2025-01-08T00:00:00.000Z'), data: { ...base('2025-01-08T00:00:00.000Z').data, close: undefined } }) },
  { code: 'E_SCHEMA', value: JSON.stringify({ ...base('2025-01-09T00:00:00.000Z'), data: { ...base('2025-01-09T00:00:00.000Z').data, dividend: 0.2 } }) },
  { code: 'E_SCHEMA', value: JSON.stringify({ ...base('2025-01-10T00:00:00.000Z'), data: { ...base('2025-01-10T00:00:00.000Z').data, symbol: 'extp' } }) },
  { code: 'E_HIGH_BELOW_BODY', value: JSON.stringify({ ...base('2025-01-13T00:00:00.000Z'), data: { ...base('2025-01-13T00:00:00.000Z').data, high: 10.2 } }) },
];

t('valid hand-written bars become bars and features; invalid ones are dead-lettered with reasons', async () => {
  await withStack({ services: ['transformer', 'loader'] }, async (stack) => {
    const rawTopic = `${stack.prefix}stock.raw.prices.v1`;
    const dlqTopic = `${stack.prefix}stock.dlq.transform.v1`;
    const kafka = new Kafka({ clientId: 'external-producer', brokers: requireInfra().KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    const mongo = await mongoClient();
    try {
      // The services create the topics on start-up.
      await waitFor('the raw topic', async () => (await topicCount(rawTopic)) === 0 || undefined, 60_000, 500);
      await producer.connect();
      const valid = validMessages();
      await producer.send({ topic: rawTopic, acks: -1, messages: valid.slice(0, 40) });
      await producer.send({ topic: rawTopic, acks: -1, messages: INVALID.map((m) => ({ key: SYMBOL, value: m.value, headers: { 'trace-id': TRACE } })) });
      await producer.send({ topic: rawTopic, acks: -1, messages: valid.slice(40) });

      const db = mongo.db(stack.db);
      await waitFor(`${N} bars in MongoDB`, async () => (await db.collection('bars').countDocuments({ symbol: SYMBOL })) === N || undefined, 90_000, 500);
      const expectedFeatures = N - WARMUP_BARS + 1;
      await waitFor(`${expectedFeatures} feature rows`, async () => (await db.collection('features').countDocuments({ symbol: SYMBOL })) === expectedFeatures || undefined, 30_000, 500);
      const bar = await db.collection('bars').findOne({ symbol: SYMBOL, ts: JSON.parse(valid[0]!.value).data.ts });
      assert.is(bar?.close, JSON.parse(valid[0]!.value).data.close);
      assert.is(bar?.traceId, TRACE, 'the trace-id header travels to the stored bar');

      await waitFor('every invalid message dead-lettered', async () => (await topicCount(dlqTopic)) >= INVALID.length || undefined, 30_000, 250);
      const dead = await readTopic(dlqTopic);
      assert.is(dead.length, INVALID.length, 'nothing else was dead-lettered');
      const header = (r: (typeof dead)[number], name: string) => r.headers[name]?.toString() ?? '';
      assert.equal(dead.map((r) => header(r, 'dlq.code')).sort(), INVALID.map((m) => m.code).sort());
      for (const r of dead) {
        const sent = INVALID.find((m) => m.value === r.value);
        assert.ok(sent, `the original bytes are kept: ${r.value.slice(0, 60)}`);
        assert.is(header(r, 'dlq.code'), sent.code);
        assert.ok(header(r, 'dlq.reason').length > 5, `a reason for ${sent.code}: ${header(r, 'dlq.reason')}`);
        assert.is(header(r, 'dlq.stage'), 'transform');
        assert.is(header(r, 'dlq.source.topic'), rawTopic);
        assert.match(header(r, 'dlq.source.offset'), /^\d+$/);
        assert.is(header(r, 'trace-id'), TRACE, 'the trace id is kept');
      }
      const missing = dead.find((r) => header(r, 'dlq.code') === 'E_SCHEMA' && r.value.includes('"data"') && !r.value.includes('"close"'));
      assert.match(header(missing!, 'dlq.reason'), /close/, 'the reason names the missing field');
    } finally {
      await producer.disconnect().catch(() => undefined);
      await mongo.close();
    }
  });
});

t.run();
