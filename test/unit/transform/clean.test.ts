import * as assert from 'uvu/assert';
import path from 'node:path';
import { type Bar, type CleanBar, Cleaner, type CleanerSnapshot, type TransformError, computeFeaturesFromBars, SymbolPipeline, validateBar } from '@stock-mlops/transform';
import { suite } from '../../harness/index.ts';
import { day, loadBars, makeBar, pricesDir } from '../../support/transform.ts';

const t = suite('transform/clean');

const codeOf = (bar: Bar): string | undefined => {
  const v = validateBar(bar);
  return v.ok ? undefined : v.code;
};

/** Pushes every bar, then flushes; returns everything emitted and rejected, in order. */
function run(cleaner: Cleaner, bars: readonly Bar[]): { emitted: CleanBar[]; rejected: { ts: string; code: string; reason: string }[] } {
  const emitted: CleanBar[] = [];
  const rejected: { ts: string; code: string; reason: string }[] = [];
  for (const bar of bars) {
    const out = cleaner.push(bar);
    emitted.push(...out.emitted);
    rejected.push(...out.rejected.map((r) => ({ ts: r.bar.ts, code: r.code, reason: r.reason })));
  }
  emitted.push(...cleaner.flush());
  return { emitted, rejected };
}

const days = (...idx: number[]): Bar[] => idx.map((i) => makeBar({ ts: day(i), source: 'unit' }));

t('validateBar accepts a valid bar', () => {
  assert.equal(validateBar(makeBar()), { ok: true });
  assert.equal(validateBar(makeBar({ adjClose: 9.8, volume: 0, symbol: '005930.KS' })), { ok: true });
});

t('validateBar: non-positive prices', () => {
  assert.is(codeOf(makeBar({ open: 0 })), 'E_NON_POSITIVE_PRICE');
  assert.is(codeOf(makeBar({ low: -1 })), 'E_NON_POSITIVE_PRICE');
  assert.is(codeOf(makeBar({ adjClose: 0 })), 'E_NON_POSITIVE_PRICE');
});

t('validateBar: high below the body, low above the body', () => {
  assert.is(codeOf(makeBar({ high: 10.4 })), 'E_HIGH_BELOW_BODY'); // close 10.5
  assert.is(codeOf(makeBar({ open: 11.5, high: 11.2 })), 'E_HIGH_BELOW_BODY');
  assert.is(codeOf(makeBar({ low: 10.2 })), 'E_LOW_ABOVE_BODY'); // open 10
  assert.is(codeOf(makeBar({ open: 9, low: 9.5 })), 'E_LOW_ABOVE_BODY');
});

t('validateBar: negative volume', () => {
  assert.is(codeOf(makeBar({ volume: -1 })), 'E_NEGATIVE_VOLUME');
});

t('validateBar: NaN / Infinity / non-number in any numeric field', () => {
  for (const field of ['open', 'high', 'low', 'close', 'volume', 'adjClose'] as const) {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '10' as unknown as number, null as unknown as number]) {
      if (field === 'adjClose' && bad === (null as unknown as number)) continue;
      assert.is(codeOf(makeBar({ [field]: bad })), 'E_NOT_FINITE', `${field}=${String(bad)}`);
    }
  }
});

t('validateBar: bad symbol, timestamp, interval, source', () => {
  for (const symbol of ['', 'A B', 'AAPL;DROP', 42 as unknown as string, 'X'.repeat(40)]) {
    assert.is(codeOf(makeBar({ symbol })), 'E_BAD_SYMBOL', String(symbol));
  }
  for (const ts of ['2020-01-02', '2020-01-02T00:00:00Z', '2020-02-30T00:00:00.000Z', '2020-01-02T00:00:00.000+01:00', 'yesterday', 1 as unknown as string]) {
    assert.is(codeOf(makeBar({ ts })), 'E_BAD_TIMESTAMP', String(ts));
  }
  assert.is(codeOf(makeBar({ interval: '' })), 'E_BAD_FIELD');
  assert.is(codeOf(makeBar({ source: ' ' })), 'E_BAD_FIELD');
});

t('Cleaner rejects invalid bars and bars of another symbol or interval, with codes', () => {
  const cleaner = new Cleaner({ symbol: 'TEST' });
  const { emitted, rejected } = run(cleaner, [
    makeBar({ ts: day(0) }),
    makeBar({ ts: day(1), high: 1 }),
    makeBar({ ts: day(2), symbol: 'OTHER' }),
    makeBar({ ts: day(3), interval: '1m' }),
    makeBar({ ts: day(4) }),
  ]);
  assert.equal(
    emitted.map((b) => b.ts),
    [day(0), day(4)],
  );
  assert.equal(
    rejected.map((r) => r.code),
    ['E_HIGH_BELOW_BODY', 'E_SYMBOL_MISMATCH', 'E_INTERVAL_MISMATCH'],
  );
});

t('dedupe on (symbol, ts, source) keeps the first copy; another source for the same ts is a conflict', () => {
  const cleaner = new Cleaner({ symbol: 'TEST', reorderWindow: 2 });
  const first = makeBar({ ts: day(1), close: 10.5 });
  const { emitted, rejected } = run(cleaner, [
    makeBar({ ts: day(0) }),
    first,
    makeBar({ ts: day(1), close: 10.7 }), // duplicate while buffered
    makeBar({ ts: day(1), source: 'other' }), // conflict while buffered
    makeBar({ ts: day(2) }),
    makeBar({ ts: day(3) }),
    makeBar({ ts: day(4) }),
    makeBar({ ts: day(1), close: 10.9 }), // duplicate after release
    makeBar({ ts: day(1), source: 'other' }), // conflict after release
  ]);
  assert.equal(
    emitted.map((b) => b.ts),
    [0, 1, 2, 3, 4].map(day),
  );
  assert.is(emitted[1]?.close, 10.5);
  assert.equal(
    rejected.map((r) => r.code),
    ['E_DUPLICATE', 'E_CONFLICT', 'E_DUPLICATE', 'E_CONFLICT'],
  );
});

t('bars out of order within the window are released in event-time order', () => {
  const cleaner = new Cleaner({ symbol: 'TEST', reorderWindow: 3 });
  const { emitted, rejected } = run(cleaner, days(0, 2, 1, 5, 3, 4, 6, 8, 7, 9));
  assert.is(rejected.length, 0);
  assert.equal(
    emitted.map((b) => b.ts),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(day),
  );
});

t('the window holds W bars: release happens once W newer bars arrived', () => {
  const cleaner = new Cleaner({ symbol: 'TEST', reorderWindow: 2 });
  assert.is(cleaner.push(makeBar({ ts: day(0) })).emitted.length, 0);
  assert.is(cleaner.push(makeBar({ ts: day(1) })).emitted.length, 0);
  assert.equal(
    cleaner.push(makeBar({ ts: day(2) })).emitted.map((b) => b.ts),
    [day(0)],
  );
  assert.is(cleaner.watermark, day(0));
  assert.is(cleaner.pending, 2);
});

t('a bar later than the window is rejected as E_LATE and emitted data is never reordered', () => {
  const cleaner = new Cleaner({ symbol: 'TEST', reorderWindow: 2 });
  const { emitted, rejected } = run(cleaner, [...days(0, 2, 3, 4, 5), makeBar({ ts: day(1) })]);
  assert.equal(
    emitted.map((b) => b.ts),
    [0, 2, 3, 4, 5].map(day),
  );
  assert.is(rejected.length, 1);
  assert.is(rejected[0]?.code, 'E_LATE');
  assert.match(rejected[0]?.reason ?? '', /watermark/);
});

t('with no window (W = 0) any step back in time is late', () => {
  const { emitted, rejected } = run(new Cleaner({ symbol: 'TEST' }), days(0, 1, 3, 2, 4));
  assert.equal(
    emitted.map((b) => b.ts),
    [0, 1, 3, 4].map(day),
  );
  assert.equal(
    rejected.map((r) => [r.ts, r.code]),
    [[day(2), 'E_LATE']],
  );
});

t('adjusted close: OHLC scaled by adjClose/close; adjFactor 1 without adjClose', () => {
  const cleaner = new Cleaner({ symbol: 'TEST' });
  const [adjusted, plain] = run(cleaner, [
    makeBar({ ts: day(0), open: 10, high: 12, low: 8, close: 10, adjClose: 5 }),
    makeBar({ ts: day(1) }),
  ]).emitted;
  assert.ok(adjusted && plain);
  assert.is(adjusted.adjFactor, 0.5);
  assert.equal([adjusted.open, adjusted.high, adjusted.low, adjusted.close], [5, 6, 4, 5]);
  assert.is(adjusted.adjClose, 5);
  assert.is(adjusted.volume, 1000);
  assert.is(plain.adjFactor, 1);
  assert.is(plain.close, 10.5);
});

t('zero-volume placeholder rows of the real 005930.KS.csv are flagged (127) and skipped by the features', () => {
  const bars = loadBars(path.join(pricesDir, '005930.KS.csv'));
  const { emitted, rejected } = run(new Cleaner({ symbol: '005930.KS' }), bars);
  assert.is(rejected.length, 0);
  assert.is(emitted.length, bars.length);
  const zero = emitted.filter((b) => b.flags.zeroVolume);
  assert.is(zero.length, 127);
  assert.is(zero[0]?.ts, '2000-02-04T00:00:00.000Z');
  assert.is(zero.at(-1)?.ts, '2022-03-17T00:00:00.000Z');
  assert.ok(zero.every((b) => b.volume === 0 && b.open === b.high && b.high === b.low && b.low === b.close));
  assert.ok(zero.every((b) => !b.flags.outlier));
  assert.is(emitted.filter((b) => !b.flags.zeroVolume && b.volume === 0).length, 0);

  const features = computeFeaturesFromBars(bars);
  assert.is(features.stats['005930.KS']?.skipped, 127);
  const placeholderDays = new Set(zero.map((b) => b.ts));
  assert.ok(features.rows.every((r) => !placeholderDays.has(r.ts)));
});

t('outlier: a corrupted tick is flagged from trailing statistics only', () => {
  const bars = loadBars(path.join(pricesDir, 'AAPL.csv'));
  const at = 2000;
  const corrupted = bars.map((b, i) => (i === at ? { ...b, high: b.high * 5, close: b.close * 5, adjClose: (b.adjClose as number) * 5 } : b));
  const original = run(new Cleaner({ symbol: 'AAPL' }), bars).emitted;
  const modified = run(new Cleaner({ symbol: 'AAPL' }), corrupted).emitted;
  assert.is(original[at]?.flags.outlier, false);
  assert.is(modified[at]?.flags.outlier, true);
  assert.is(modified[at + 1]?.flags.outlier, true, 'the return back to normal is as extreme');
  // No look-ahead: everything before the corrupted bar is flagged identically.
  assert.equal(
    modified.slice(0, at).map((b) => b.flags),
    original.slice(0, at).map((b) => b.flags),
  );
  // Robust statistics: one bad tick does not mask the flags of the following weeks.
  assert.equal(
    modified.slice(at + 2, at + 60).map((b) => b.flags.outlier),
    original.slice(at + 2, at + 60).map((b) => b.flags.outlier),
  );
});

t('outlier: nothing is flagged before outlierMinHistory returns exist', () => {
  const bars = [0, 1, 2, 3, 4].map((i) => makeBar({ ts: day(i), close: i === 4 ? 10.9 : 10.5, high: 11 }));
  const out = run(new Cleaner({ symbol: 'TEST', outlierMinHistory: 5 }), bars).emitted;
  assert.ok(out.every((b) => !b.flags.outlier));
});

t('snapshot → JSON → restore midway gives the same output as one pass (buffer included)', () => {
  const bars = loadBars(path.join(pricesDir, '005930.KS.csv'));
  // Shuffle neighbours so the reorder buffer is busy, and duplicate some bars.
  const input: Bar[] = [];
  for (let i = 0; i + 1 < bars.length; i += 2) input.push(bars[i + 1] as Bar, bars[i] as Bar);
  for (let i = 0; i < input.length; i += 97) input.splice(i + 1, 0, input[i] as Bar);
  const options = { symbol: '005930.KS', reorderWindow: 3 };
  const onePass = run(new Cleaner(options), input);
  for (const split of [1, 2, 150, 2801, input.length - 1]) {
    const first = new Cleaner(options);
    const emitted: CleanBar[] = [];
    const rejected: string[] = [];
    for (const bar of input.slice(0, split)) {
      const out = first.push(bar);
      emitted.push(...out.emitted);
      rejected.push(...out.rejected.map((r) => r.code));
    }
    const restored = Cleaner.restore(JSON.parse(JSON.stringify(first.snapshot())) as CleanerSnapshot);
    assert.is(restored.pending, first.pending);
    const rest = run(restored, input.slice(split));
    assert.equal([...emitted, ...rest.emitted], onePass.emitted, `split ${split}`);
    assert.equal(
      [...rejected, ...rest.rejected.map((r) => r.code)],
      onePass.rejected.map((r) => r.code),
    );
  }
  assert.ok(onePass.rejected.length > 0 && onePass.rejected.every((r) => r.code === 'E_DUPLICATE'));
});

t('synthetic bars stay synthetic through cleaning, the reorder buffer, a snapshot and the features; market bars get no field', () => {
  const FIRST_SYNTHETIC = 250;
  const bars = Array.from({ length: 300 }, (_, i) => {
    const close = 100 + Math.sin(i / 3) * 5;
    // A replayed history continued by generated bars.
    const synthetic = i >= FIRST_SYNTHETIC ? { synthetic: true as const } : {};
    return makeBar({ ts: day(i), open: close, high: close + 1, low: close - 1, close, volume: 1000 + i, source: synthetic.synthetic ? 'synthetic' : 'csv-replay', ...synthetic });
  });
  const { emitted, rejected } = run(new Cleaner({ symbol: 'TEST', reorderWindow: 2 }), bars);
  assert.is(rejected.length, 0);
  assert.equal(emitted.map((b) => b.synthetic === true), bars.map((_, i) => i >= FIRST_SYNTHETIC));
  assert.ok(emitted.slice(0, FIRST_SYNTHETIC).every((b) => !('synthetic' in b)), 'market bars have no synthetic field');
  // A synthetic bar waiting in the reorder buffer keeps its mark across a snapshot.
  const c = new Cleaner({ symbol: 'TEST', reorderWindow: 2 });
  for (const b of bars.slice(0, FIRST_SYNTHETIC + 2)) c.push(b);
  const restored = Cleaner.restore(JSON.parse(JSON.stringify(c.snapshot())) as CleanerSnapshot);
  assert.equal(restored.flush().map((b) => [b.ts, b.synthetic]), [[day(FIRST_SYNTHETIC), true], [day(FIRST_SYNTHETIC + 1), true]]);
  // Through the streaming pipeline: a feature row is about a bar that keeps the mark.
  const pipeline = SymbolPipeline.create('TEST');
  const features = bars.flatMap((b) => pipeline.push(b).features);
  assert.ok(features.length > 20, `features computed (${features.length})`);
  assert.equal(features.map((f) => f.bar.synthetic === true), features.map((f) => f.bar.ts >= day(FIRST_SYNTHETIC)));
  assert.ok(features.some((f) => f.bar.synthetic === true) && features.some((f) => !('synthetic' in f.bar)));
  // Anything but `true` is refused rather than guessed.
  assert.is(codeOf(makeBar({ synthetic: false as unknown as true })), 'E_BAD_FIELD');
  assert.is(codeOf(makeBar({ synthetic: 'yes' as unknown as true })), 'E_BAD_FIELD');
});

t('restore rejects malformed snapshots with E_BAD_SNAPSHOT', () => {
  const good = new Cleaner({ symbol: 'TEST' }).snapshot();
  for (const bad of [null, {}, { ...good, version: 99 }, { ...good, lastClose: -1 }, { ...good, returns: { buf: [], head: 0, size: 0 } }]) {
    assert.throws(
      () => Cleaner.restore(bad as CleanerSnapshot),
      (err: TransformError) => err.code === 'E_BAD_SNAPSHOT',
    );
  }
});

t.run();
