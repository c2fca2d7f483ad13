/**
 * `npm start` progress (scripts/lib/progress.ts): Prometheus text → samples, a snapshot → one
 * line per stage with true counts, the URLs' "still coming" note, the serving condition, and the
 * printer's rules (changed lines rate-limited, finished stages at once, never silent > heartbeat).
 */
import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { endpointsUp, isServing, metricSum, modelState, parseMetrics, ProgressPrinter, statusLines, stillComing, type Snapshot, type TaskTraining } from '../../../scripts/lib/progress.ts';

const t = suite('npm start: progress lines');

const idle: TaskTraining = { active: false, epoch: 0, epochs: 0, etaSeconds: 0, promoted: 0, rejected: 0, failed: 0 };
const base = (over: Partial<Snapshot> = {}): Snapshot => ({
  elapsedMs: 30_000,
  up: 7,
  services: 7,
  barsPublished: 4_000,
  replayRows: 13_256,
  featuresComputed: 3_900,
  featuresStored: 3_500,
  price: { ...idle, active: true, epoch: 3, epochs: 12, etaSeconds: 65 },
  sentiment: { ...idle, promoted: 1, served: 1 },
  endpoints: { grpc: true, ws: true, dashboard: true },
  pricePredictions: 0,
  pricePredictionsAtStart: 0,
  sentimentPredictions: 12,
  ...over,
});

t('parses the metrics prom-client writes and sums by labels', () => {
  const text = [
    '# HELP stockmlops_training_epoch Last finished epoch',
    '# TYPE stockmlops_training_epoch gauge',
    'stockmlops_training_epoch{task="price"} 3',
    'stockmlops_training_epoch{task="sentiment"} 0',
    'stockmlops_trainings_total{task="price",outcome="promoted"} 1',
    'stockmlops_model_version_info{model="price",version="2",task="price"} 1',
    'process_cpu_seconds_total 1.5',
    'garbage line',
  ].join('\n');
  const s = parseMetrics(text);
  assert.is(metricSum(s, 'stockmlops_training_epoch', { task: 'price' }), 3);
  assert.is(metricSum(s, 'stockmlops_training_epoch'), 3);
  assert.is(metricSum(s, 'stockmlops_trainings_total', { task: 'price', outcome: 'promoted' }), 1);
  assert.is(metricSum(s, 'process_cpu_seconds_total'), 1.5);
  assert.is(s.find((x) => x.name === 'stockmlops_model_version_info')?.labels.version, '2');
  assert.is(metricSum(s, 'missing'), 0);
});

t('one line per stage, with the counts of the snapshot', () => {
  const lines = statusLines(base());
  assert.equal(lines.map((l) => l.stage), ['infrastructure', 'replay', 'features', 'training', 'serving']);
  assert.equal(lines.map((l) => l.text), [
    'services up 7/7',
    'replay 4,000/13,256 bars published',
    'features 3,900 computed, 3,500 stored',
    'price model: training epoch 3/12, ETA 1 min 05 s · sentiment model: v1 served',
    'serving: gRPC up, WebSocket up, dashboard up; 0 price predictions, 12 sentiment',
  ]);
  assert.equal(lines.map((l) => l.done), [true, false, false, false, false]);
  const done = statusLines(base({ barsPublished: 13_300, price: { ...idle, promoted: 1, served: 1 }, pricePredictions: 50, pricePredictionsAtStart: 10 }));
  assert.is(done[1]!.text, 'replay 13,256/13,256 bars published (done; 44 more since)');
  assert.is(done[4]!.text, 'serving: gRPC up, WebSocket up, dashboard up; 50 price predictions (40 new), 12 sentiment');
  assert.is(statusLines(base({ replayRows: 0 }))[1]!.text, 'no CSV replay; 4,000 bars published');
});

t('model states', () => {
  assert.is(modelState({ ...idle, active: true }), 'preparing the training data');
  assert.is(modelState(idle), 'waiting to train');
  assert.is(modelState({ ...idle, promoted: 1 }), 'promoted, loading in the predictor');
  assert.match(modelState({ ...idle, rejected: 1 }), /rejected by the promotion gate/);
  assert.match(modelState({ ...idle, failed: 1 }), /training failed/);
  assert.is(modelState({ ...idle, served: 3 }), 'v3 served');
});

t('the URLs come with what is still coming; serving needs a served price model and predictions', () => {
  const s = base();
  assert.ok(endpointsUp(s));
  assert.not.ok(endpointsUp(base({ endpoints: { grpc: true, ws: false, dashboard: undefined } })));
  assert.ok(endpointsUp(base({ endpoints: { grpc: true, ws: true, dashboard: undefined } })), 'no dashboard service: not waited for');
  assert.equal(stillComing(s), ['replay: 4,000/13,256 bars', 'price model: training epoch 3/12, ETA 1 min 05 s']);
  assert.not.ok(isServing(s));
  const served = base({ price: { ...idle, promoted: 1, served: 1 } });
  assert.equal(stillComing(served), ['replay: 4,000/13,256 bars', 'price predictions: the first ones are being computed']);
  assert.not.ok(isServing(served));
  assert.ok(isServing({ ...served, pricePredictions: 1 }));
});

t('the printer: new lines at once, changes at most every minInterval, finished stages at once, a heartbeat', () => {
  const p = new ProgressPrinter({ minIntervalMs: 5_000, heartbeatMs: 9_000 });
  assert.is(p.update(statusLines(base()), 0).length, 5, 'every stage once at first');
  assert.equal(p.update(statusLines(base({ barsPublished: 5_000 })), 2_000), [], 'a change within 5 s waits');
  assert.equal(p.update(statusLines(base({ barsPublished: 6_000 })), 5_000), ['▶ replay 6,000/13,256 bars published']);
  assert.equal(p.update(statusLines(base({ barsPublished: 13_256 })), 6_000), ['▶ replay 13,256/13,256 bars published (done)'], 'a finished stage at once');
  // Nothing changes: after the heartbeat, the unfinished stages are printed again.
  assert.equal(p.update(statusLines(base({ barsPublished: 13_256 })), 10_000), []);
  const beat = p.update(statusLines(base({ barsPublished: 13_256 })), 15_000);
  assert.equal(beat, ['▶ features 3,900 computed, 3,500 stored', '▶ price model: training epoch 3/12, ETA 1 min 05 s · sentiment model: v1 served', '▶ serving: gRPC up, WebSocket up, dashboard up; 0 price predictions, 12 sentiment']);
});

t.run();
