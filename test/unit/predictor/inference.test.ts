import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import {
  bytesRaw,
  checkShape,
  decodeTexts,
  fp32Raw,
  priceSignature,
  readBytes,
  readFp32,
  sentimentSignature,
  toWindows,
  type WireInput,
} from '@stock-mlops/ml/inference/oip';
import { PricePrediction } from '@stock-mlops/contracts';
import { runPriceJobs, ServingPriceModel } from '@stock-mlops/ml/inference/predictor';
import { newsText, PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { createPriceInference } from '@stock-mlops/ml/inference/price_inference';
import { featureSeries, LOOKBACK, N_FEATURES, randomPriceModel } from '../../support/predictor/fixtures.ts';

const t = suite('predictor inference: OIP tensors, price jobs, core');
const input = (over: Partial<WireInput> = {}): WireInput => ({ name: 'features', datatype: 'FP32', shape: [2, 3, 2], contents: null, ...over });
const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return 'none';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

t('FP32 tensors: raw little-endian and typed contents decode to the same row-major windows', () => {
  const values = Array.from({ length: 12 }, (_, i) => i / 4 - 1);
  const meta = priceSignature(3, 2).inputs[0]!;
  const shape = checkShape(input(), meta, 1000);
  const fromRaw = readFp32(input(), shape, fp32Raw(values));
  const fromTyped = readFp32(input({ contents: { fp32Contents: values } }), shape, undefined);
  assert.equal(Array.from(fromRaw), values);
  assert.equal(Array.from(fromTyped), values);
  assert.equal(toWindows(fromRaw, shape)[1], [[0.5, 0.75], [1, 1.25], [1.5, 1.75]]);
  const le = fp32Raw([1]);
  assert.equal([...le], [0, 0, 0x80, 0x3f], 'little-endian IEEE-754');
});

t('shape, datatype, size and element-limit violations are E_INVALID_TENSOR', () => {
  const meta = priceSignature(3, 2).inputs[0]!;
  assert.is(codeOf(() => checkShape(input({ datatype: 'FP64' }), meta, 1000)), 'E_INVALID_TENSOR');
  assert.is(codeOf(() => checkShape(input({ shape: [2, 3] }), meta, 1000)), 'E_INVALID_TENSOR');
  assert.is(codeOf(() => checkShape(input({ shape: [2, 4, 2] }), meta, 1000)), 'E_INVALID_TENSOR');
  assert.is(codeOf(() => checkShape(input({ shape: [0, 3, 2] }), meta, 1000)), 'E_INVALID_TENSOR');
  assert.is(codeOf(() => checkShape(input({ shape: [-1, 3, 2] }), meta, 1000)), 'E_INVALID_TENSOR');
  assert.is(codeOf(() => checkShape(input({ shape: [1000, 3, 2] }), meta, 1000)), 'E_INVALID_TENSOR');
  assert.equal(checkShape(input({ shape: ['2', '3', '2'] }), meta, 1000), [2, 3, 2], 'int64 dims may arrive as strings');
  assert.is(codeOf(() => readFp32(input(), [2, 3, 2], Buffer.alloc(47))), 'E_INVALID_TENSOR');
  assert.is(codeOf(() => readFp32(input({ contents: { fp32Contents: [1] } }), [2, 3, 2], undefined)), 'E_INVALID_TENSOR');
});

t('BYTES tensors: 4-byte length-prefixed raw elements round-trip; overruns and bad UTF-8 are refused', () => {
  const meta = sentimentSignature(3).inputs[0]!;
  const texts = ['good', '', 'Ünïcødé ✓'];
  const items = texts.map((x) => Buffer.from(x));
  const inp = { name: 'text', datatype: 'BYTES', shape: [3], contents: null };
  const shape = checkShape(inp, meta, 100);
  assert.equal(decodeTexts(readBytes(inp, shape, bytesRaw(items)), 'text'), texts);
  assert.equal(decodeTexts(readBytes({ ...inp, contents: { bytesContents: items } }, shape, undefined), 'text'), texts);
  assert.is(codeOf(() => readBytes(inp, shape, Buffer.from([9, 0, 0, 0, 1]))), 'E_INVALID_TENSOR');
  assert.is(codeOf(() => readBytes(inp, shape, bytesRaw(items.slice(0, 2)))), 'E_INVALID_TENSOR');
  assert.is(codeOf(() => decodeTexts([Buffer.from([0xff, 0xfe])], 'text')), 'E_INVALID_TENSOR');
});

t('price jobs are grouped by the model they were admitted under: one model call per version, answers in order', async () => {
  const a = new ServingPriceModel({ name: 'price', version: 1 }, await randomPriceModel(1));
  const b = new ServingPriceModel({ name: 'price', version: 2 }, await randomPriceModel(2));
  const w = featureSeries('X', LOOKBACK, 9).map((f) => f.values);
  const direct = [a.predictReturns([w])[0]!, b.predictReturns([w])[0]!];
  assert.ok(direct[0] !== direct[1]);
  const calls: number[] = [];
  for (const m of [a, b]) {
    const orig = m.predictReturns.bind(m);
    m.predictReturns = (ws) => (calls.push(m.ref.version), orig(ws));
  }
  const out = runPriceJobs([{ model: a, window: w }, { model: b, window: w }, { model: a, window: w }]);
  assert.equal(out, [direct[0], direct[1], direct[0]]);
  assert.equal(calls, [1, 2]);
});

t('a retired model is freed only after the batches holding it are done', async () => {
  const m = new ServingPriceModel({ name: 'price', version: 1 }, await randomPriceModel(3));
  const w = featureSeries('X', LOOKBACK, 9).map((f) => f.values);
  m.retain();
  m.retire();
  assert.ok(Number.isFinite(m.predictReturns([w])[0]), 'still usable while held');
  m.release();
  assert.is(codeOf(() => m.predictReturns([w])), 'E_MODEL_DISPOSED');
});

t('core: Predict falls back to the latest streamed prediction for a symbol without history; stream path predicts full windows only', async () => {
  const inference = createPriceInference({ maxBatch: 8, maxDelayMs: 0, maxQueue: 100 });
  const core = new PredictorCore(inference.run);
  core.swap(new ServingPriceModel({ name: 'price', version: 4 }, await randomPriceModel(4)));
  const series = featureSeries('AAA', LOOKBACK + 2, 5);
  const { predictions, rejected } = await core.onFeatures(series);
  assert.equal(predictions.map((p) => p.asOf), series.slice(LOOKBACK - 1).map((f) => f.ts));
  assert.is(rejected.length, 0);
  const other = { ...predictions[0]!, symbol: 'ZZZ' };
  core.onPrediction(other);
  const [fallback] = await core.predict([{ symbol: 'ZZZ' }]);
  assert.equal(fallback, other);
  const bad = await core.onFeatures([{ ...series[0]!, ts: '2030-01-01T00:00:00.000Z', schemaHash: 'ab'.repeat(8) }]);
  assert.is(bad.rejected[0]?.code, 'E_SCHEMA_MISMATCH', 'features of another schema are rejected, not predicted');
  assert.is(newsText({ title: 'T', summary: 'S' }), 'T. S');
  assert.is(N_FEATURES, series[0]!.values.length);
  inference.close();
});

t('core: a prediction made from synthetic features is marked synthetic (stream, Predict, PredictBatch, the contract); market data carries no field', async () => {
  const inference = createPriceInference({ maxBatch: 8, maxDelayMs: 0, maxQueue: 100 });
  const core = new PredictorCore(inference.run);
  core.swap(new ServingPriceModel({ name: 'price', version: 4 }, await randomPriceModel(4)));
  const market = featureSeries('MKT', LOOKBACK + 1, 5);
  // A replayed history continued by generated bars: the last two vectors are synthetic.
  const mixed = featureSeries('SYN', LOOKBACK + 2, 6).map((f, i) => (i >= LOOKBACK ? { ...f, synthetic: true as const } : f));
  const { predictions } = await core.onFeatures([...market, ...mixed]);
  const bySymbol = (s: string) => predictions.filter((p) => p.symbol === s);
  assert.equal(bySymbol('MKT').map((p) => 'synthetic' in p), [false, false], 'market predictions have no synthetic field');
  assert.equal(bySymbol('SYN').map((p) => [p.asOf, p.synthetic]), [
    [mixed[LOOKBACK - 1]!.ts, undefined],
    [mixed[LOOKBACK]!.ts, true],
    [mixed[LOOKBACK + 1]!.ts, true],
  ], 'the mark follows the newest feature vector of the window');
  assert.ok(!('synthetic' in bySymbol('SYN')[0]!), 'absent, not false');
  for (const p of predictions) assert.ok(PricePrediction.safeParse(p).success, 'every prediction fits the contract');
  assert.is(PricePrediction.safeParse({ ...bySymbol('MKT')[0]!, synthetic: false }).success, false, 'the contract accepts only true');
  const [syn, mkt] = await core.predict([{ symbol: 'SYN' }, { symbol: 'MKT' }]);
  assert.is(syn!.synthetic, true, 'Predict from synthetic history');
  assert.ok(!('synthetic' in mkt!), 'Predict from market history');
  const explicit = await core.predict([{ symbol: 'SYN', features: mixed.at(-1)!.values }]);
  assert.is(explicit[0]!.synthetic, true, 'explicit features on a synthetic newest bar');
  const each = await core.predictEach([{ symbol: 'SYN' }, { symbol: 'MKT' }]);
  assert.equal(each.map((o) => ('prediction' in o ? o.prediction.synthetic ?? 'market' : 'error')), [true, 'market']);
  inference.close();
});

t.run();
