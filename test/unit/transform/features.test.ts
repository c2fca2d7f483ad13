import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  type Bar,
  type CleanBar,
  Cleaner,
  FEATURE_SCHEMA,
  FeatureEngine,
  type FeatureEngineSnapshot,
  type TransformError,
  WARMUP_BARS,
  computeFeaturesFromBars,
} from '@stock-mlops/transform';
import { suite } from '../../harness/index.ts';
import { loadBars, priceFiles, pricesDir, prng, symbolOf } from '../../support/transform.ts';

const t = suite('transform/features');

const errorCode = (code: string) => (err: TransformError) => err.code === code;

function clean(bars: readonly Bar[], symbol: string): CleanBar[] {
  const cleaner = new Cleaner({ symbol });
  const out = bars.flatMap((b) => cleaner.push(b).emitted);
  return [...out, ...cleaner.flush()];
}

/** Feature vectors (null when not ready) of one pass over `bars`. */
function onePass(bars: readonly CleanBar[], symbol: string): (number[] | null)[] {
  const engine = new FeatureEngine(symbol);
  return bars.map((b) => {
    const out = engine.update(b);
    return out.ready ? out.vector : null;
  });
}

/** Byte view of a vector: equality here means bit-identical doubles (incl. the sign of zero). */
const bytes = (v: number[] | null): string | null => (v === null ? null : Buffer.from(new Float64Array(v).buffer).toString('hex'));

/** Number of leaves (numbers, strings, booleans, nulls) in a JSON value. */
function leaves(x: unknown): number {
  if (Array.isArray(x)) return x.reduce((n: number, v) => n + leaves(v), 0);
  if (x !== null && typeof x === 'object') return Object.values(x).reduce((n: number, v) => n + leaves(v), 0);
  return 1;
}

const aapl = clean(loadBars(path.join(pricesDir, 'AAPL.csv')), 'AAPL');
const samsung = clean(loadBars(path.join(pricesDir, '005930.KS.csv')), '005930.KS');

t('schema: fixed ordered names, versioned, hash = sha256(version|names)', () => {
  const { version, names, hash } = FEATURE_SCHEMA;
  assert.is(names.length, 65);
  assert.is(new Set(names).size, names.length, 'unique names');
  assert.is(hash, createHash('sha256').update(`${version}|${names.join(',')}`).digest('hex'));
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(names.slice(0, 4), ['ret_1', 'ret_5', 'ret_10', 'ret_20']);
  for (const n of ['rsi_14', 'macd_line', 'macd_signal', 'macd_hist', 'bb_pctb_20', 'atr_14', 'atr_ratio_14', 'volatility_20', 'volume_z_20', 'KMID', 'KSFT2']) {
    assert.ok(names.includes(n), n);
  }
  for (const op of ['ROC', 'MA', 'STD', 'MAX', 'MIN', 'RSV', 'CORR']) {
    for (const d of [5, 10, 20, 30, 60]) assert.ok(names.includes(`${op}${d}`), `${op}${d}`);
  }
  assert.ok(Object.isFrozen(FEATURE_SCHEMA) && Object.isFrozen(names));
});

t('warm-up: not ready (empty output) until WARMUP_BARS real bars, ready on every bar after', () => {
  assert.is(WARMUP_BARS, 61);
  const engine = new FeatureEngine('AAPL');
  aapl.slice(0, 200).forEach((bar, i) => {
    const out = engine.update(bar);
    assert.is(out.ready, i + 1 >= WARMUP_BARS, `bar ${i}`);
    assert.is(out.skipped, false);
    assert.is(out.vector.length, out.ready ? FEATURE_SCHEMA.names.length : 0);
    assert.equal(Object.keys(out.values), out.ready ? [...FEATURE_SCHEMA.names] : []);
    if (out.ready) assert.equal(out.vector, FEATURE_SCHEMA.names.map((n) => out.values[n]));
  });
});

t('zero-volume placeholders are skipped: no features, no effect on indicators or warm-up', () => {
  const engine = new FeatureEngine('005930.KS');
  let real = 0;
  for (const bar of samsung.slice(0, 400)) {
    const out = engine.update(bar);
    if (bar.flags.zeroVolume) {
      assert.equal(out, { ready: false, skipped: true, values: {}, vector: [] });
      continue;
    }
    real++;
    assert.is(out.ready, real >= WARMUP_BARS);
  }
  assert.ok(samsung.slice(0, 400).some((b) => b.flags.zeroVolume), 'the slice contains placeholders');
  // Same numbers as feeding only the real bars.
  const withPlaceholders = onePass(samsung, '005930.KS').filter((_, i) => !samsung[i]?.flags.zeroVolume);
  const withoutPlaceholders = onePass(
    samsung.filter((b) => !b.flags.zeroVolume),
    '005930.KS',
  );
  assert.equal(withPlaceholders.map(bytes), withoutPlaceholders.map(bytes));
});

t('O(1) state: the snapshot has the same shape and size whatever the series length', () => {
  const engine = new FeatureEngine('AMZN');
  const bars = clean(loadBars(path.join(pricesDir, 'AMZN.csv')), 'AMZN');
  const initial = leaves(engine.snapshot());
  const sizes = new Set<number>();
  bars.forEach((bar, i) => {
    engine.update(bar);
    if (i % 500 === 0 || i === bars.length - 1) sizes.add(leaves(engine.snapshot()));
  });
  assert.equal([...sizes], [initial], 'leaf count never changes');
  // Generous bound on the serialized size (≈ a few hundred numbers per window), independent of 6,025 bars.
  assert.ok(JSON.stringify(engine.snapshot()).length < 40_000);
});

t('one pass vs snapshot → JSON → restore midway: bit-identical features', () => {
  for (const [bars, symbol] of [
    [aapl, 'AAPL'],
    [samsung, '005930.KS'],
  ] as const) {
    const expected = onePass(bars, symbol).map(bytes);
    for (const split of [1, 30, WARMUP_BARS, 777, 3000]) {
      const first = new FeatureEngine(symbol);
      const got: (string | null)[] = bars.slice(0, split).map((b) => {
        const out = first.update(b);
        return out.ready ? bytes(out.vector) : null;
      });
      const restored = FeatureEngine.restore(JSON.parse(JSON.stringify(first.snapshot())) as FeatureEngineSnapshot);
      for (const b of bars.slice(split)) {
        const out = restored.update(b);
        got.push(out.ready ? bytes(out.vector) : null);
      }
      assert.equal(got, expected, `${symbol} split at ${split}`);
    }
  }
});

t('no look-ahead: features at bar t do not change when bars after t are altered or removed', () => {
  const cut = 1500;
  const expected = onePass(aapl, 'AAPL').slice(0, cut + 1).map(bytes);
  const rand = prng(7);
  const altered = aapl.map((b, i) => {
    if (i <= cut) return b;
    const k = 0.5 + rand();
    return { ...b, open: b.open * k, high: b.high * k * 1.1, low: b.low * k * 0.9, close: b.close * k, volume: Math.round(b.volume * rand()) + 1 };
  });
  assert.equal(onePass(altered, 'AAPL').slice(0, cut + 1).map(bytes), expected);
  assert.equal(onePass(aapl.slice(0, cut + 1), 'AAPL').map(bytes), expected);
});

t('no NaN/Infinity and sane ranges on ALL shared price files', () => {
  const names = FEATURE_SCHEMA.names;
  const idx = (n: string): number => names.indexOf(n);
  for (const file of priceFiles()) {
    const symbol = symbolOf(file);
    const bars = loadBars(file);
    const { rows, rejected, stats } = computeFeaturesFromBars(bars);
    const s = stats[symbol];
    assert.ok(s);
    assert.is(rejected.length, 0, symbol);
    assert.is(s.cleaned, bars.length);
    assert.is(rows.length, s.cleaned - s.skipped - (WARMUP_BARS - 1), symbol);
    for (const row of rows) {
      assert.is(row.vector.length, names.length);
      for (let j = 0; j < row.vector.length; j++) {
        const x = row.vector[j] as number;
        if (!Number.isFinite(x)) assert.unreachable(`${symbol} ${row.ts} ${names[j]} = ${x}`);
      }
      const at = (n: string): number => row.vector[idx(n)] as number;
      assert.ok(at('rsi_14') >= 0 && at('rsi_14') <= 1);
      assert.ok(at('KLEN') >= 0 && at('KUP') >= 0 && at('KLOW') >= 0);
      for (const d of [5, 10, 20, 30, 60]) {
        assert.ok(at(`RSV${d}`) >= 0 && at(`RSV${d}`) <= 1 + 1e-9, `${symbol} RSV${d}`);
        assert.ok(Math.abs(at(`CORR${d}`)) <= 1);
        assert.ok(at(`MAX${d}`) >= 1 - 1e-12 && at(`MIN${d}`) <= 1 + 1e-12);
        assert.ok(at(`STD${d}`) >= 0);
      }
    }
  }
});

t('definitions spot-check against a direct computation on AAPL', () => {
  const rows = computeFeaturesFromBars(loadBars(path.join(pricesDir, 'AAPL.csv'))).rows;
  const row = rows[1000];
  assert.ok(row);
  const i = aapl.findIndex((b) => b.ts === row.ts);
  const c = aapl.slice(i - 59, i + 1).map((b) => b.close);
  const close = c.at(-1) as number;
  const v = (n: string): number => row.vector[FEATURE_SCHEMA.names.indexOf(n)] as number;
  const near = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
  near(v('ret_5'), Math.log(close / (aapl[i - 5] as CleanBar).close), 'ret_5');
  near(v('ROC20'), (aapl[i - 20] as CleanBar).close / close, 'ROC20');
  const last20 = c.slice(-20);
  const mean20 = last20.reduce((a, b) => a + b, 0) / 20;
  near(v('MA20'), mean20 / close, 'MA20');
  near(v('STD20'), Math.sqrt(last20.reduce((a, b) => a + (b - mean20) ** 2, 0) / 19) / close, 'STD20 (ddof 1)');
  near(v('MAX10'), Math.max(...aapl.slice(i - 9, i + 1).map((b) => b.high)) / close, 'MAX10');
  const bar = aapl[i] as CleanBar;
  near(v('KMID'), (bar.close - bar.open) / bar.open, 'KMID');
  near(v('KSFT2'), (2 * bar.close - bar.high - bar.low) / (bar.high - bar.low + 1e-12), 'KSFT2');
  near(1 / v('MA5'), 1 + v('sma_ratio_5'), 'MA5 vs sma_ratio_5');
});

t('update rejects another symbol and non-increasing timestamps', () => {
  const engine = new FeatureEngine('AAPL');
  engine.update(aapl[10] as CleanBar);
  assert.throws(() => engine.update({ ...(aapl[11] as CleanBar), symbol: 'MSFT' }), errorCode('E_SYMBOL_MISMATCH'));
  assert.throws(() => engine.update(aapl[10] as CleanBar), errorCode('E_OUT_OF_ORDER'));
  assert.throws(() => engine.update(aapl[9] as CleanBar), errorCode('E_OUT_OF_ORDER'));
  assert.is(engine.barsSeen, 1);
});

t('restore refuses a snapshot of another schema (E_SCHEMA_MISMATCH) or a malformed one (E_BAD_SNAPSHOT)', () => {
  const engine = new FeatureEngine('AAPL');
  for (const b of aapl.slice(0, 80)) engine.update(b);
  const snap = JSON.parse(JSON.stringify(engine.snapshot())) as FeatureEngineSnapshot;
  assert.throws(() => FeatureEngine.restore({ ...snap, schemaHash: 'f'.repeat(64) }), errorCode('E_SCHEMA_MISMATCH'));
  const badParts = JSON.parse(JSON.stringify(snap)) as FeatureEngineSnapshot;
  delete badParts.parts.rsi;
  assert.throws(() => FeatureEngine.restore(badParts), errorCode('E_BAD_SNAPSHOT'));
  const badRing = JSON.parse(JSON.stringify(snap)) as FeatureEngineSnapshot & { parts: { sma5: { ring: { buf: unknown[] } } } };
  badRing.parts.sma5.ring.buf = [1, 2];
  assert.throws(() => FeatureEngine.restore(badRing), errorCode('E_BAD_SNAPSHOT'));
  const badValue = JSON.parse(JSON.stringify(snap)) as FeatureEngineSnapshot & { parts: { ema5: { value: unknown } } };
  badValue.parts.ema5.value = 'x';
  assert.throws(() => FeatureEngine.restore(badValue), errorCode('E_BAD_SNAPSHOT'));
});

t('computeFeaturesFromBars handles several symbols and reports rejected bars', () => {
  const a = loadBars(path.join(pricesDir, 'MSFT.csv')).slice(0, 100);
  const b = loadBars(path.join(pricesDir, 'AAPL.csv')).slice(0, 100);
  const mixed: Bar[] = [];
  a.forEach((bar, i) => mixed.push(bar, b[i] as Bar));
  mixed.push({ ...(a[50] as Bar) }, { ...(b[99] as Bar), high: 0.0001 });
  const out = computeFeaturesFromBars(mixed);
  assert.equal(
    out.rejected.map((r) => r.code),
    ['E_DUPLICATE', 'E_HIGH_BELOW_BODY'],
  );
  assert.equal(Object.keys(out.stats), ['MSFT', 'AAPL']);
  assert.is(out.rows.length, 2 * (100 - WARMUP_BARS + 1));
  assert.equal(out.rows.slice(0, 40).map((r) => r.symbol), new Array(40).fill('MSFT'));
  assert.equal(out.schema, FEATURE_SCHEMA);
  const single = computeFeaturesFromBars(a).rows;
  assert.equal(
    out.rows.filter((r) => r.symbol === 'MSFT').map((r) => bytes(r.vector)),
    single.map((r) => bytes(r.vector)),
    'interleaving symbols does not change per-symbol features',
  );
});

t.run();
