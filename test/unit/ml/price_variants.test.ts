/**
 * Price versions that are not trained (models/price_variants.ts): the persistence forecast as MLP
 * weights predicts the as-of bar's ret_1, through the artifact round trip and the serving wrapper
 * the predictor uses; a rescaled copy predicts factor × the original; the zero-return baseline
 * predicts exactly 0 for every window. Windows are real AAPL
 * feature rows computed by the transformer's code.
 */
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from '../../harness/index.ts';
import { initTf } from '@stock-mlops/ml/tf';
import { PriceModel } from '@stock-mlops/ml/models/price_predictor';
import { persistencePriceModel, rescaledPriceArtifacts, zeroReturnPriceModel } from '@stock-mlops/ml/models/price_variants';
import { ServingPriceModel } from '@stock-mlops/ml/inference/predictor';
import { featureRowsFromBars, parsePriceCsv, PRICE_FEATURE_SCHEMA } from '@stock-mlops/ml/training/price_csv';

const t = suite('ml price variants: persistence as a model version, rescaled copies', { timeoutMs: 60_000 });
const ROOT = path.resolve(import.meta.dirname, '../../..');
const names = [...PRICE_FEATURE_SCHEMA.names];
const RET_1 = names.indexOf('ret_1');
const LOOKBACK = 20;

function windows(n: number): number[][][] {
  const { bars } = parsePriceCsv(readFileSync(path.join(ROOT, 'data/prices/AAPL.csv'), 'utf8'), 'AAPL');
  const rows = featureRowsFromBars(bars.slice(-400)).rows;
  return Array.from({ length: n }, (_, i) => rows.slice(i, i + LOOKBACK).map((r) => [...r.vector]));
}

t('the persistence model predicts the as-of ret_1, also after serialize/deserialize and in the serving wrapper', async () => {
  const { tf } = await initTf();
  const model = persistencePriceModel(tf, { names, featureSchemaHash: PRICE_FEATURE_SCHEMA.hash, lookback: LOOKBACK });
  const w = windows(200);
  const want = w.map((x) => x.at(-1)![RET_1]!);
  assert.ok(want.some((r) => r > 0.01) && want.some((r) => r < -0.01), 'the windows hold real moves both ways');
  const got = model.predict(w);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-6, `#${i}: ${g} vs ret_1 ${want[i]}`));
  const again = await PriceModel.deserialize(tf, await model.serialize());
  const serving = new ServingPriceModel({ name: 'price', version: 1 }, again);
  await serving.warmup();
  const served = serving.predictReturns(w);
  served.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-6, `served #${i}: ${g} vs ret_1 ${want[i]}`));
  assert.is(again.meta.featureSchemaHash, PRICE_FEATURE_SCHEMA.hash);
  assert.is(again.meta.config.lookback, LOOKBACK);
  model.dispose();
  serving.retire();
});

t('a schema without the feature, or a bad scale, is refused with a code', async () => {
  const { tf } = await initTf();
  assert.throws(() => persistencePriceModel(tf, { names: ['a', 'b'], featureSchemaHash: 'x' }), (e: { code?: string }) => e.code === 'E_INPUT_SHAPE');
  assert.throws(() => persistencePriceModel(tf, { names, featureSchemaHash: 'x', scale: 0 }), (e: { code?: string }) => e.code === 'E_INPUT_VALUE');
});

t('a rescaled copy predicts factor × the original; other artifacts and factors are refused', async () => {
  const { tf } = await initTf();
  const base = persistencePriceModel(tf, { names, featureSchemaHash: PRICE_FEATURE_SCHEMA.hash, lookback: LOOKBACK, scale: 0.1 });
  const artifacts = await base.serialize();
  const flipped = await PriceModel.deserialize(tf, rescaledPriceArtifacts(artifacts, -10));
  const w = windows(50);
  const a = base.predict(w);
  const b = flipped.predict(w);
  b.forEach((x, i) => assert.ok(Math.abs(x + 10 * a[i]!) < 1e-5, `#${i}: ${x} vs −10 × ${a[i]}`));
  assert.is((artifacts.json as { meta: { targetScale: number } }).meta.targetScale, 0.1, 'the original artifacts are untouched');
  assert.throws(() => rescaledPriceArtifacts({ json: { kind: 'other' }, weights: new Uint8Array() }, 2), (e: { code?: string }) => e.code === 'E_ARTIFACT');
  assert.throws(() => rescaledPriceArtifacts(artifacts, 0), (e: { code?: string }) => e.code === 'E_INPUT_VALUE');
  base.dispose();
  flipped.dispose();
});

t('the zero-return model predicts exactly 0 for every window, also after the round trip and in the serving wrapper', async () => {
  const { tf } = await initTf();
  const model = zeroReturnPriceModel(tf, { nFeatures: names.length, featureSchemaHash: PRICE_FEATURE_SCHEMA.hash, lookback: LOOKBACK });
  const w = windows(100);
  assert.ok(w.every((x) => x.length === LOOKBACK) && w.some((x) => x.at(-1)![RET_1] !== 0), 'real, non-zero windows');
  const got = model.predict(w);
  assert.is(got.length, w.length);
  got.forEach((g, i) => assert.ok(g === 0, `#${i}: ${g}`));
  const serving = new ServingPriceModel({ name: 'price', version: 1 }, await PriceModel.deserialize(tf, await model.serialize()));
  await serving.warmup();
  serving.predictReturns(w).forEach((g, i) => assert.ok(g === 0, `served #${i}: ${g}`));
  assert.throws(() => zeroReturnPriceModel(tf, { nFeatures: 0, featureSchemaHash: 'x' }), (e: { code?: string }) => e.code === 'E_INPUT_SHAPE');
  model.dispose();
  serving.retire();
});

t.run();
