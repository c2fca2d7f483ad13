import * as assert from 'uvu/assert';
import { ServingPriceModel } from '@stock-mlops/ml/inference/predictor';
import { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { createPriceInference } from '@stock-mlops/ml/inference/price_inference';
import { SymbolOwnership } from '../../../services/predictor/src/ownership.ts';
import { suite } from '../../harness/index.ts';
import { featureSeries, LOOKBACK, randomPriceModel } from '../../support/predictor/fixtures.ts';

const t = suite('predictor: Predict answers from the shared prediction stream, not from a stale history');

/** Two replicas of the core with the same model; the stream's predictions reach both. */
async function replicas() {
  const inference = createPriceInference({ maxBatch: 8, maxDelayMs: 0, maxQueue: 100 });
  const model = await randomPriceModel(4);
  const make = () => {
    const core = new PredictorCore(inference.run);
    core.swap(new ServingPriceModel({ name: 'price', version: 4 }, model));
    return core;
  };
  return { a: make(), b: make(), close: () => inference.close() };
}

t('the owner moved on, the other replica kept an old window: both answer the newest streamed prediction', async () => {
  const { a, b, close } = await replicas();
  try {
    const series = featureSeries('AAA', LOOKBACK + 6, 5);
    // b owned AAA for a while (its history stops there), then the partition moved to a.
    const early = series.slice(0, LOOKBACK + 1);
    await b.onFeatures(early);
    a.history.replace('AAA', early);
    const { predictions } = await a.onFeatures(series.slice(LOOKBACK + 1));
    const newest = predictions.at(-1)!;
    for (const p of predictions) [a, b].forEach((c) => c.onPrediction(p));
    const [fromA] = await a.predict([{ symbol: 'AAA' }]);
    const [fromB] = await b.predict([{ symbol: 'AAA' }]);
    assert.equal(fromA, newest);
    assert.equal(fromB, newest, 'the stale replica does not cut a window from its old history');
    const each = await b.predictEach([{ symbol: 'AAA' }]);
    assert.equal(each, [{ prediction: newest }], 'PredictBatch too');
  } finally {
    close();
  }
});

t('after a hot swap, before the stream has a prediction of the new version, Predict runs the new model on the history', async () => {
  const { a, close } = await replicas();
  try {
    const series = featureSeries('BBB', LOOKBACK + 1, 6);
    const { predictions } = await a.onFeatures(series);
    a.onPrediction(predictions.at(-1)!);
    a.swap(new ServingPriceModel({ name: 'price', version: 5 }, await randomPriceModel(5)));
    const [p] = await a.predict([{ symbol: 'BBB' }]);
    assert.is(p!.model.version, 5);
    assert.is(p!.asOf, series.at(-1)!.ts);
    // Without a history (the symbol moved away and was dropped) the stream's prediction answers.
    a.history.drop('BBB');
    const [q] = await a.predict([{ symbol: 'BBB' }]);
    assert.is(q!.model.version, 4);
  } finally {
    close();
  }
});

t('newer features than the streamed prediction (the stream lags): the owner predicts from them', async () => {
  const { a, close } = await replicas();
  try {
    const series = featureSeries('CCC', LOOKBACK + 2, 7);
    const { predictions } = await a.onFeatures(series);
    a.onPrediction(predictions[0]!);
    const [p] = await a.predict([{ symbol: 'CCC' }]);
    assert.is(p!.asOf, series.at(-1)!.ts);
    assert.is.not(p!.asOf, predictions[0]!.asOf);
  } finally {
    close();
  }
});

t('ownership: a rebalance names the symbols whose partition left, once', () => {
  const o = new SymbolOwnership();
  o.seen('AAA', 0);
  o.seen('BBB', 1);
  o.seen('CCC', 2);
  o.seen('AAA', 3);
  assert.equal(o.assigned([1, 3]).sort(), ['CCC']);
  assert.equal(o.assigned([]).sort(), ['AAA', 'BBB']);
  assert.equal(o.assigned([]), []);
});

t.run();
