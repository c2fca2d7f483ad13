/**
 * Training progress: epoch n/m with an ETA from the mean epoch duration so far; the clock
 * restarts at epoch 1 (a new ensemble member); durations read as a person would.
 */
import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { EpochClock, epochMessage, formatDuration } from '@stock-mlops/ml/training/progress';

const t = suite('ml: training progress (epoch n/m, ETA)');

t('the ETA is the mean epoch duration times the epochs left', () => {
  const c = new EpochClock(12);
  assert.equal(c.tick(1, 4_000), { epoch: 1, epochs: 12, etaMs: 44_000 });
  assert.equal(c.tick(2, 2_000), { epoch: 2, epochs: 12, etaMs: 30_000 });
  assert.is(c.tick(12, 3_000).etaMs, 0, 'nothing left after the last planned epoch');
});

t('epoch 1 again (the next ensemble member) restarts the mean', () => {
  const c = new EpochClock(3);
  c.tick(1, 100_000);
  c.tick(2, 100_000);
  assert.is(c.tick(1, 1_000).etaMs, 2_000);
});

t('durations and the log message', () => {
  assert.is(formatDuration(0), '0 s');
  assert.is(formatDuration(42_400), '42 s');
  assert.is(formatDuration(65_000), '1 min 05 s');
  assert.is(formatDuration(3_720_000), '1 h 02 min');
  assert.is(epochMessage({ epoch: 3, epochs: 12, etaMs: 65_000 }), 'epoch 3/12, ETA 1 min 05 s');
});

t.run();
