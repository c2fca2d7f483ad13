import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { EventTimeWindow, OutcomeJoiner, predictionKeyOf, type ObservedPrediction } from '@stock-mlops/monitor';

const t = suite('monitor: event-time window and outcome joiner');

const day = (i: number) => new Date(Date.UTC(2020, 0, 1 + i)).toISOString();
const closes = [100, 101, 99, 102, 104, 103, 105];
function pred(i: number, horizon = 1, version = 1, predictedReturn = 0.01): ObservedPrediction {
  const p = { symbol: 'AAA', interval: '1d', asOf: day(i), model: { name: 'price', version } };
  return { ...p, key: predictionKeyOf(p), horizon, lastClose: closes[i]!, predictedReturn };
}

t('the window keeps the newest items by event time, whatever the arrival order, and replaces duplicates', () => {
  const w = new EventTimeWindow<number>(3);
  for (const i of [5, 1, 4, 2, 3]) w.add(`k${i}`, i, i);
  assert.equal(w.values(), [3, 4, 5]);
  assert.is(w.add('k0', 0, 0), false, 'older than the window: refused');
  w.add('k4', 4, 40);
  assert.equal(w.values(), [3, 40, 5], 'same key, same time: replaced in place');
  w.add('k4', 6, 60);
  assert.equal(w.values(), [3, 5, 60], 'same key, new time: moved');
  assert.equal(w.since(3).map((e) => e.item), [5, 60]);
  const oldest = new EventTimeWindow<number>(2, 'oldest');
  for (const i of [5, 1, 4, 2]) oldest.add(`k${i}`, i, i);
  assert.equal(oldest.values(), [1, 2]);
});

t('a prediction is resolved by the bar `horizon` bars later, in either arrival order', () => {
  const j = new OutcomeJoiner({ maxBarsPerSeries: 100, maxPendingPerSeries: 100 });
  // Prediction first: waits for its bars.
  assert.is(j.addPrediction(pred(0)).status, 'pending');
  assert.is(j.addBar({ symbol: 'AAA', interval: '1d', ts: day(0), close: closes[0]! }).length, 0);
  const resolved = j.addBar({ symbol: 'AAA', interval: '1d', ts: day(1), close: closes[1]! });
  assert.is(resolved.length, 1);
  assert.ok(Math.abs(resolved[0]!.realizedReturn - (101 / 100 - 1)) < 1e-15);
  assert.is(resolved[0]!.realizedTs, day(1));
  // Bars first: resolves at once; horizon 3 uses the third bar after as-of.
  for (let i = 2; i < closes.length; i++) j.addBar({ symbol: 'AAA', interval: '1d', ts: day(i), close: closes[i]! });
  const r = j.addPrediction(pred(2, 3));
  assert.is(r.status, 'resolved');
  assert.ok(Math.abs(r.outcome!.realizedReturn - (103 / 99 - 1)) < 1e-15);
  assert.is(j.addPrediction(pred(2, 3)).status, 'duplicate', 'a redelivered prediction is ignored');
  assert.is(j.addPrediction(pred(5, 2)).status, 'pending', 'its future bar has not arrived');
  assert.is(j.pendingCount(), 1);
});

t('series are separate per symbol, and predictions older than every kept bar are stale', () => {
  const j = new OutcomeJoiner({ maxBarsPerSeries: 3, maxPendingPerSeries: 2 });
  for (let i = 0; i < 6; i++) j.addBar({ symbol: 'AAA', interval: '1d', ts: day(i), close: closes[i]! });
  assert.is(j.addPrediction(pred(0)).status, 'stale');
  assert.is(j.addPrediction({ ...pred(0), symbol: 'BBB', key: 'BBB|x' }).status, 'pending', 'no BBB bars yet');
  for (const i of [1, 2, 3]) j.addPrediction({ ...pred(i), symbol: 'CCC', key: `CCC|${i}` });
  assert.is(j.droppedPending, 1, 'pending predictions are bounded per series');
});
t.run();
