/**
 * Errors and limits of the predictor's gRPC server (in this process, registry in MongoDB):
 * no model → UNAVAILABLE; queue full → RESOURCE_EXHAUSTED; deadlines are honoured (expired
 * requests never reach the model); oversized messages are refused; bearer-token auth; TLS.
 */
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { connectMongo, type MongoHandle } from '@stock-mlops/platform';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { suite } from '../harness/index.ts';
import { requireInfra, uniqueId } from '../support/stack.ts';
import { featureSeries, LOOKBACK, N_FEATURES, promote, randomPriceModel, startServing, type ServingStack } from '../support/predictor/fixtures.ts';
import { bearer, clients, statusOf } from '../support/predictor/grpc_client.ts';

const t = suite('predictor gRPC errors and limits', { timeoutMs: 60_000 });
const mongos: MongoHandle[] = [];
const stacks: ServingStack[] = [];
const TOKEN = 'grpc-test-token-0123456789abcdef';

let withModelDb: Promise<MongoHandle['db']> | undefined;

/** A fresh registry database, or (shared, since registering is slow on FerretDB) one holding a price model. */
async function db(withModel: boolean): Promise<MongoHandle['db']> {
  const make = async () => {
    const h = await connectMongo(requireInfra().MONGO_URL, uniqueId('pl'), pino({ level: 'silent' }));
    mongos.push(h);
    if (withModel) await promote(new ModelStore(h.db), 'price', await (await randomPriceModel(5)).serialize());
    return h.db;
  };
  if (!withModel) return make();
  return (withModelDb ??= make());
}

async function serve(withModel: boolean, opts: Parameters<typeof startServing>[1] = {}): Promise<ServingStack> {
  const s = await startServing(await db(withModel), opts);
  stacks.push(s);
  for (const fv of featureSeries('AAA', 10)) s.core.remember(fv);
  return s;
}

async function metric(s: ServingStack, name: string): Promise<number> {
  const m = (await s.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((sum, v) => sum + Number(v.value), 0);
}

t('without a model every inference is UNAVAILABLE (domain and Open Inference Protocol); ServerReady is false', async () => {
  const s = await serve(false);
  const c = clients(s.grpc.port);
  assert.is(await statusOf(c.domain('Predict', { symbol: 'AAA' })), grpc.status.UNAVAILABLE);
  assert.is(await statusOf(c.domain('AnalyzeSentiment', { texts: ['x'] })), grpc.status.UNAVAILABLE);
  assert.is(await statusOf(c.oip('ModelInfer', { modelName: 'price', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, LOOKBACK, N_FEATURES] }] })), grpc.status.UNAVAILABLE);
  assert.is(await statusOf(c.oip('ModelMetadata', { name: 'sentiment' })), grpc.status.UNAVAILABLE);
  assert.is((await c.oip<{ ready: boolean }>('ServerReady', {})).ready, false);
  assert.is((await c.oip<{ live: boolean }>('ServerLive', {})).live, true);
  c.close();
});

t('a full queue answers RESOURCE_EXHAUSTED at once; requests whose deadline passes in the queue never reach the model', async () => {
  const s = await serve(true, { batch: { maxQueue: 2, maxDelayMs: 300, maxBatch: 64 } });
  const c = clients(s.grpc.port);
  assert.is(await statusOf(c.domain('PredictBatch', { requests: [{ symbol: 'AAA' }, { symbol: 'AAA' }, { symbol: 'AAA' }] })), grpc.status.RESOURCE_EXHAUSTED, 'a batch larger than the queue');
  const queued = [c.domain('Predict', { symbol: 'AAA' }), c.domain('Predict', { symbol: 'AAA' })];
  await new Promise((r) => setTimeout(r, 50));
  const t0 = Date.now();
  assert.is(await statusOf(c.domain('Predict', { symbol: 'AAA' })), grpc.status.RESOURCE_EXHAUSTED, 'the third while two wait');
  assert.ok(Date.now() - t0 < 250, 'refused without waiting for the queue');
  assert.equal(await Promise.all(queued.map(statusOf)), ['OK', 'OK'], 'the queued ones are served');

  const dropped0 = await metric(s, 'stockmlops_predict_dropped_total');
  assert.is(await statusOf(c.domain('Predict', { symbol: 'AAA' }, { deadlineMs: 100 })), grpc.status.DEADLINE_EXCEEDED);
  await new Promise((r) => setTimeout(r, 400));
  assert.is(await metric(s, 'stockmlops_predict_dropped_total'), dropped0 + 1, 'the expired request was dropped before the model ran');
  c.close();
});

t('messages over the size limit are refused; tensors over the element limit are INVALID_ARGUMENT', async () => {
  const s = await serve(true, { maxMessageBytes: 16 * 1024 });
  const c = clients(s.grpc.port);
  assert.is(await statusOf(c.domain('Predict', { symbol: 'AAA', features: new Array(4_000).fill(0.5) })), grpc.status.RESOURCE_EXHAUSTED);
  assert.is(await statusOf(c.oip('ModelInfer', { modelName: 'price', inputs: [{ name: 'features', datatype: 'FP32', shape: [100_000, LOOKBACK, N_FEATURES] }], rawInputContents: [Buffer.alloc(4)] })), grpc.status.INVALID_ARGUMENT);
  assert.is(await statusOf(c.domain('Predict', { symbol: 'AAA' })), 'OK', 'normal requests still pass');
  c.close();
});

t('GRPC_TOKEN: every RPC needs `authorization: Bearer <token>` (health excepted)', async () => {
  const s = await serve(true, { token: TOKEN });
  const c = clients(s.grpc.port);
  assert.is(await statusOf(c.domain('Predict', { symbol: 'AAA' })), grpc.status.UNAUTHENTICATED);
  assert.is(await statusOf(c.domain('Predict', { symbol: 'AAA' }, { metadata: bearer('wrong-token-0123456789abcdef-xx') })), grpc.status.UNAUTHENTICATED);
  assert.is(await statusOf(c.oip('ModelMetadata', { name: 'price' })), grpc.status.UNAUTHENTICATED);
  assert.is(await statusOf(c.domain('Predict', { symbol: 'AAA' }, { metadata: bearer(TOKEN) })), 'OK');
  assert.is(await statusOf(c.oip('ModelMetadata', { name: 'price' }, { metadata: bearer(TOKEN) })), 'OK');
  assert.is((await c.health<{ status: number }>('Check', { service: '' })).status, 1, 'health needs no token');
  c.close();
});

t('GRPC_TLS_CERT/KEY: the server speaks TLS; plaintext clients cannot call it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  const cert = readFileSync(path.join(dir, 'cert.pem'));
  const s = await serve(true, { tls: { cert, key: readFileSync(path.join(dir, 'key.pem')) } });
  const secure = clients(s.grpc.port, grpc.credentials.createSsl(cert), { 'grpc.ssl_target_name_override': 'localhost' });
  assert.is(await statusOf(secure.domain('Predict', { symbol: 'AAA' })), 'OK');
  const plain = clients(s.grpc.port);
  assert.is(await statusOf(plain.domain('Predict', { symbol: 'AAA' }, { deadlineMs: 3_000 })), grpc.status.UNAVAILABLE);
  secure.close();
  plain.close();
});

t.after(async () => {
  for (const s of stacks) await s.close();
  for (const h of mongos) {
    await h.db.dropDatabase().catch(() => {});
    await h.close();
  }
});

t.run();
