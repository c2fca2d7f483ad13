/**
 * The predictor's gRPC surface against models loaded from the real registry (MongoDB):
 * - grpcurl, with no .proto files, lists the services through reflection and calls Predict;
 * - the real Triton client (tritonclient[grpc], Python) calls the Open Inference Protocol and
 *   gets the same numbers as the domain API;
 * - typed and raw tensor contents give the same answer; malformed tensors get the right status;
 * - the domain API: Predict (symbol / explicit features), PredictBatch, StreamPredictions,
 *   AnalyzeSentiment, GetModel, ListModels and their error statuses.
 */
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { connectMongo, type MongoHandle } from '@stock-mlops/platform';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { suite } from '../harness/index.ts';
import { requireInfra, uniqueId } from '../support/stack.ts';
import { featureSeries, LOOKBACK, N_FEATURES, promote, randomPriceModel, sentimentArtifacts, startServing, type ServingStack } from '../support/predictor/fixtures.ts';
import { clients, statusOf, type Clients } from '../support/predictor/grpc_client.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
// Asynchronous on purpose: the server under test runs in this process.
const exec = async (cmd: string, args: string[], timeout = 60_000) => (await promisify(execFile)(cmd, args, { encoding: 'utf8', timeout, cwd: tmpdir() })).stdout;
const ctx: { mongo?: MongoHandle; s?: ServingStack; c?: Clients } = {};
const t = suite('predictor gRPC: domain API, Open Inference Protocol, reflection', { timeoutMs: 120_000 });
const TEXTS = ['profit beats expectations and shares rose', 'stock plunges after weak guidance', 'board names new director'];

type Pred = { symbol: string; predictedReturn: number; predictedPrice: number; modelName: string; modelVersion: number; asOf: string; featureSchemaHash: string; latencyMs: number };

t.before(async () => {
  const { MONGO_URL } = requireInfra();
  ctx.mongo = await connectMongo(MONGO_URL, uniqueId('pp'), pino({ level: 'silent' }));
  const store = new ModelStore(ctx.mongo.db);
  await store.ensureIndexes();
  await promote(store, 'price', await (await randomPriceModel(11)).serialize());
  await promote(store, 'sentiment', sentimentArtifacts());
  ctx.s = await startServing(ctx.mongo.db);
  for (const fv of [...featureSeries('AAA', 30, 1), ...featureSeries('BBB', 30, 2)]) ctx.s.core.remember(fv);
  ctx.c = clients(ctx.s.grpc.port);
});

t.after(async () => {
  ctx.c?.close();
  await ctx.s?.close();
  await ctx.mongo?.db.dropDatabase().catch(() => {});
  await ctx.mongo?.close();
});

const close = (a: number, b: number, rel = 1e-5) => Math.abs(a - b) <= rel * Math.max(1e-6, Math.abs(a), Math.abs(b));

t('grpcurl lists the services through reflection (no .proto files) and calls Predict and the health check', async () => {
  const bin = (await exec('bash', [path.join(ROOT, 'services/predictor/tools/install-grpcurl.sh')], 600_000)).trim().split('\n').at(-1)!;
  const addr = `127.0.0.1:${ctx.s!.grpc.port}`;
  const run = (...args: string[]) => exec(bin, ['-plaintext', ...args]);
  const services = (await run(addr, 'list')).trim().split('\n').sort();
  for (const s of ['grpc.health.v1.Health', 'inference.GRPCInferenceService', 'stockmlops.v1.PredictionService']) assert.ok(services.includes(s), `reflection lists ${s} (got ${services.join(', ')})`);
  const methods = await run(addr, 'list', 'stockmlops.v1.PredictionService');
  for (const m of ['Predict', 'PredictBatch', 'StreamPredictions', 'AnalyzeSentiment', 'GetModel', 'ListModels']) assert.ok(methods.includes(`stockmlops.v1.PredictionService.${m}`), m);
  assert.match(await run(addr, 'describe', 'inference.ModelInferRequest'), /raw_input_contents/);

  // grpcurl prints the proto field names (snake_case).
  const viaGrpcurl = JSON.parse(await run('-d', '{"symbol":"AAA"}', addr, 'stockmlops.v1.PredictionService/Predict')) as { prediction: { symbol: string; model_name: string; predicted_return: number } };
  const direct = await ctx.c!.domain<{ prediction: Pred }>('Predict', { symbol: 'AAA' });
  assert.is(viaGrpcurl.prediction.symbol, 'AAA');
  assert.is(viaGrpcurl.prediction.model_name, 'price');
  assert.ok(close(viaGrpcurl.prediction.predicted_return, direct.prediction.predictedReturn, 1e-12), 'grpcurl and the TypeScript client get the same prediction');
  assert.ok(Math.abs(direct.prediction.predictedReturn) > 1e-9, 'a non-trivial prediction');
  const health = JSON.parse(await run('-d', '{"service":"inference.GRPCInferenceService"}', addr, 'grpc.health.v1.Health/Check')) as { status: string };
  assert.is(health.status, 'SERVING');
}, { timeoutMs: 600_000 }); // a fresh machine builds grpcurl first (.ci/run does it up front)

t('tritonclient (Python) ModelInfer gives the same numbers as the domain API, for both models', async () => {
  const { core } = ctx.s!;
  const m = core.requireModel();
  const windows = ['AAA', 'BBB'].map((s) => core.history.windowFor(s, m.spec)!);
  const dir = mkdtempSync(path.join(tmpdir(), 'oip-'));
  writeFileSync(path.join(dir, 'req.json'), JSON.stringify({ windows, texts: TEXTS }));
  const out = JSON.parse(await exec('python3', [path.join(ROOT, 'test/python/oip_client.py'), `127.0.0.1:${ctx.s!.grpc.port}`, path.join(dir, 'req.json')])) as {
    live: boolean;
    ready: boolean;
    price_ready: boolean;
    server: { name: string };
    price_metadata: { inputs: Array<{ name: string; datatype: string; shape: Array<string | number> }>; outputs: Array<{ name: string; datatype: string; shape: Array<string | number> }>; versions: string[] };
    sentiment_metadata: { inputs: Array<{ name: string; datatype: string }>; outputs: Array<{ name: string; datatype: string; shape: Array<string | number> }> };
    price: { shape: number[]; dtype: string; values: number[]; model_version: string; id: string };
    sentiment: { shape: number[]; probabilities: number[][]; labels: string[] };
    errors: Record<string, string>;
  };
  assert.ok(out.live && out.ready && out.price_ready);
  assert.is(out.server.name, 'stock-mlops-predictor');
  const pin = out.price_metadata.inputs[0]!;
  assert.equal([pin.name, pin.datatype, pin.shape.map(Number)], ['features', 'FP32', [-1, LOOKBACK, N_FEATURES]]);
  const pout = out.price_metadata.outputs[0]!;
  assert.equal([pout.name, pout.datatype, pout.shape.map(Number)], ['predicted_return', 'FP32', [-1, 1]]);
  assert.equal(out.sentiment_metadata.inputs.map((i) => [i.name, i.datatype]), [['text', 'BYTES']]);
  assert.equal(out.sentiment_metadata.outputs.map((o) => [o.name, o.datatype, o.shape.map(Number)]), [['probabilities', 'FP32', [-1, 3]], ['label', 'BYTES', [-1]]]);

  const domain = await ctx.c!.domain<{ responses: Array<{ prediction: Pred }> }>('PredictBatch', { requests: [{ symbol: 'AAA' }, { symbol: 'BBB' }] });
  assert.equal(out.price.shape, [2, 1]);
  assert.is(out.price.dtype, 'float32');
  assert.is(out.price.model_version, String(m.ref.version));
  assert.is(out.price.id, 'py-1');
  domain.responses.forEach((r, i) => {
    assert.ok(close(out.price.values[i]!, r.prediction.predictedReturn), `${r.prediction.symbol}: OIP ${out.price.values[i]} vs domain ${r.prediction.predictedReturn}`);
  });
  assert.ok(!close(out.price.values[0]!, out.price.values[1]!), 'the two windows give different answers (the comparison is not vacuous)');

  const sent = await ctx.c!.domain<{ results: Array<{ label: string; negative: number; neutral: number; positive: number }>; modelName: string }>('AnalyzeSentiment', { texts: TEXTS });
  assert.equal(out.sentiment.shape, [3, 3]);
  assert.equal(out.sentiment.labels, sent.results.map((r) => r.label));
  sent.results.forEach((r, i) => {
    const p = out.sentiment.probabilities[i]!;
    assert.ok(close(p[0]!, r.negative) && close(p[1]!, r.neutral) && close(p[2]!, r.positive), `text ${i}: ${p.join(',')} vs ${r.negative},${r.neutral},${r.positive}`);
  });

  assert.match(out.errors.unknown_model!, /NOT_FOUND/);
  assert.match(out.errors.unknown_model_metadata!, /NOT_FOUND/);
  assert.match(out.errors.wrong_version!, /NOT_FOUND/);
  assert.match(out.errors.bad_shape!, /INVALID_ARGUMENT/);
  assert.match(out.errors.bad_dtype!, /INVALID_ARGUMENT/);
});

t('ModelInfer: typed contents and little-endian raw contents give the same answer; malformed tensors are INVALID_ARGUMENT', async () => {
  const { core } = ctx.s!;
  const w = core.history.windowFor('AAA', core.requireModel().spec)!;
  const flat = w.flat();
  const raw = Buffer.alloc(flat.length * 4);
  flat.forEach((x, i) => raw.writeFloatLE(x, i * 4));
  const input = { name: 'features', datatype: 'FP32', shape: [1, LOOKBACK, N_FEATURES] };
  type Res = { outputs: Array<{ name: string; shape: number[]; contents: { fp32Contents: number[] } | null }>; rawOutputContents: Buffer[]; modelName: string; id: string };
  const typed = await ctx.c!.oip<Res>('ModelInfer', { modelName: 'price', id: 'typed', inputs: [{ ...input, contents: { fp32Contents: flat } }] });
  const rawRes = await ctx.c!.oip<Res>('ModelInfer', { modelName: 'price', inputs: [input], rawInputContents: [raw] });
  assert.is(typed.id, 'typed');
  assert.is(typed.rawOutputContents.length, 0, 'typed request → typed response');
  assert.is(rawRes.outputs[0]!.contents, null, 'raw request → raw response');
  const typedValue = typed.outputs[0]!.contents!.fp32Contents[0]!;
  const rawValue = rawRes.rawOutputContents[0]!.readFloatLE(0);
  assert.is(typedValue, rawValue);
  const direct = await ctx.c!.domain<{ prediction: Pred }>('Predict', { symbol: 'AAA' });
  assert.ok(close(rawValue, direct.prediction.predictedReturn));

  const bad = (req: Record<string, unknown>) => statusOf(ctx.c!.oip('ModelInfer', { modelName: 'price', ...req }));
  const INVALID = grpc.status.INVALID_ARGUMENT;
  assert.is(await bad({ inputs: [input], rawInputContents: [raw.subarray(4)] }), INVALID, 'raw content of the wrong size');
  assert.is(await bad({ inputs: [{ ...input, contents: { fp32Contents: flat } }], rawInputContents: [raw] }), INVALID, 'raw and typed contents together');
  assert.is(await bad({ inputs: [{ ...input, contents: { fp32Contents: flat.slice(1) } }] }), INVALID, 'too few typed values');
  assert.is(await bad({ inputs: [{ ...input, name: 'x' }], rawInputContents: [raw] }), INVALID, 'unknown input name');
  assert.is(await bad({ inputs: [input, input], rawInputContents: [raw, raw] }), INVALID, 'two inputs');
  assert.is(await bad({ inputs: [{ ...input, shape: [0, LOOKBACK, N_FEATURES] }], rawInputContents: [Buffer.alloc(0)] }), INVALID, 'empty batch');
  assert.is(await bad({ inputs: [input], rawInputContents: [raw], outputs: [{ name: 'nope' }] }), INVALID, 'unknown requested output');
  const nan = Buffer.from(raw);
  nan.writeFloatLE(Number.NaN, 0);
  assert.is(await bad({ inputs: [input], rawInputContents: [nan] }), INVALID, 'NaN input');
  assert.is(await statusOf(ctx.c!.oip('ModelInfer', { modelName: 'sentiment', inputs: [{ name: 'text', datatype: 'BYTES', shape: [1] }], rawInputContents: [Buffer.from([5, 0, 0, 0, 65])] })), INVALID, 'BYTES element overrunning the content');
  const ready = await ctx.c!.oip<{ ready: boolean }>('ModelReady', { name: 'price', version: '999' });
  assert.is(ready.ready, false, 'a version that is not served is not ready');
  assert.is(await statusOf(ctx.c!.oip('ModelReady', { name: 'nope' })), grpc.status.NOT_FOUND);
});

t('domain API: Predict by symbol or explicit features, PredictBatch, StreamPredictions filtered by symbol', async () => {
  const { core } = ctx.s!;
  const { domain } = ctx.c!;
  const p = (await domain<{ prediction: Pred }>('Predict', { symbol: 'AAA' })).prediction;
  assert.is(p.asOf, featureSeries('AAA', 30, 1).at(-1)!.ts, 'as-of = event time of the newest features');
  assert.is(p.modelVersion, core.requireModel().ref.version);
  assert.is(p.featureSchemaHash, core.requireModel().spec.schemaHash);
  assert.ok(p.latencyMs >= 0 && p.latencyMs < 10_000);
  assert.ok(close(p.predictedPrice, 129 * (1 + p.predictedReturn), 1e-12));
  const explicit = (await domain<{ prediction: Pred }>('Predict', { symbol: 'AAA', features: [0.5, -0.5, 0.25, 0] })).prediction;
  assert.ok(explicit.predictedReturn !== p.predictedReturn, 'explicit features change the answer');

  assert.is(await statusOf(domain('Predict', { symbol: 'ZZZ' })), grpc.status.NOT_FOUND, 'unknown symbol');
  assert.is(await statusOf(domain('Predict', { symbol: '' })), grpc.status.INVALID_ARGUMENT);
  assert.is(await statusOf(domain('Predict', { symbol: 'AAA', features: [1, 2] })), grpc.status.INVALID_ARGUMENT, 'wrong feature count');
  assert.is(await statusOf(domain('PredictBatch', { requests: [] })), grpc.status.INVALID_ARGUMENT);
  assert.is(await statusOf(domain('PredictBatch', { requests: [{ symbol: 'AAA' }, { symbol: 'AAA', features: [Number.NaN, 0, 0, 0] }] })), grpc.status.INVALID_ARGUMENT, 'a malformed request fails the whole batch');

  const stream = ctx.c!.raw.domain as unknown as { StreamPredictions: (req: unknown) => grpc.ClientReadableStream<Pred> };
  const call = stream.StreamPredictions({ symbols: ['BBB'] });
  const got: Pred[] = [];
  call.on('data', (d: Pred) => got.push(d));
  call.on('error', () => {});
  await new Promise((r) => setTimeout(r, 300));
  const base = core.requireModel().toPrediction({ symbol: 'AAA', interval: '1d', asOf: '2024-03-01T00:00:00.000Z', lastClose: 1 }, 0.01, 1);
  core.onPrediction(base);
  core.onPrediction({ ...base, symbol: 'BBB' });
  core.onPrediction({ ...base, symbol: 'BBB', asOf: '2024-03-02T00:00:00.000Z' });
  const deadline = Date.now() + 5_000;
  while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  call.cancel();
  assert.equal(got.map((g) => [g.symbol, g.asOf]), [['BBB', '2024-03-01T00:00:00.000Z'], ['BBB', '2024-03-02T00:00:00.000Z']]);
});

t('domain API: PredictBatch answers per item: an unknown or not-yet-ready symbol gets its own status, the rest are answered', async () => {
  const { core } = ctx.s!;
  const { domain } = ctx.c!;
  for (const fv of featureSeries('CCC', LOOKBACK - 1, 3)) core.remember(fv);
  // A oneof member that is not set is absent (no default), and `result` names the one that is.
  type Item = { result: string; prediction?: Pred; error?: { code: string; message: string; status: string } };
  const r = await domain<{ responses: Item[] }>('PredictBatch', {
    requests: [{ symbol: 'AAA' }, { symbol: 'GOOG' }, { symbol: 'CCC' }, { symbol: 'AAA', features: [1, 2] }, { symbol: 'BBB' }],
  });
  assert.equal(r.responses.map((x) => x.result), ['prediction', 'error', 'error', 'error', 'prediction'], 'one response per request, in order');
  const single = (await domain<{ prediction: Pred }>('Predict', { symbol: 'AAA' })).prediction;
  assert.is(r.responses[0]!.prediction!.predictedReturn, single.predictedReturn, 'the answerable items are answered as Predict would');
  assert.is(r.responses[4]!.prediction!.symbol, 'BBB');
  assert.equal(
    r.responses.slice(1, 4).map((x) => ['prediction' in x, x.error!.code, x.error!.status]),
    [
      [false, 'E_UNKNOWN_SYMBOL', 'NOT_FOUND'],
      [false, 'E_SYMBOL_NOT_READY', 'NOT_FOUND'],
      [false, 'E_INVALID_ARGUMENT', 'INVALID_ARGUMENT'],
    ],
  );
  assert.match(r.responses[1]!.error!.message, /GOOG/);
  assert.match(r.responses[2]!.error!.message, new RegExp(`CCC has fewer than the ${LOOKBACK} feature vectors`));
  // Predict on its own still fails the call with the same status and code.
  const err = await domain('Predict', { symbol: 'CCC' }).catch((e: grpc.ServiceError) => e);
  assert.is((err as grpc.ServiceError).code, grpc.status.NOT_FOUND);
  assert.match((err as grpc.ServiceError).details, /^E_SYMBOL_NOT_READY: /);
  // Every item unanswerable: still an answer, not a failed call.
  const none = await domain<{ responses: Item[] }>('PredictBatch', { requests: [{ symbol: 'ZZZ' }, { symbol: 'YYY' }] });
  assert.equal(none.responses.map((x) => x.error?.code), ['E_UNKNOWN_SYMBOL', 'E_UNKNOWN_SYMBOL']);
});

t('domain API: AnalyzeSentiment, GetModel and ListModels', async () => {
  const { domain } = ctx.c!;
  const r = await domain<{ results: Array<{ label: string; negative: number; neutral: number; positive: number; score: number }>; modelName: string; modelVersion: number; featureSchemaHash: string }>('AnalyzeSentiment', { texts: TEXTS });
  assert.is(r.modelName, 'sentiment');
  assert.is(r.modelVersion, 1);
  assert.is(r.results.length, 3);
  for (const x of r.results) {
    assert.ok(Math.abs(x.negative + x.neutral + x.positive - 1) < 1e-4);
    assert.ok(close(x.score, x.positive - x.negative, 1e-9));
  }
  assert.is(await statusOf(domain('AnalyzeSentiment', { texts: [] })), grpc.status.INVALID_ARGUMENT);
  assert.is(await statusOf(domain('AnalyzeSentiment', { texts: ['x'.repeat(10_001)] })), grpc.status.INVALID_ARGUMENT);

  const m = await domain<{ name: string; version: number; serving: boolean; aliases: string[]; status: string; kind: string }>('GetModel', { name: 'price' });
  assert.equal([m.name, m.version, m.serving, m.aliases, m.status, m.kind], ['price', 1, true, ['production'], 'production', 'model']);
  const list = await domain<{ models: Array<{ name: string; version: number; serving: boolean; kind: string }> }>('ListModels', {});
  assert.equal(list.models.map((x) => [x.name, x.version, x.serving, x.kind]), [['price', 1, true, 'model'], ['sentiment', 1, true, 'model']]);
  assert.is(await statusOf(domain('GetModel', { name: 'price', version: 42 })), grpc.status.NOT_FOUND);
  assert.is(await statusOf(domain('GetModel', { name: 'nope' })), grpc.status.NOT_FOUND);
  assert.is(await statusOf(domain('ListModels', { name: '$where' })), grpc.status.INVALID_ARGUMENT);
});

t.run();
