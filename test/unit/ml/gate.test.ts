/**
 * Promotion gate: error metrics must go down, scores must go up, by the configured margins, vs
 * the baseline(s) and the production model. A deliberately bad price model (a large constant
 * output) or a constant sentiment model never passes.
 */
import * as assert from 'uvu/assert';
import path from 'node:path';
import { suite } from '../../harness/index.ts';
import { makeSupervised } from '@stock-mlops/ml/datasets/supervised';
import { decidePromotion, higherIsBetter, icTStat } from '@stock-mlops/ml/registry/gate';
import { priceGateRule } from '@stock-mlops/ml/ml_service';
import { GateConfig, SentimentGateConfig } from '@stock-mlops/ml/training/config';
import { classificationReport, majorityBaseline } from '@stock-mlops/ml/models/sentiment_analyzer_metrics';
import { loadPriceCsvRows } from '@stock-mlops/ml/training/price_csv';
import { evaluatePriceSamples } from '@stock-mlops/ml/training/train';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const t = suite('ml promotion gate');
/** One baseline, no IC floor: the error-metric rules alone. */
const gate = (over: Partial<GateConfig> = {}) => GateConfig.parse({ baseline: 'zero', minIcT: 0, ...over });

t('lower-is-better metrics: beats the baseline strictly, margins scale the threshold', () => {
  const base = { baselines: { zero: { rmse: 1 }, persistence: { rmse: 1.4 } } };
  assert.ok(decidePromotion(gate(), { candidate: { rmse: 0.99 }, ...base }).promote);
  assert.not.ok(decidePromotion(gate(), { candidate: { rmse: 1 }, ...base }).promote, 'a tie is not an improvement');
  assert.not.ok(decidePromotion(gate({ baselineMargin: 0.02 }), { candidate: { rmse: 0.99 }, ...base }).promote, 'needs 2 % better');
  assert.ok(decidePromotion(gate({ baselineMargin: -0.5 }), { candidate: { rmse: 1.3 }, ...base }).promote, 'a negative margin tolerates a worse model');
  const best = decidePromotion(gate({ baseline: 'best' }), { candidate: { rmse: 1.2 }, ...base });
  assert.not.ok(best.promote);
  assert.equal(best.checks.map((c) => [c.name, c.passed]), [['baseline:zero', false], ['baseline:persistence', true]]);
  assert.not.ok(decidePromotion(gate(), { candidate: { rmse: Number.NaN }, ...base }).promote, 'NaN never passes');
  assert.match(decidePromotion(gate({ baseline: 'movingAverage' }), { candidate: { rmse: 0.5 }, ...base }).reason, /baseline movingAverage has no rmse/);
});

t('the default price gate never promotes a model that loses to the random walk, whatever baseline is configured', () => {
  const baselines = { zero: { rmse: 1 }, persistence: { rmse: 1.4 }, movingAverage: { rmse: 1.1 } };
  // Beats the moving average and persistence, loses to the zero return; its IC is strong.
  const candidate = { rmse: 1.05, ic: 0.2, n: 1000 };
  const defaults = GateConfig.parse({});
  assert.equal([defaults.baseline, defaults.baselineMargin, defaults.minIcT], ['best', 0, 2]);
  for (const baseline of ['best', 'movingAverage', 'persistence', 'zero'] as const) {
    const d = decidePromotion(priceGateRule(GateConfig.parse({ baseline })), { candidate, baselines });
    assert.not.ok(d.promote, `baseline ${baseline}: ${d.reason}`);
    assert.ok(d.checks.some((c) => c.name === 'baseline:zero' && !c.passed), `baseline ${baseline}: the zero-return check failed`);
  }
  // The same model, better than the random walk too, passes.
  assert.ok(decidePromotion(priceGateRule(defaults), { candidate: { ...candidate, rmse: 0.99 }, baselines }).promote);
});

t('the default price gate asks for an IC with a t-statistic of at least 2 on the test window', () => {
  const baselines = { zero: { rmse: 1 }, persistence: { rmse: 1.4 }, movingAverage: { rmse: 1.1 } };
  const rule = priceGateRule(GateConfig.parse({}));
  // t = ic·√((n−2)/(1−ic²)): 0.025 over 1026 samples (the bootstrap model's figures) is t ≈ 0.81.
  assert.ok(Math.abs(icTStat(0.025, 1026) - 0.8007) < 1e-3);
  const weak = decidePromotion(rule, { candidate: { rmse: 0.99, ic: 0.025, n: 1026 }, baselines });
  assert.not.ok(weak.promote);
  assert.match(weak.reason, /IC t-stat 0\.80\d+ vs ic_t threshold 2/);
  assert.not.ok(decidePromotion(rule, { candidate: { rmse: 0.99, ic: -0.2, n: 1026 }, baselines }).promote, 'a negative IC never passes');
  assert.not.ok(decidePromotion(rule, { candidate: { rmse: 0.99 }, baselines }).promote, 'no IC: not promoted');
  assert.ok(decidePromotion(rule, { candidate: { rmse: 0.99, ic: 0.1, n: 1026 }, baselines }).promote, 't ≈ 3.2 passes');
  assert.ok(decidePromotion(priceGateRule(GateConfig.parse({ minIcT: 0 })), { candidate: { rmse: 0.99, ic: 0.025, n: 1026 }, baselines }).promote, 'minIcT 0 turns the check off');
});

t('the production model must be beaten too, when it is comparable', () => {
  const input = { candidate: { rmse: 0.9 }, baselines: { zero: { rmse: 1 } } };
  assert.ok(decidePromotion(gate(), { ...input, production: { rmse: 0.95 } }).promote);
  const d = decidePromotion(gate(), { ...input, production: { rmse: 0.85 } });
  assert.not.ok(d.promote);
  assert.match(d.reason, /production threshold/);
  assert.not.ok(decidePromotion(gate({ productionMargin: 0.1 }), { ...input, production: { rmse: 0.95 } }).promote, '10 % better than production required');
  assert.match(decidePromotion(gate(), { ...input, productionNote: 'no production model yet' }).reason, /no production model yet/);
});

t('higher-is-better metrics (sentiment macro-F1): must exceed the majority baseline and production', () => {
  assert.ok(higherIsBetter('macroF1') && higherIsBetter('accuracy') && !higherIsBetter('rmse'));
  const rule = SentimentGateConfig.parse({});
  const input = { candidate: { macroF1: 0.7, accuracy: 0.8 }, baselines: { majority: { macroF1: 0.26, accuracy: 0.65 } } };
  assert.ok(decidePromotion(rule, input).promote);
  assert.not.ok(decidePromotion(rule, { ...input, production: { macroF1: 0.72 } }).promote);
  assert.ok(decidePromotion(rule, { ...input, production: { macroF1: 0.69 } }).promote);
  assert.not.ok(decidePromotion({ ...rule, productionMargin: 0.05 }, { ...input, production: { macroF1: 0.69 } }).promote, 'needs 0.69 × 1.05');
  assert.not.ok(decidePromotion({ ...rule, metric: 'accuracy' }, { ...input, candidate: { macroF1: 0.7, accuracy: 0.6 } }).promote);
});

t('a deliberately bad price model (constant +3 % a day) fails the gate on real data', () => {
  const d = loadPriceCsvRows([path.join(ROOT, 'data/prices/SPY.csv')]);
  const samples = makeSupervised(d.rows, { horizon: 1, lookback: 5 }).slice(-500);
  const bad = evaluatePriceSamples(samples, samples.map(() => 0.03), 5);
  const decision = decidePromotion(gate({ baseline: 'zero' }), { candidate: { ...bad.model }, baselines: { zero: { ...bad.baselines.zero } } });
  assert.not.ok(decision.promote, decision.reason);
  assert.ok(bad.model.rmse > 2 * bad.baselines.zero.rmse, 'the bad model is far worse than predicting no change');
  // Even a gate that tolerates a model 100 % worse than the baseline rejects it.
  assert.not.ok(decidePromotion(gate({ baseline: 'zero', baselineMargin: -1 }), { candidate: { ...bad.model }, baselines: { zero: { ...bad.baselines.zero } } }).promote);
});

t('a constant sentiment model scores exactly the majority baseline and is not promoted', () => {
  const yTrue = [0, 1, 1, 1, 2, 1, 0, 2, 1, 1];
  const constant = classificationReport(yTrue, yTrue.map(() => 1), ['negative', 'neutral', 'positive']);
  const majority = majorityBaseline(yTrue, yTrue, ['negative', 'neutral', 'positive']);
  assert.is(constant.macroF1, majority.macroF1);
  const d = decidePromotion(SentimentGateConfig.parse({}), { candidate: { macroF1: constant.macroF1 }, baselines: { majority: { macroF1: majority.macroF1 } } });
  assert.not.ok(d.promote);
});

t.run();
