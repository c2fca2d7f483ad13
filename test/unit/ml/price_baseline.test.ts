/**
 * The zero-return baseline policy (registry/price_baseline.ts): it is served only when the
 * candidate was rejected and nothing is in production; an existing baseline of the same feature
 * schema is reused (the newest), one of another schema is not; a version's kind is `model`
 * unless its params name a baseline.
 */
import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { BASELINE_REASON, decideBaselineFallback, modelKind, ZERO_RETURN_BASELINE } from '@stock-mlops/ml/registry/price_baseline';

const t = suite('ml zero-return baseline policy');
const HASH = 'schema-a';

t('a passing candidate or an existing production version: nothing to do', () => {
  const none = (d: ReturnType<typeof decideBaselineFallback>) => d.action === 'none';
  assert.ok(none(decideBaselineFallback({ passed: true, production: undefined, baselines: [], featureSchemaHash: HASH })));
  assert.ok(none(decideBaselineFallback({ passed: true, production: 3, baselines: [], featureSchemaHash: HASH })));
  const kept = decideBaselineFallback({ passed: false, production: 3, baselines: [{ version: 1, featureSchemaHash: HASH }], featureSchemaHash: HASH });
  assert.equal(kept, { action: 'none', reason: 'v3 stays in production' });
});

t('rejected with nothing in production: register the baseline the first time', () => {
  const d = decideBaselineFallback({ passed: false, production: undefined, baselines: [], featureSchemaHash: HASH });
  assert.equal(d, { action: 'register', reason: BASELINE_REASON });
  assert.match(d.reason, /zero-return baseline/);
});

t('an existing baseline of the same schema is reused (the newest); one of another schema is not', () => {
  const baselines = [
    { version: 2, featureSchemaHash: HASH },
    { version: 7, featureSchemaHash: 'schema-b' },
    { version: 5, featureSchemaHash: HASH },
  ];
  assert.equal(decideBaselineFallback({ passed: false, production: undefined, baselines, featureSchemaHash: HASH }), { action: 'reuse', version: 5, reason: BASELINE_REASON });
  assert.equal(decideBaselineFallback({ passed: false, production: undefined, baselines, featureSchemaHash: 'schema-b' }), { action: 'reuse', version: 7, reason: BASELINE_REASON });
  assert.is(decideBaselineFallback({ passed: false, production: undefined, baselines, featureSchemaHash: 'schema-c' }).action, 'register');
});

t('kind: model unless params name a baseline', () => {
  assert.is(modelKind({ baseline: ZERO_RETURN_BASELINE, arch: 'mlp' }), 'baseline:zero-return');
  assert.is(modelKind({ arch: 'mlp', lookback: 20 }), 'model');
  assert.is(modelKind({}), 'model');
  assert.is(modelKind(null), 'model');
  assert.is(modelKind({ baseline: '' }), 'model');
  assert.is(modelKind({ baseline: 3 }), 'model');
});

t.run();
