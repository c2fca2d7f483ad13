import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { assertNoLeakage, assertSplitsEmbargoed } from '@stock-mlops/ml/datasets/leakage';
import { mulberry32, seededShuffle } from '@stock-mlops/ml/datasets/random';
import { walkForwardFolds, walkForwardSplit } from '@stock-mlops/ml/datasets/splits';
import { makeSupervised, type FeatureRow, type SupervisedSample } from '@stock-mlops/ml/datasets/supervised';
import { loadPrices } from '../../support/evaluation_reference.ts';

const DAY = 86_400_000;
const errorCode = (code: string) => (err: { code?: string }) => err.code === code;

/** Feature rows from real closes: vector = [1-day return, 5-day return], both ending at t. */
function featureRows(symbol: string): FeatureRow[] {
  const { ts, adjClose } = loadPrices(symbol);
  const rows: FeatureRow[] = [];
  for (let i = 5; i < adjClose.length; i++) {
    const c = adjClose[i] as number;
    rows.push({ symbol, ts: ts[i] as number, close: c, vector: [c / (adjClose[i - 1] as number) - 1, c / (adjClose[i - 5] as number) - 1] });
  }
  return rows;
}

const HORIZON = 5;
const LOOKBACK = 10;
const realRows = [...featureRows('AAPL'), ...featureRows('GOOG')];
const realSamples = makeSupervised(realRows, { horizon: HORIZON, lookback: LOOKBACK });

/** Distinct timestamps strictly between a and b on a sorted timeline. */
function periodsBetween(timeline: readonly number[], a: number, b: number): number {
  return timeline.filter((ts) => ts > a && ts < b).length;
}

const t = suite('ml datasets');

t('makeSupervised: hand-checked windows, labels and timing per symbol', () => {
  const closes = [10, 11, 12, 11, 13, 14, 15, 16];
  const rows: FeatureRow[] = [];
  // Interleave two symbols, newest first, to check grouping and ordering.
  for (let i = closes.length - 1; i >= 0; i--) {
    rows.push({ symbol: 'B', ts: i * DAY, close: 2 * (closes[i] as number), vector: [i, -i] });
    rows.push({ symbol: 'A', ts: i * DAY, close: closes[i] as number, vector: [i, i * 10] });
  }
  const samples = makeSupervised(rows, { horizon: 2, lookback: 3 });
  // t = 2 … 5 for each symbol (needs 2 rows before and 2 after).
  assert.is(samples.length, 8);
  assert.equal(
    samples.map((s) => `${s.symbol}@${s.ts / DAY}`),
    ['A@2', 'B@2', 'A@3', 'B@3', 'A@4', 'B@4', 'A@5', 'B@5'],
  );
  const first = samples[0] as SupervisedSample;
  assert.equal(first.inputTs, [0, DAY, 2 * DAY]);
  assert.equal(first.window, [
    [0, 0],
    [1, 10],
    [2, 20],
  ]);
  assert.is(first.labelStart, 3 * DAY);
  assert.is(first.labelEnd, 4 * DAY);
  assert.is(first.lastClose, 12);
  assert.is(first.label, 13 / 12 - 1);
  assert.is(first.horizon, 2);
  const lastB = samples[7] as SupervisedSample;
  assert.is(lastB.label, 32 / 28 - 1);
  assertNoLeakage(samples);
});

t('makeSupervised on real AAPL/GOOG rows has no leakage', () => {
  const perSymbol = realRows.length / 2 - LOOKBACK + 1 - HORIZON;
  assert.is(realSamples.length, 2 * perSymbol);
  assertNoLeakage(realSamples);
  for (const s of realSamples.slice(0, 50)) {
    assert.is(s.inputTs.length, LOOKBACK);
    assert.is(s.inputTs[LOOKBACK - 1], s.ts);
    assert.ok(s.labelEnd > s.labelStart && s.labelStart > s.ts);
  }
});

t('assertNoLeakage catches a deliberately leaky dataset', () => {
  // An off-by-one builder: the window ends at t+1, the first bar of the label.
  const leaky = realSamples.slice(0, 200).map((s, i) => (i === 137 ? { ...s, inputTs: [...s.inputTs.slice(1), s.labelStart] } : s));
  assert.throws(() => assertNoLeakage(leaky), errorCode('E_DATA_LEAKAGE'));
  try {
    assertNoLeakage(leaky);
  } catch (err) {
    assert.is((err as { details?: { index?: number } }).details?.index, 137);
  }
  // A label that starts at the as-of bar (return from t-1 to t+h-1) also leaks.
  const early = realSamples.slice(0, 10).map((s) => ({ ...s, labelStart: s.ts }));
  assert.throws(() => assertNoLeakage(early), errorCode('E_DATA_LEAKAGE'));
});

t('makeSupervised rejects bad input with E_DATASET_INPUT', () => {
  const row = (ts: number, vector = [1]): FeatureRow => ({ symbol: 'A', ts, close: 1, vector });
  const bad = errorCode('E_DATASET_INPUT');
  assert.throws(() => makeSupervised([row(1), row(1)], { horizon: 1, lookback: 1 }), bad);
  assert.throws(() => makeSupervised([row(1), row(2, [1, 2])], { horizon: 1, lookback: 1 }), bad);
  assert.throws(() => makeSupervised([row(1), row(2, [Number.NaN])], { horizon: 1, lookback: 1 }), bad);
  assert.throws(() => makeSupervised([row(1)], { horizon: 0, lookback: 1 }), bad);
  assert.throws(() => makeSupervised([{ ...row(1), close: 0 }], { horizon: 1, lookback: 1 }), bad);
});

t('walkForwardSplit (pooled by time) respects the embargo on real data', () => {
  const split = walkForwardSplit(realSamples, { trainFrac: 0.7, valFrac: 0.15, testFrac: 0.15, embargo: HORIZON });
  const timeline = [...new Set(realSamples.map((s) => s.ts))].sort((a, b) => a - b);
  const maxTs = (xs: readonly SupervisedSample[]) => Math.max(...xs.map((s) => s.ts));
  const minTs = (xs: readonly SupervisedSample[]) => Math.min(...xs.map((s) => s.ts));
  assert.is(periodsBetween(timeline, maxTs(split.train), minTs(split.val)), HORIZON);
  assert.is(periodsBetween(timeline, maxTs(split.val), minTs(split.test)), HORIZON);
  assert.ok(Math.max(...split.train.map((s) => s.labelEnd)) < minTs(split.val));
  assert.ok(Math.max(...split.val.map((s) => s.labelEnd)) < minTs(split.test));
  assert.is(split.purged, 0, 'AAPL and GOOG share a calendar');
  assert.is(split.train.length + split.val.length + split.test.length, realSamples.length - 2 * 2 * HORIZON);
  assert.ok(Math.abs(split.train.length / realSamples.length - 0.7) < 0.01);
  assertSplitsEmbargoed([split.train, split.val, split.test]);
  // Both symbols appear in every split (pooled calendar periods).
  for (const part of [split.train, split.val, split.test]) assert.equal([...new Set(part.map((s) => s.symbol))].sort(), ['AAPL', 'GOOG']);
});

t('without an embargo the split checker reports overlapping labels', () => {
  const boundary = realSamples[Math.floor(realSamples.length * 0.7)] as SupervisedSample;
  const naiveTrain = realSamples.filter((s) => s.ts < boundary.ts);
  const naiveTest = realSamples.filter((s) => s.ts >= boundary.ts);
  assert.throws(() => assertSplitsEmbargoed([naiveTrain, naiveTest]), errorCode('E_DATA_LEAKAGE'));
  assert.throws(
    () => walkForwardSplit(realSamples, { trainFrac: 0.8, valFrac: 0, testFrac: 0.2, embargo: HORIZON - 1 }),
    errorCode('E_DATASET_INPUT'),
  );
  assert.throws(() => walkForwardSplit(realSamples, { trainFrac: 0.8, valFrac: 0.3, testFrac: 0.2, embargo: HORIZON }), errorCode('E_DATASET_INPUT'));
});

t('walkForwardSplit per symbol splits each history on its own timeline', () => {
  const msft = makeSupervised(featureRows('MSFT'), { horizon: HORIZON, lookback: LOOKBACK });
  const samples = [...realSamples.filter((s) => s.symbol === 'AAPL'), ...msft];
  const split = walkForwardSplit(samples, { trainFrac: 0.6, valFrac: 0.2, testFrac: 0.2, embargo: HORIZON, by: 'symbol' });
  assertSplitsEmbargoed([split.train, split.val, split.test], 'symbol');
  for (const symbol of ['AAPL', 'MSFT']) {
    const own = samples.filter((s) => s.symbol === symbol);
    const train = split.train.filter((s) => s.symbol === symbol);
    assert.ok(Math.abs(train.length / own.length - 0.6) < 0.01, symbol);
  }
  // MSFT (2012–2017) trains on calendar periods that are AAPL test periods: allowed per symbol,
  // but the pooled check sees it.
  assert.throws(() => assertSplitsEmbargoed([split.train, split.test], 'time'), errorCode('E_DATA_LEAKAGE'));
});

t('pooled split purges labels stretched by a sparser calendar', () => {
  const rows: FeatureRow[] = [];
  for (let d = 0; d < 100; d++) {
    rows.push({ symbol: 'DAILY', ts: d * DAY, close: 100 + d, vector: [d] });
    if (d % 3 === 0) rows.push({ symbol: 'SPARSE', ts: d * DAY, close: 50 + d, vector: [d] });
  }
  const samples = makeSupervised(rows, { horizon: 2, lookback: 1 });
  const split = walkForwardSplit(samples, { trainFrac: 0.6, valFrac: 0.2, testFrac: 0.2, embargo: 2 });
  assert.ok(split.purged > 0, 'SPARSE label windows (6 days) cross a 2-period embargo');
  assertSplitsEmbargoed([split.train, split.val, split.test]);
  assertNoLeakage([...split.train, ...split.val, ...split.test]);
});

t('walkForwardFolds: expanding windows, consecutive test blocks, embargo before each test block', () => {
  const folds = walkForwardFolds(realSamples, { folds: 4, embargo: HORIZON });
  const timeline = [...new Set(realSamples.map((s) => s.ts))].sort((a, b) => a - b);
  assert.is(folds.length, 4);
  let previousTestEnd = -Infinity;
  let previousTrain = 0;
  let tested = 0;
  for (const fold of folds) {
    const testStart = Math.min(...fold.test.map((s) => s.ts));
    const testEnd = Math.max(...fold.test.map((s) => s.ts));
    const trainEnd = Math.max(...fold.train.map((s) => s.ts));
    assert.is(Math.min(...fold.train.map((s) => s.ts)), timeline[0], 'training always starts at the beginning');
    assert.ok(fold.train.length > previousTrain, 'training window expands');
    assert.is(periodsBetween(timeline, trainEnd, testStart), HORIZON);
    assert.ok(testStart > previousTestEnd);
    if (Number.isFinite(previousTestEnd)) assert.is(periodsBetween(timeline, previousTestEnd, testStart), 0, 'test blocks are contiguous');
    assertSplitsEmbargoed([fold.train, fold.test]);
    previousTestEnd = testEnd;
    previousTrain = fold.train.length;
    tested += fold.test.length;
  }
  assert.is(previousTestEnd, timeline[timeline.length - 1]);
  assert.is(tested, realSamples.length - realSamples.filter((s) => s.ts < (timeline[Math.round(timeline.length / 5)] as number)).length);
  assert.throws(() => walkForwardFolds(realSamples, { folds: 0, embargo: HORIZON }), errorCode('E_DATASET_INPUT'));
});

t('same inputs and seed give the same datasets, splits and shuffles', () => {
  const again = makeSupervised([...realRows].reverse(), { horizon: HORIZON, lookback: LOOKBACK });
  assert.equal(again, realSamples);
  const options = { trainFrac: 0.7, valFrac: 0.15, testFrac: 0.15, embargo: HORIZON };
  assert.equal(walkForwardSplit(again, options), walkForwardSplit(realSamples, options));
  const a = seededShuffle(realSamples, 42);
  const b = seededShuffle(realSamples, 42);
  assert.equal(a, b);
  assert.not.equal(seededShuffle(realSamples, 43).slice(0, 20), a.slice(0, 20));
  assert.equal([...a].sort((x, y) => x.ts - y.ts || x.symbol.localeCompare(y.symbol)), realSamples, 'a permutation');
});

t('mulberry32 is reproducible and uniform on [0, 1)', () => {
  const r1 = mulberry32(2024);
  const r2 = mulberry32(2024);
  const xs = Array.from({ length: 100_000 }, () => r1());
  assert.equal(
    xs.slice(0, 5),
    Array.from({ length: 5 }, () => r2()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.005, String(mean));
  const deciles = new Array<number>(10).fill(0);
  for (const x of xs) deciles[Math.floor(x * 10)]! += 1;
  assert.ok(deciles.every((c) => Math.abs(c - 10_000) < 500), deciles.join(','));
  assert.not.equal(mulberry32(1)(), mulberry32(2)());
  const input = [1, 2, 3, 4, 5];
  seededShuffle(input, 7);
  assert.equal(input, [1, 2, 3, 4, 5], 'input is not mutated');
  assert.throws(() => mulberry32(1.5), errorCode('E_DATASET_INPUT'));
});

t.run();
