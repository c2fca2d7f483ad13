/**
 * Transformer adapters without I/O: the co-partitioned assignment keeps every symbol's partitions
 * of all topics on one member (checked with kafkajs' own default partitioner), and the fast
 * output encoder writes exactly the envelopes the contract's `makeEnvelope` would.
 */
import * as assert from 'uvu/assert';
import path from 'node:path';
import { Partitioners } from 'kafkajs';
import { decode, encode, makeEnvelope } from '@stock-mlops/contracts';
import { copartitionAssignment } from '@stock-mlops/platform/kafka/copartition';
import { parseYahooCsv, PIPELINE_SCHEMA, SymbolPipeline } from '@stock-mlops/transform';
import { readFileSync } from 'node:fs';
import { outputEncoder } from '../../services/transformer/src/outputs.ts';
import { suite } from '../harness/index.ts';

const t = suite('transformer: assignment and output encoding');

t('co-partitioned assignment: every partition once; a key lands on one member across topics', () => {
  const counts = { prices: 6, news: 3, facts: 3, sentiment: 3 };
  for (const members of [['m1'], ['m2', 'm1'], ['a', 'b', 'c'], ['w', 'x', 'y', 'z']]) {
    const plan = copartitionAssignment(members, counts);
    assert.equal([...plan.keys()], [...members].sort(), 'every member gets an entry (maybe empty)');
    for (const [topic, n] of Object.entries(counts)) {
      const owned = [...plan.values()].flatMap((a) => a[topic] ?? []).sort((x, y) => x - y);
      assert.equal(owned, Array.from({ length: n }, (_, i) => i), `${topic}: each partition exactly once`);
    }
    if (members.length === 4) assert.is([...plan.values()].filter((a) => Object.keys(a).length === 0).length, 1, 'a 4th member idles: 3 groups');
    assert.equal(copartitionAssignment([...members].reverse(), counts), plan, 'independent of member order');
    const partitioner = Partitioners.DefaultPartitioner();
    const ownerOf = (topic: keyof typeof counts, key: string) => {
      const partition = partitioner({ topic, partitionMetadata: Array.from({ length: counts[topic] }, (_, i) => ({ partitionId: i, leader: 0 })) as never, message: { key, value: '' } });
      return [...plan].find(([, a]) => (a[topic] ?? []).includes(partition))?.[0];
    };
    for (const symbol of ['AAPL', 'MSFT', 'GOOG', 'SPY', 'NVDA', 'AMZN', '005930.KS', '^DJI', 'BRK-B', 'EURUSD=X']) {
      const owner = ownerOf('prices', symbol);
      for (const topic of ['news', 'facts', 'sentiment'] as const) assert.is(ownerOf(topic, symbol), owner, `${symbol} on ${topic}`);
    }
  }
});

t('the fast encoder writes the same envelopes as makeEnvelope, for every record of a batch', () => {
  const file = path.join(process.env.SHARED_DATA_DIR ?? path.resolve(import.meta.dirname, '../../../shared/data'), 'prices', 'AAPL.csv');
  const bars = parseYahooCsv(readFileSync(file, 'utf8'), 'AAPL', 'yahoo-csv').bars.slice(0, 120);
  const p = SymbolPipeline.create('AAPL');
  const outs = bars.map((b) => p.push(b));
  for (const traceId of [undefined, '0123456789abcdef', 'not a valid "trace" id']) {
    const enc = outputEncoder();
    const msgs = outs.map((o) => enc.encode(o, traceId));
    const clean = msgs.flatMap((m) => m.clean);
    const features = msgs.flatMap((m) => m.features);
    assert.is(clean.length, 120);
    assert.is(features.length, 120 - 60);
    const envTrace = traceId && /^[0-9a-f]{16,32}$/.test(traceId) ? { traceId } : {};
    outs.forEach((o, i) => {
      const b = o.clean[0]!;
      const got = decode('cleanPrices', clean[i]!.value);
      assert.ok(got.ok, `clean ${i} decodes`);
      const { flags, source, adjFactor, ...rest } = b;
      const data = { ...rest, interval: '1d' as const, adjFactor, zeroVolume: flags.zeroVolume, outlier: flags.outlier };
      const want = makeEnvelope('cleanPrices', { data, source, idParts: [b.symbol, b.interval, b.ts], eventTime: b.ts, ...envTrace });
      assert.equal(got.ok && got.envelope, want, `clean ${i}`);
      assert.is(clean[i]!.key, 'AAPL');
      assert.equal(clean[i]!.headers, traceId ? { 'trace-id': traceId } : undefined);
    });
    outs.flatMap((o) => o.features).forEach(({ bar, vector }, i) => {
      const got = decode('features', features[i]!.value);
      assert.ok(got.ok, `features ${i} decode`);
      const want = makeEnvelope('features', {
        data: { symbol: bar.symbol, interval: '1d', ts: bar.ts, close: bar.close, schemaVersion: PIPELINE_SCHEMA.version, schemaHash: PIPELINE_SCHEMA.hash, values: vector },
        source: 'transformer',
        idParts: [bar.symbol, bar.interval, bar.ts, PIPELINE_SCHEMA.hash],
        eventTime: bar.ts,
        ...envTrace,
      });
      assert.equal(got.ok && got.envelope, want, `features ${i}`);
      // The hand-assembled string is canonical JSON: byte for byte what JSON.stringify writes for its content.
      assert.is(JSON.stringify(JSON.parse(features[i]!.value as string)), features[i]!.value, `features ${i} bytes`);
      assert.is(encode('features', want).key, features[i]!.key);
    });
  }
});

t.run();
