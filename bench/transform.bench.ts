/**
 * Transformer throughput through the real Kafka, beside a passthrough baseline in the same run.
 *
 * Both run as their own Node process on a fresh topic prefix with the same backlog of raw price
 * envelopes (real shared prices, several symbols):
 *   - transformer: the real service (decode, clean, features, joins, z-scores, two output topics,
 *     per-symbol state saved to MongoDB before every commit);
 *   - passthrough: the same platform consumer (runConsumer: eachBatch, decode + validation,
 *     commit after the send) and BatchingProducer with the same kafkajs settings, re-publishing
 *     each record unchanged to one output topic.
 * Throughput = records / (last − first output timestamp) on the clean-prices topic, so process
 * start-up is excluded for both. Run directly with `--passthrough` to be the baseline process.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { encode, makeEnvelope, resolveTopics } from '@stock-mlops/contracts';
import { BatchingProducer, createKafka, createLogger, ensureTopics, runConsumer } from '@stock-mlops/platform';
import { parseYahooCsv, PIPELINE_SCHEMA } from '@stock-mlops/transform';
import { fmt, median, type Bench, dropRun } from './lib.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SYMBOLS = ['AAPL', 'GOOG', 'MSFT', 'SPY', 'NVDA', 'AMZN'];
const BARS_PER_SYMBOL = Number(process.env.BENCH_TRANSFORM_BARS ?? 2_500);
/** Each price file is replayed under this many symbol names (AAPL, AAPL.B, …): a longer run amortizes JIT warm-up. */
const COPIES = Number(process.env.BENCH_TRANSFORM_COPIES ?? 4);

function backlog(): Array<{ key: string; value: string }> {
  const dir = process.env.SHARED_DATA_DIR ?? path.join(ROOT, '..', 'shared', 'data');
  const lists = SYMBOLS.flatMap((s) => {
    const bars = parseYahooCsv(readFileSync(path.join(dir, 'prices', `${s}.csv`), 'utf8'), s, 'yahoo-csv').bars.slice(-BARS_PER_SYMBOL);
    return Array.from({ length: COPIES }, (_, c) => (c === 0 ? bars : bars.map((b) => ({ ...b, symbol: `${s}.${String.fromCharCode(65 + c)}` }))));
  });
  const out: Array<{ key: string; value: string }> = [];
  for (let i = 0; i < BARS_PER_SYMBOL; i++) {
    for (const l of lists) {
      const b = l[i];
      if (!b) continue;
      const { source, ...data } = b;
      out.push(encode('rawPrices', makeEnvelope('rawPrices', { data: data as never, source, idParts: [b.symbol, b.interval, b.ts] })));
    }
  }
  return out;
}

async function passthrough(padTo: number): Promise<void> {
  const prefix = process.env.KAFKA_TOPIC_PREFIX ?? '';
  const log = createLogger('passthrough', 'warn');
  const kafka = createKafka({ brokers: process.env.KAFKA_BROKERS!, clientId: 'passthrough', log });
  const topics = resolveTopics(prefix);
  const producer = new BatchingProducer(kafka, { log });
  await producer.connect();
  const consumer = await runConsumer({
    kafka,
    groupId: `${prefix}passthrough`,
    partitionsConsumedConcurrently: CONCURRENCY,
    topics,
    subscribe: ['rawPrices'] as const,
    stage: 'transform',
    dlqTopic: topics.dlqTransform,
    producer,
    log,
    onFatal: (err) => {
      log.fatal({ err }, 'passthrough crashed');
      process.exit(1);
    },
    handle: async (batch) => {
      const clean = producer.send(topics.cleanPrices, batch.map((m) => ({ key: m.key, value: m.raw.value! })));
      // Same-bytes mode: also one message per record as large as a feature vector message.
      const extra = padTo > 0 ? producer.send(topics.features, batch.map((m) => ({ key: m.key, value: m.raw.value!.toString().padEnd(padTo, ' ') }))) : undefined;
      await Promise.all([clean, extra]);
    },
  });
  const stop = () => void consumer.disconnect().then(() => producer.disconnect()).finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Counts messages of a topic from the beginning and keeps the first/last append timestamps. */
async function watch(kafka: Kafka, topic: string) {
  const consumer = kafka.consumer({ groupId: `bench-watch-${randomBytes(4).toString('hex')}` });
  const seen = { n: 0, first: Number.POSITIVE_INFINITY, last: 0 };
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const ts = Number(m.timestamp);
        seen.n++;
        if (ts < seen.first) seen.first = ts;
        if (ts > seen.last) seen.last = ts;
      }
    },
  });
  return { seen, stop: () => consumer.disconnect() };
}

type Kind = 'transformer' | 'transformer-sequential' | 'passthrough' | 'passthrough-same-bytes';
/** Batches in flight (kafkajs partitionsConsumedConcurrently): the transformer's TRANSFORM_CONCURRENCY, used by the passthroughs too. */
const CONCURRENCY = Number(process.env.TRANSFORM_CONCURRENCY ?? 3);
/** BENCH_TRANSFORM_KINDS=transformer,…: run only some processes (exploration; the report needs all three). */
const KINDS = (process.env.BENCH_TRANSFORM_KINDS?.split(',') ?? ['passthrough', 'passthrough-same-bytes', 'transformer', 'transformer-sequential']) as Kind[];

/** Size of a feature vector message of the published schema, hash and values (the same-bytes passthrough pads to it). */
function featureMessageBytes(): number {
  const values = PIPELINE_SCHEMA.names.map((_, i) => Math.sin(i + 1) / 7);
  const data = { symbol: 'AAPL', interval: '1d' as const, ts: '2016-01-04T00:00:00.000Z', close: 105.35, schemaVersion: PIPELINE_SCHEMA.version, schemaHash: PIPELINE_SCHEMA.hash, values };
  return encode('features', makeEnvelope('features', { data, source: 'transformer', idParts: ['x'] })).value.length;
}

async function runOnce(kind: Kind, messages: Array<{ key: string; value: string }>, env: { KAFKA_BROKERS: string; MONGO_URL: string }): Promise<number> {
  const prefix = `bench${Date.now().toString(36)}${randomBytes(2).toString('hex')}.`;
  const db = prefix.replace(/\W/g, '_');
  const kafka = new Kafka({ clientId: 'bench', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const topics = await ensureTopics(kafka, prefix);
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < messages.length; i += 2_000) await producer.send({ topic: topics.rawPrices, acks: -1, messages: messages.slice(i, i + 2_000) });
  await producer.disconnect();
  const out = await watch(kafka, topics.cleanPrices);
  const transformer = kind === 'transformer' || kind === 'transformer-sequential';
  const entry = transformer ? path.join(ROOT, 'services/transformer/src/main.ts') : path.join(ROOT, 'bench/transform.bench.ts');
  const args = transformer ? [] : ['--passthrough', '--pad', String(kind === 'passthrough' ? 0 : featureMessageBytes())];
  // BENCH_TRANSFORM_PROF=dir: V8 CPU profiles of the measured processes (for finding where the time goes).
  const prof = process.env.BENCH_TRANSFORM_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_TRANSFORM_PROF, `${kind}-${Date.now()}`)}`] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', entry, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, KAFKA_TOPIC_PREFIX: prefix, MONGO_DB: db, LOG_LEVEL: 'warn', HTTP_PORT: '0', TRANSFORM_REORDER_WINDOW: '0', TRANSFORM_CONCURRENCY: String(kind === 'transformer-sequential' ? 1 : CONCURRENCY) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const deadline = Date.now() + 300_000;
    while (out.seen.n < messages.length) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${kind}: ${out.seen.n}/${messages.length} outputs (exit ${child.exitCode})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return messages.length / ((out.seen.last - out.seen.first) / 1000);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await out.stop();
    await dropRun(kafka, topics, env.MONGO_URL, db);
  }
}

const bench: Bench = async (ctx) => {
  const load = os.loadavg()[0]!.toFixed(1);
  const messages = backlog();
  ctx.log(`backlog: ${messages.length} raw price envelopes, ${SYMBOLS.length * COPIES} symbols`);
  const runs: Record<Kind, number[]> = { transformer: [], 'transformer-sequential': [], passthrough: [], 'passthrough-same-bytes': [] };
  for (let r = 0; r < ctx.repeats; r++) {
    for (const kind of KINDS) {
      const rate = await runOnce(kind, messages, ctx.env);
      runs[kind].push(rate);
      ctx.log(`${kind} run ${r + 1}: ${fmt(rate, 0)} records/s`);
    }
  }
  const t = median(runs.transformer);
  const p = median(runs.passthrough);
  const pb = median(runs['passthrough-same-bytes']);
  const ts = median(runs['transformer-sequential']);
  const markdown = [
    `${messages.length} raw price envelopes (${SYMBOLS.join(', ')}: the last ${BARS_PER_SYMBOL} shared daily bars each, each file under ${COPIES} symbol names, interleaved) as a backlog on a fresh topic prefix; median of ${ctx.repeats} runs, each process on its own prefix.`,
    '',
    '| process | records/s | outputs per record | vs passthrough |',
    '| --- | ---: | ---: | ---: |',
    `| transformer (clean + features + joins, state to MongoDB per batch; ${PIPELINE_SCHEMA.names.length} features; ${CONCURRENCY} batches in flight) | ${fmt(t, 0)} | 2 (clean bar, feature vector after warm-up) | ${fmt((100 * t) / p, 0)} % |`,
    `| transformer, TRANSFORM_CONCURRENCY=1 (compute, acks, save, commit one batch after another) | ${fmt(ts, 0)} | 2 | ${fmt((100 * ts) / p, 0)} % |`,
    `| passthrough (same consumer and producer, decode + re-publish) | ${fmt(p, 0)} | 1 | 100 % |`,
    `| passthrough, same bytes out (+ one ${featureMessageBytes()}-byte message per record, like a feature vector) | ${fmt(pb, 0)} | 2 | ${fmt((100 * pb) / p, 0)} % |`,
    '',
    `Target: transformer ≥ 50 % of the passthrough: ${fmt((100 * t) / p, 0)} %. Against the passthrough that writes the same bytes: ${fmt((100 * t) / pb, 0)} %.`,
    `Runs: transformer ${runs.transformer.map((x) => fmt(x, 0)).join(', ')}; sequential ${runs['transformer-sequential'].map((x) => fmt(x, 0)).join(', ')}; passthrough ${runs.passthrough.map((x) => fmt(x, 0)).join(', ')}; same bytes ${runs['passthrough-same-bytes'].map((x) => fmt(x, 0)).join(', ')}.`,
    `Per round (the processes of one round run back to back): transformer / passthrough ${runs.transformer.map((x, i) => `${fmt((100 * x) / runs.passthrough[i]!, 0)} %`).join(', ')}; transformer / same bytes ${runs.transformer.map((x, i) => `${fmt((100 * x) / runs['passthrough-same-bytes'][i]!, 0)} %`).join(', ')}.`,
    'Throughput = records / (last − first append time of the clean-prices outputs): start-up excluded for both.',
    `Same kafkajs settings for the transformer and both passthroughs: the platform consumer (\`runConsumer\`, eachBatch, 1 MiB per partition fetch, ${CONCURRENCY} partitions consumed concurrently, commit after the handler) and \`BatchingProducer\` (acks=all, no compression, requests ≤ 512 KiB, one request in flight).`,
    `Machine load average (1 min) when the bench started: ${load}; other work shares the 2 cores, so the figures swing between rounds (see the per-round ratios).`,
    'Where the time goes and what was tried: [pipeline.md, Throughput](pipeline.md#throughput-npm-run-bench----transform-loader). Profile the measured processes with `BENCH_TRANSFORM_PROF=dir`.',
  ].join('\n');
  return { title: 'Transformer: bars/s through Kafka vs a passthrough consumer→producer', markdown };
};

export default bench;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--passthrough')) {
  await passthrough(Number(process.argv[process.argv.indexOf('--pad') + 1] ?? 0) || 0);
}
