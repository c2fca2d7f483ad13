import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import {
  assessBreaches,
  decideTrigger,
  initialTriggerState,
  onRetrainEnded,
  onServingChanged,
  type Breach,
  type FeatureDriftSummary,
  type RollingPerformance,
} from '@stock-mlops/monitor';
import { settings } from '../../support/monitor.ts';

const t = suite('monitor: breaches and the trigger policy');
const v1 = { name: 'price', version: 1 };
const v2 = { name: 'price', version: 2 };
const s = settings({ cooldownMs: 60_000, clearAfterEvaluations: 2, minDriftSamples: 50, minOutcomes: 20, featureDriftShare: 0.5 });

function drift(n: number, drifted: number, evaluated = 10): FeatureDriftSummary {
  return { n, evaluated, drifted, driftedShare: drifted / evaluated, psiMax: 2.5, psiMaxFeature: 'STD20', psiMean: 0.9, ksMax: 0.6, ksMaxFeature: 'KLEN', missing: [], features: [] };
}
function perf(p: Partial<RollingPerformance>): RollingPerformance {
  return { modelName: 'price', modelVersion: 1, symbol: '', n: 100, mae: 1, rmse: 1, mape: 0.01, returnMae: 0.01, directionalAccuracy: 0.55, ic: 0.1, rankIc: 0.1, from: '', to: '', ...p };
}
const breach: Breach = { kind: 'feature_drift', reason: 'x', evidence: { featureDriftShare: 0.9 } };

t('thresholds: each kind of breach needs enough samples and a crossed threshold, and carries its numbers', () => {
  assert.equal(assessBreaches({ featureDrift: drift(49, 9) }, s), [], 'too few live vectors');
  assert.equal(assessBreaches({ featureDrift: drift(60, 4) }, s), [], 'too few drifted features');
  const [fd] = assessBreaches({ featureDrift: drift(60, 6) }, s);
  assert.is(fd?.kind, 'feature_drift');
  assert.is(fd?.evidence.featureDriftShare, 0.6);
  assert.is(fd?.evidence.featurePsiMax, 2.5);
  assert.match(fd!.reason, /6\/10 features/);
  const pd = assessBreaches({ predictionDrift: { n: 80, psi: 0.9, ksStatistic: 0.4, ksPValue: 1e-6, referenceMean: 0, currentMean: 0.01 } }, s);
  assert.is(pd[0]?.kind, 'prediction_drift');
  assert.is(pd[0]?.evidence.predictionPsi, 0.9);
  assert.equal(assessBreaches({ performance: perf({ mape: 0.02 }), referenceMape: 0.01 }, s), [], 'MAPE twice the test window is within 3×');
  const bad = assessBreaches({ performance: perf({ mape: 0.05, directionalAccuracy: 0.3, ic: Number.NaN }), referenceMape: 0.01 }, s);
  assert.is(bad[0]?.kind, 'performance');
  assert.match(bad[0]!.reason, /MAPE .* 5× .*directional accuracy 0\.3/);
  assert.not.ok('ic' in bad[0]!.evidence, 'NaN is never evidence');
  assert.equal(assessBreaches({ performance: perf({ n: 10, directionalAccuracy: 0 }) }, s), [], 'too few outcomes');
});

t('one incident, one retrain request: duplicates are absorbed, the cool-down holds, a promotion resolves it', () => {
  let st = initialTriggerState('price');
  const first = decideTrigger(st, [breach], v1, 1_000, s);
  assert.is(first.action, 'retrain_requested');
  assert.ok(first.request!.incidentId.startsWith('price-price-v1-'));
  assert.equal(first.request!.evidence, { modelVersion: 1, featureDriftShare: 0.9 });
  st = first.state;
  for (let i = 0; i < 5; i++) {
    const d = decideTrigger(st, [breach], v1, 2_000 + i, s);
    assert.is(d.action, 'deduplicated');
    assert.is(d.state.incidentId, first.request!.incidentId);
    st = d.state;
  }
  assert.is(st.incidentOccurrences, 6);
  assert.is(st.requests, 1);
  const promoted = onServingChanged(st, v2);
  assert.is(promoted.closed?.incidentId, first.request!.incidentId);
  st = promoted.state;
  assert.is(decideTrigger(st, [breach], v2, 30_000, s).action, 'cooldown', 'a new breach within the cool-down is suppressed');
  const later = decideTrigger(st, [breach], v2, 61_001, s);
  assert.is(later.action, 'retrain_requested');
  assert.is.not(later.request!.incidentId, first.request!.incidentId);
  assert.is(onServingChanged(later.state, v2).closed, undefined, 'the same version does not resolve its own incident');
});

t('an incident clears after clean evaluations in a row, or when the retrain is rejected', () => {
  let st = decideTrigger(initialTriggerState('price'), [breach], v1, 0, s).state;
  st = decideTrigger(st, [], v1, 1, s).state;
  st = decideTrigger(st, [breach], v1, 2, s).state;
  assert.is(st.cleanStreak, 0, 'a breach resets the streak');
  st = decideTrigger(st, [], v1, 3, s).state;
  const cleared = decideTrigger(st, [], v1, 4, s);
  assert.is(cleared.action, 'cleared');
  assert.is(cleared.state.incidentId, undefined);
  const reopened = decideTrigger(initialTriggerState('price'), [breach], v1, 0, s);
  const rejected = onRetrainEnded(reopened.state, 'v2 rejected by the gate');
  assert.is(rejected.closed?.reason, 'retrain v2 rejected by the gate');
  assert.is(decideTrigger(rejected.state, [breach], v1, 100, s).action, 'cooldown');
  assert.is(decideTrigger(rejected.state, [breach], v1, 60_000, s).action, 'retrain_requested');
});

t.run();
