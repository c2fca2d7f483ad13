import * as assert from 'uvu/assert';
import pino from 'pino';
import { z } from 'zod';
import { BaseEnv, ConfigError, loadConfig, chunkByBytes, dlqMessage, Shutdown, createMetrics, startOpsServer, bearerMatches, type OutMessage } from '@stock-mlops/platform';
import { DLQ_HEADERS } from '@stock-mlops/contracts';
import { suite } from '../../harness/index.ts';

const t = suite('platform');

t('config: a bad or missing value names the variable and what is wrong, and secrets are not echoed', () => {
  const schema = BaseEnv.extend({ REQUIRED_THING: z.string().min(3), API_TOKEN: z.string().length(40) });
  let err: unknown;
  try {
    loadConfig(schema, { KAFKA_BROKERS: 'no-port', MONGO_URL: 'http://x', API_TOKEN: 'super-secret-value' });
  } catch (e) {
    err = e;
  }
  assert.instance(err, ConfigError);
  const e = err as ConfigError;
  assert.is(e.code, 'E_CONFIG');
  const text = e.message;
  assert.match(text, /KAFKA_BROKERS: must be a comma-separated list of host:port \(got "no-port"\)/);
  assert.match(text, /MONGO_URL: must start with mongodb:\/\//);
  assert.match(text, /REQUIRED_THING: .*\(it is not set\)/);
  assert.match(text, /API_TOKEN: .*\(got "\*\*\*"\)/);
  assert.not.match(text, /super-secret-value/);
  const ok = loadConfig(BaseEnv, {});
  assert.is(ok.KAFKA_BROKERS, '127.0.0.1:9092');
  assert.is(ok.KAFKA_TOPIC_PREFIX, '');
});

t('producer: flushes are split into requests under the byte limit, keeping per-topic order', () => {
  const msg = (i: number, size: number): OutMessage => ({ key: `k${i}`, value: 'x'.repeat(size) });
  const byTopic = new Map<string, OutMessage[]>([
    ['a', Array.from({ length: 10 }, (_, i) => msg(i, 300))],
    ['b', Array.from({ length: 3 }, (_, i) => msg(100 + i, 900))],
  ]);
  const chunks = chunkByBytes(byTopic, 1000);
  for (const c of chunks) {
    const bytes = c.flatMap((e) => e.messages).reduce((s, m) => s + String(m.value).length + m.key.length + 64, 0);
    assert.ok(bytes <= 1000 || c.flatMap((e) => e.messages).length === 1, 'a chunk stays under the limit unless one message alone is larger');
  }
  const order = (topic: string) => chunks.flatMap((c) => c.filter((e) => e.topic === topic).flatMap((e) => e.messages.map((m) => m.key)));
  assert.equal(order('a'), byTopic.get('a')!.map((m) => m.key));
  assert.equal(order('b'), byTopic.get('b')!.map((m) => m.key));
  assert.ok(chunks.length > 1);
});

t('dead letters keep the original bytes and carry reason, code, stage and source position', () => {
  const raw = { key: Buffer.from('AAPL'), value: Buffer.from('{bad'), headers: { 'trace-id': Buffer.from('abc') }, offset: '41', timestamp: '0', attributes: 0, size: 0 };
  const m = dlqMessage('transform', { topic: 'stock.raw.prices.v1', partition: 2, offset: '41', raw: raw as never }, 'E_JSON', 'invalid JSON: Unexpected token');
  assert.equal(m.value, raw.value);
  assert.is(m.key, 'AAPL');
  const h = m.headers as Record<string, string>;
  assert.is(h[DLQ_HEADERS.code], 'E_JSON');
  assert.is(h[DLQ_HEADERS.reason], 'invalid JSON: Unexpected token');
  assert.is(h[DLQ_HEADERS.stage], 'transform');
  assert.is(h[DLQ_HEADERS.sourceTopic], 'stock.raw.prices.v1');
  assert.is(h[DLQ_HEADERS.sourcePartition], '2');
  assert.is(h[DLQ_HEADERS.sourceOffset], '41');
  assert.ok(h['trace-id'], 'the original headers (trace id) are kept');
});

t('shutdown hooks run in reverse order and a failing hook does not stop the others', async () => {
  const order: string[] = [];
  const sd = new Shutdown(pino({ level: 'silent' }), 5_000);
  sd.add('first', () => void order.push('first'));
  sd.add('broken', () => {
    throw new Error('boom');
  });
  sd.add('last', async () => void order.push('last'));
  await sd.run();
  await sd.run();
  assert.equal(order, ['last', 'first']);
  assert.ok(sd.isStopping);
});

t('metrics registry exposes the shared stage metrics', async () => {
  const m = createMetrics('unit');
  m.processed.inc({ topic: 't', outcome: 'ok' }, 3);
  const text = await m.registry.metrics();
  assert.match(text, /stockmlops_messages_processed_total\{topic="t",outcome="ok",service="unit"\} 3/);
  assert.match(text, /# TYPE stockmlops_stage_latency_seconds histogram/);
});

t('ops port: with a token, /metrics needs the bearer token while the probes stay open', async () => {
  const m = createMetrics('unit');
  const token = 'ops-token-0123456789abcdef';
  const ops = await startOpsServer({ host: '127.0.0.1', port: 0, registry: m.registry, readiness: () => ({ ready: true }), token });
  try {
    const get = (p: string, auth?: string) => fetch(`http://127.0.0.1:${ops.port}${p}`, auth ? { headers: { authorization: auth } } : {}).then((r) => r.status);
    assert.is(await get('/healthz'), 200);
    assert.is(await get('/readyz'), 200);
    assert.is(await get('/metrics'), 401);
    assert.is(await get('/metrics', `Bearer ${token}x`), 401);
    assert.is(await get('/metrics', token), 401, 'the scheme is required');
    assert.is(await get('/metrics', `Bearer ${token}`), 200);
  } finally {
    await ops.close();
  }
  assert.ok(bearerMatches('abc', 'Bearer abc'));
  assert.not.ok(bearerMatches('abc', 'Bearer abcd'));
  assert.not.ok(bearerMatches('abc', undefined));
});

t.run();
