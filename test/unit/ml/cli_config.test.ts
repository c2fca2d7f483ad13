/**
 * Training configuration as the CLIs and the trainer read it: every bundled config file
 * validates, overrides apply by dotted path, bad values are named, and the pooling setting picks
 * the models a price job trains.
 */
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { suite } from '../../harness/index.ts';
import { priceModelName } from '@stock-mlops/ml/ml_service';
import { loadPriceTrainConfig, loadSentimentTrainConfig } from '@stock-mlops/ml/training/config';
import { priceGroups } from '@stock-mlops/ml/training/jobs';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const DIR = path.join(ROOT, 'config/training');
const t = suite('training config and CLI settings');
const code = (c: string) => (e: { code?: string }) => e.code === c;

t('every bundled config file validates', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
  assert.ok(files.includes('price.json') && files.includes('sentiment.json'));
  for (const f of files) {
    const load = f.startsWith('sentiment') ? loadSentimentTrainConfig : loadPriceTrainConfig;
    assert.not.throws(() => load(path.join(DIR, f)), f);
  }
  // price.json states the defaults explicitly: it equals the schema defaults.
  assert.equal(loadPriceTrainConfig(path.join(DIR, 'price.json')), loadPriceTrainConfig());
});

t('overrides by dotted path; bad keys and values are named with E_CONFIG', () => {
  const c = loadPriceTrainConfig(path.join(DIR, 'price-smoke.json'), ['model.arch=gru', 'model.epochs=7', 'data.symbols=["MSFT"]', 'data.pooling=perSymbol']);
  assert.equal([c.model.arch, c.model.epochs, c.data.symbols, c.data.pooling, c.model.lookback], ['gru', 7, ['MSFT'], 'perSymbol', 10]);
  assert.throws(() => loadPriceTrainConfig(undefined, ['model.arch=transformer']), (e: Error & { code?: string }) => e.code === 'E_CONFIG' && /model\.arch/.test(e.message));
  assert.throws(() => loadPriceTrainConfig(undefined, ['model.unknown=1']), code('E_CONFIG'));
  assert.throws(() => loadPriceTrainConfig(undefined, ['no-equals-sign']), code('E_CONFIG'));
  assert.throws(() => loadPriceTrainConfig('/nonexistent.json'), code('E_CONFIG'));
  const s = loadSentimentTrainConfig(path.join(DIR, 'sentiment.json'), ['model.epochs=2', 'data.labelMap=neg=negative,pos=positive', 'seed=9']);
  assert.equal([s.model.epochs, s.data.labelMap, s.seed, s.gate.metric], [2, 'neg=negative,pos=positive', 9, 'macroF1']);
  assert.throws(() => loadSentimentTrainConfig(undefined, ['gate.metric=rmse']), code('E_CONFIG'));
  assert.throws(() => loadSentimentTrainConfig(undefined, ['data.testFraction=0.9']), code('E_CONFIG'));
});

t('pooling: one model over every symbol, or one model per symbol with its own registry name', () => {
  const rows = ['SPY', 'MSFT', 'SPY', '005930.KS'].map((symbol, i) => ({ symbol, ts: i, close: 1, vector: [0] }));
  assert.equal(priceGroups(loadPriceTrainConfig(), rows).map((g) => [g.model, g.rows.length]), [['price', 4]]);
  const per = priceGroups(loadPriceTrainConfig(undefined, ['data.pooling=perSymbol']), rows);
  assert.equal(per.map((g) => [g.model, g.rows.length]), [['price-005930-ks', 1], ['price-msft', 1], ['price-spy', 2]]);
  assert.is(priceModelName(), 'price');
  assert.ok(per.every((g) => /^[a-z0-9_-]{1,64}$/.test(g.model)), 'names the registry and gRPC accept');
});

t.run();
