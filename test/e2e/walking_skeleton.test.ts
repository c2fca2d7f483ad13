/**
 * End to end, real processes against the real Kafka broker and database: rows of a bundled CSV
 * go in through the extractor; a prediction for that symbol comes out over WebSocket and from
 * gRPC Predict. Bad input is handled on the way.
 */
import * as assert from 'uvu/assert';
import { mkdtempSync, copyFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import WebSocket from 'ws';
import { DLQ_HEADERS, encode, makeEnvelope, resolveTopics } from '@stock-mlops/contracts';
import { suite } from '../harness/index.ts';
import { collect, freePort, kafkaClient, mongoClient, waitFor, withStack } from '../support/stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** Bounds stated by this test: the first prediction within 4 minutes of start on a 2-core machine. */
const FIRST_PREDICTION_MS = 240_000;

const ctx: { grpcPort: number; wsPort: number } = { grpcPort: 0, wsPort: 0 };
const t = suite('e2e: CSV → extractor → transformer → loader → trainer → predictor → gRPC/WebSocket', { timeoutMs: 300_000 });

type PredictionServiceClient = grpc.Client & {
  Predict: (req: unknown, cb: (err: grpc.ServiceError | null, res: { prediction: Record<string, unknown> }) => void) => void;
};

function client(port: number): PredictionServiceClient {
  const def = protoLoader.loadSync(path.join(ROOT, 'proto/stockmlops/v1/predictor.proto'), { longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { stockmlops: { v1: { PredictionService: grpc.ServiceClientConstructor } } };
  return new pkg.stockmlops.v1.PredictionService(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as PredictionServiceClient;
}

function predict(c: PredictionServiceClient, symbol: string): Promise<{ err: grpc.ServiceError | null; res?: { prediction: Record<string, unknown> } }> {
  return new Promise((resolve) => c.Predict({ symbol }, (err, res) => resolve({ err, res })));
}

t('a bundled CSV yields predictions over WebSocket and gRPC; bad input is dead-lettered', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stock-mlops-e2e-'));
  copyFileSync(path.join(ROOT, 'data/prices/MSFT.csv'), path.join(dir, 'MSFT.csv'));
  const csvRows = readFileSync(path.join(dir, 'MSFT.csv'), 'utf8').trim().split('\n').length - 1;
  ctx.grpcPort = await freePort();
  ctx.wsPort = await freePort();
  const started = Date.now();
  await withStack({
    services: ['extractor', 'transformer', 'loader', 'trainer', 'predictor'],
    env: { EXTRACT_REPLAY_PATH: dir, EXTRACT_POLL_MS: '500' },
    perService: {
      predictor: { GRPC_PORT: String(ctx.grpcPort), WS_PORT: String(ctx.wsPort), MODEL_POLL_MS: '2000' },
      // This test proves the serving path; the promotion gate has tests of its own.
      trainer: { TRAIN_MIN_FEATURE_ROWS: '500', TRAIN_SETTLE_MS: '3000', TRAIN_OVERRIDES: 'model.epochs=4,model.arch=mlp,gate.baselineMargin=-1,gate.minIcT=0' },
    },
  }, async (stack) => {
    const topics = resolveTopics(stack.prefix);
    // WebSocket subscriber: waits for the first live prediction for MSFT.
    const ws = await waitFor(
      'the WebSocket server',
      () =>
        new Promise<WebSocket | undefined>((resolve) => {
          const s = new WebSocket(`ws://127.0.0.1:${ctx.wsPort}/ws`);
          s.once('open', () => resolve(s));
          s.once('error', () => resolve(undefined));
        }),
      120_000,
      500,
    );
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
    ws.send(JSON.stringify({ op: 'subscribe', symbols: ['MSFT'] }));
    ws.send('not json');
    ws.send(JSON.stringify({ op: 'subscribe', symbols: ['bad symbol'] }));

    const live = await waitFor(
      'a live MSFT prediction over WebSocket',
      () => frames.find((f) => f.type === 'prediction' && (f.data as { symbol?: string }).symbol === 'MSFT'),
      FIRST_PREDICTION_MS - (Date.now() - started),
      250,
    );
    const wsLatency = Date.now() - started;
    const data = live.data as { predictedPrice: number; lastClose: number; model: { name: string; version: number }; asOf: string };
    assert.ok(Number.isFinite(data.predictedPrice) && data.predictedPrice > 0, 'predicted price is a positive number');
    assert.is(data.model.name, 'price');
    assert.ok(data.model.version >= 1);
    const errors = frames.filter((f) => f.type === 'error');
    assert.ok(errors.some((f) => f.code === 'E_JSON'), 'garbage frame answered with an E_JSON error frame');
    assert.ok(errors.some((f) => f.code === 'E_BAD_REQUEST'), 'invalid symbol answered with an E_BAD_REQUEST error frame');
    ws.close();

    // gRPC Predict: the same symbol, within the bound too.
    const c = client(ctx.grpcPort);
    const ok = await waitFor('gRPC Predict(MSFT)', async () => {
      const r = await predict(c, 'MSFT');
      return r.err ? undefined : r.res;
    }, 30_000);
    assert.is(ok.prediction.symbol, 'MSFT');
    assert.ok((ok.prediction.predictedPrice as number) > 0);
    assert.is(ok.prediction.modelName, 'price');
    assert.ok(Date.now() - started < FIRST_PREDICTION_MS, `first predictions within ${FIRST_PREDICTION_MS} ms`);
    console.log(`  first WebSocket prediction after ${(wsLatency / 1000).toFixed(1)} s; gRPC after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const unknown = await predict(c, 'ZZZZ');
    assert.is(unknown.err?.code, grpc.status.NOT_FOUND, 'unknown symbol → NOT_FOUND');
    const empty = await predict(c, '');
    assert.is(empty.err?.code, grpc.status.INVALID_ARGUMENT, 'empty symbol → INVALID_ARGUMENT');
    const invalid = await predict(c, '$where');
    assert.is(invalid.err?.code, grpc.status.INVALID_ARGUMENT, 'invalid symbol → INVALID_ARGUMENT');
    c.close();

    // Every CSV row became exactly one bar in MongoDB.
    const mongo = await mongoClient();
    try {
      const bars = mongo.db(stack.db).collection('bars');
      await waitFor('all bars loaded', async () => (await bars.countDocuments({ symbol: 'MSFT' })) === csvRows || undefined, 60_000, 500);

      // Bad input straight into the raw topic: malformed JSON, then a bar with high < low, then a valid bar.
      const producer = kafkaClient('e2e-external').producer();
      await producer.connect();
      const valid = makeEnvelope('rawPrices', {
        data: { symbol: 'MSFT', interval: '1d', ts: '2017-09-05T00:00:00.000Z', open: 73.34, high: 73.89, low: 72.98, close: 73.61, volume: 21_000_000 },
        source: 'external-test',
        idParts: ['MSFT', '1d', '2017-09-05'],
      });
      const broken = { ...valid, data: { ...valid.data, ts: '2017-09-06T00:00:00.000Z', high: 70 } };
      await producer.send({
        topic: topics.rawPrices,
        messages: [
          { key: 'MSFT', value: '{"this is": not json' },
          { key: 'MSFT', value: JSON.stringify(broken) },
          { key: 'MSFT', value: encode('rawPrices', valid).value },
        ],
      });
      await producer.disconnect();
      const dlq = await collect([topics.dlqTransform], 'e2e-dlq');
      try {
        const dead = await waitFor('two dead letters', () => (dlq.messages.length >= 2 ? dlq.messages : undefined), 60_000);
        const reasons = dead.map((d) => d.m.headers?.[DLQ_HEADERS.reason]?.toString() ?? '');
        const codes = dead.map((d) => d.m.headers?.[DLQ_HEADERS.code]?.toString() ?? '');
        assert.ok(codes.includes('E_JSON'), `malformed JSON dead-lettered (codes: ${codes.join(',')})`);
        assert.ok(codes.includes('E_HIGH_BELOW_BODY'), `high < close dead-lettered (codes: ${codes.join(',')})`);
        assert.ok(reasons.every((r) => r.length > 5), 'every dead letter carries a reason');
        assert.ok(dead.every((d) => d.m.headers?.[DLQ_HEADERS.sourceTopic]?.toString() === topics.rawPrices));
        assert.ok(dead.every((d) => /^\d+$/.test(d.m.headers?.[DLQ_HEADERS.sourceOffset]?.toString() ?? '')));
      } finally {
        await dlq.stop();
      }
      // …and the valid bar after them still flows to the database.
      await waitFor('the later valid bar in MongoDB', async () => (await bars.findOne({ symbol: 'MSFT', ts: '2017-09-05T00:00:00.000Z' })) ?? undefined, 60_000, 500);
      assert.is(await bars.countDocuments({ symbol: 'MSFT' }), csvRows + 1, 'exactly one more bar');
    } finally {
      await mongo.close();
    }
  });
});


t.run();
