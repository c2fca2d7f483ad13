import * as assert from 'uvu/assert';
import type { FeatureVector } from '@stock-mlops/contracts';
import { FeatureHistory } from '@stock-mlops/ml/inference/preprocessor';
import { HistoryAnchor, type HistorySource } from '../../../services/predictor/src/history_anchor.ts';
import { suite } from '../../harness/index.ts';
import { featureSeries, N_FEATURES, SCHEMA_HASH } from './fixtures.ts';

const t = suite('predictor: history anchor (gap-free windows after a restart)');

/** A database the "loader" fills up to some index per symbol; reads are counted. */
function fakeSource(series: Map<string, FeatureVector[]>, storedCount: Map<string, number>): HistorySource & { reads: number } {
  const src = {
    reads: 0,
    async storedUpTo(symbols: readonly string[]) {
      src.reads++;
      const out = new Map<string, string>();
      for (const s of symbols) {
        const n = storedCount.get(s) ?? 0;
        if (n > 0) out.set(s, series.get(s)![n - 1]!.ts);
      }
      return out;
    },
    async before(symbol: string, beforeTs: string, limit: number) {
      const stored = series.get(symbol)!.slice(0, storedCount.get(symbol) ?? 0);
      return stored.filter((f) => f.ts < beforeTs).slice(-limit);
    },
  };
  return src;
}

const manualClock = () => {
  let now = 0;
  return { now: () => now, sleep: async (ms: number) => void (now += ms) };
};

t('waits until the loader has stored the first vector, then loads exactly the history before it', async () => {
  const a = featureSeries('A', 50, 1);
  const stored = new Map([['A', 10]]);
  const history = new FeatureHistory(16);
  // A stale warm-up from the database (as at start-up) must be replaced, not extended.
  for (const fv of a.slice(0, 10)) history.push(fv);
  const clock = manualClock();
  const src = fakeSource(new Map([['A', a]]), stored);
  const waits: number[] = [];
  const anchor = new HistoryAnchor({
    source: src,
    history,
    maxWaitMs: 60_000,
    ...clock,
    onWait: (_p, ms) => {
      waits.push(ms);
      // The loader catches up while we wait.
      stored.set('A', Math.min(50, (stored.get('A') ?? 0) + 10));
    },
  });
  await anchor.ensure([a[40]!, a[41]!]);
  assert.ok(waits.length >= 3, `waited for the loader (${waits.length} polls)`);
  assert.ok(anchor.isAnchored('A'));
  // History = the 16 vectors right before a[40], contiguous.
  const spec = { lookback: 16, nFeatures: N_FEATURES, schemaHash: SCHEMA_HASH };
  assert.equal(history.windowFor('A', spec), a.slice(24, 40).map((f) => f.values));
  assert.is(history.windowFor('A', { ...spec, lookback: 17 }), undefined);
  // Anchored symbols are not re-read.
  const reads = src.reads;
  await anchor.ensure([a[42]!]);
  assert.is(src.reads, reads);
});

t('gives up after maxWaitMs, reports the symbols and uses what is stored', async () => {
  const a = featureSeries('A', 30, 1);
  const b = featureSeries('B', 30, 2);
  const stored = new Map([
    ['A', 30],
    ['B', 5],
  ]);
  const history = new FeatureHistory(64);
  const incomplete: string[][] = [];
  const anchor = new HistoryAnchor({ source: fakeSource(new Map([['A', a], ['B', b]]), stored), history, maxWaitMs: 5_000, ...manualClock(), onIncomplete: (s) => incomplete.push([...s]) });
  await anchor.ensure([a[20]!, b[20]!]);
  assert.equal(incomplete, [['B']]);
  assert.is(history.latest('A')?.ts, a[19]!.ts);
  assert.is(history.latest('B')?.ts, b[4]!.ts);
  anchor.reset();
  assert.not.ok(anchor.isAnchored('A'));
});

t('a symbol seen for the first time ever (nothing stored before it) anchors on an empty history', async () => {
  const a = featureSeries('A', 5, 1);
  const history = new FeatureHistory(8);
  const stored = new Map([['A', 1]]);
  const anchor = new HistoryAnchor({ source: fakeSource(new Map([['A', a]]), stored), history, maxWaitMs: 1_000, ...manualClock() });
  await anchor.ensure([a[0]!]);
  assert.ok(anchor.isAnchored('A'));
  assert.is(history.latest('A'), undefined);
});

t.run();
