/**
 * Incremental per-symbol feature engine shared by the streaming transformer and the trainer's
 * CSV path (same class, same numbers: no train/serve skew by construction).
 *
 * Each `update(cleanBar)` costs O(1) (ring buffers, running sums, monotonic deques; ~40
 * fixed-size indicators) and the state has a fixed size whatever the series length. State can be
 * snapshot to plain JSON and restored; a restored engine continues bit-for-bit like the original.
 *
 * Inputs are the Cleaner's adjusted OHLC (split/dividend adjusted) and reported volume. Bars
 * flagged zeroVolume (placeholder days) are skipped: not fed to any indicator, no features.
 *
 * Feature definitions (c, o, h, l, v = adjusted close/open/high/low and volume of the current
 * bar; Ref(c, d) = close d bars earlier; windows include the current bar):
 *
 *  | name                     | definition                                                        | bars needed |
 *  |--------------------------|-------------------------------------------------------------------|-------------|
 *  | ret_{1,5,10,20}          | ln(c / Ref(c, h))                                                 | h+1         |
 *  | sma_ratio_{5,10,20,50}   | c / SMA(c, n) - 1                                                 | n           |
 *  | ema_ratio_{5,10,20,50}   | c / EMA(c, n) - 1 (TA-Lib EMA: SMA seed, k = 2/(n+1))             | n           |
 *  | rsi_14                   | Wilder RSI(14) / 100, in [0, 1]; 0 when the window had no move (TA-Lib) | 15    |
 *  | macd_line/signal/hist    | TA-Lib MACD(12, 26, 9) line, signal, histogram, each / c          | 34          |
 *  | bb_pctb_20               | Bollinger %B: (c - lower) / (upper - lower), SMA(20) ± 2·popstd; 0 when the bands collapse | 20 |
 *  | atr_14                   | Wilder ATR(14) in price units (TA-Lib ATR)                        | 15          |
 *  | atr_ratio_14             | ATR(14) / c                                                       | 15          |
 *  | volatility_20            | sample std (ddof 1) of the last 20 ret_1 values (not annualised)  | 21          |
 *  | volume_z_20              | (v - mean20(v)) / popstd20(v); 0 when the window volume is constant | 20        |
 *  | KMID, KLEN               | (c - o)/o, (h - l)/o                                              | 1           |
 *  | KMID2                    | (c - o)/(h - l + 1e-12)                                           | 1           |
 *  | KUP, KUP2                | (h - max(o, c))/o, (h - max(o, c))/(h - l + 1e-12)                | 1           |
 *  | KLOW, KLOW2              | (min(o, c) - l)/o, (min(o, c) - l)/(h - l + 1e-12)                | 1           |
 *  | KSFT, KSFT2              | (2c - h - l)/o, (2c - h - l)/(h - l + 1e-12)                      | 1           |
 *  | ROC{d}                   | Ref(c, d) / c   (Qlib's definition: the inverse of the usual ROC)  | d+1         |
 *  | MA{d}                    | Mean(c, d) / c                                                    | d           |
 *  | STD{d}                   | Std(c, d) / c, sample std (ddof 1, as pandas/Qlib)                | d           |
 *  | MAX{d}, MIN{d}           | Max(h, d) / c, Min(l, d) / c                                      | d           |
 *  | RSV{d}                   | (c - Min(l, d)) / (Max(h, d) - Min(l, d) + 1e-12)                 | d           |
 *  | CORR{d}                  | Corr(c, ln(v + 1), d), Pearson; 0 when either side is constant    | d           |
 *  (d ∈ 5, 10, 20, 30, 60 — Qlib Alpha158 names and formulas, Qlib `contrib/data/loader.py`)
 *
 * Guards: every denominator that can be 0 yields 0 (noted above; prices are > 0 after cleaning,
 * so the only such cases are zero-variance windows). Qlib yields NaN for CORR/STD on constant
 * windows; we yield 0. A non-finite value would be a bug and raises E_NOT_FINITE instead of
 * being emitted. -0 is emitted as 0.
 *
 * Warm-up: `ready` is false (and values/vector are empty) until WARMUP_BARS non-placeholder bars
 * were seen (the longest requirement above: ROC60 needs 61). Recursive indicators (EMA, RSI,
 * ATR, MACD) keep a fading memory of where the series started, exactly like TA-Lib; a consumer
 * that starts from scratch instead of a snapshot should replay enough history (≥ 250 bars keeps
 * the EMA50 start-up effect below 1e-4 relative).
 */
import { createHash } from 'node:crypto';
import type { CleanBar } from './clean.ts';
import { TransformError } from './errors.ts';
import {
  Atr,
  Bollinger,
  Ema,
  Macd,
  RELATIVE_ZERO,
  RollingCorrelation,
  RollingMax,
  RollingMin,
  RollingStdDev,
  Rsi,
  Sma,
} from './features/indicators.ts';
import { RingBuffer, type RingState, checkCount, checkSnapshot } from './features/state.ts';

export const RETURN_HORIZONS = [1, 5, 10, 20] as const;
export const MA_WINDOWS = [5, 10, 20, 50] as const;
export const ALPHA_WINDOWS = [5, 10, 20, 30, 60] as const;
const KBAR = ['KMID', 'KLEN', 'KMID2', 'KUP', 'KUP2', 'KLOW', 'KLOW2', 'KSFT', 'KSFT2'] as const;
const ALPHA_ROLLING = ['ROC', 'MA', 'STD', 'MAX', 'MIN', 'RSV', 'CORR'] as const;
/** Qlib's epsilon in the candle-range denominators. */
const QLIB_EPS = 1e-12;

const FEATURE_NAMES: readonly string[] = Object.freeze([
  ...RETURN_HORIZONS.map((h) => `ret_${h}`),
  ...MA_WINDOWS.map((n) => `sma_ratio_${n}`),
  ...MA_WINDOWS.map((n) => `ema_ratio_${n}`),
  'rsi_14',
  'macd_line',
  'macd_signal',
  'macd_hist',
  'bb_pctb_20',
  'atr_14',
  'atr_ratio_14',
  'volatility_20',
  'volume_z_20',
  ...KBAR,
  ...ALPHA_ROLLING.flatMap((op) => ALPHA_WINDOWS.map((d) => `${op}${d}`)),
]);

export interface FeatureSchema {
  /** Bump whenever a name, its order or its definition changes. */
  readonly version: string;
  readonly names: readonly string[];
  /** sha256 hex of `${version}|${names.join(',')}`. */
  readonly hash: string;
}

/** Hash identifying a feature schema (version + ordered names). */
export function featureSchemaHash(version: string, names: readonly string[]): string {
  return createHash('sha256').update(`${version}|${names.join(',')}`).digest('hex');
}

const SCHEMA_VERSION = '1.0.0';

export const FEATURE_SCHEMA: FeatureSchema = Object.freeze({
  version: SCHEMA_VERSION,
  names: FEATURE_NAMES,
  hash: featureSchemaHash(SCHEMA_VERSION, FEATURE_NAMES),
});

/** Non-placeholder bars needed before the first ready update (ROC60 = Ref(c, 60)/c needs 61). */
export const WARMUP_BARS = Math.max(
  ...RETURN_HORIZONS.map((h) => h + 1),
  ...ALPHA_WINDOWS.map((d) => d + 1), // ROC{d}
  ...MA_WINDOWS,
  26 + 9 - 1, // MACD(12, 26, 9): first output at input index slow-1 + signal-1
  14 + 1, // RSI(14), ATR(14)
  20 + 1, // volatility_20: 20 returns
);

const CLOSE_HISTORY = Math.max(...RETURN_HORIZONS, ...ALPHA_WINDOWS) + 1;

export interface FeatureUpdate {
  /** False during warm-up and for skipped (zero-volume) bars; values/vector are then empty. */
  ready: boolean;
  /** True when the bar was a zero-volume placeholder and was not fed to the indicators. */
  skipped: boolean;
  values: Record<string, number>;
  /** Same numbers as `values`, in FEATURE_SCHEMA.names order. */
  vector: number[];
}

interface Stateful {
  snapshot(): unknown;
  restore(state: never): void;
}

export interface FeatureEngineSnapshot {
  kind: 'FeatureEngine';
  schemaVersion: string;
  schemaHash: string;
  symbol: string;
  count: number;
  lastTs: string | null;
  closes: RingState;
  parts: Record<string, unknown>;
}

function div(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/**
 * A ready update whose name → value record is built on first access only: the streaming path
 * uses the vector, and building a 65-key object per bar was a measurable share of its
 * allocations (bench/transform.bench.ts).
 */
function readyUpdate(vector: number[]): FeatureUpdate {
  let values: Record<string, number> | undefined;
  return {
    ready: true,
    skipped: false,
    vector,
    get values(): Record<string, number> {
      if (!values) {
        values = {};
        FEATURE_SCHEMA.names.forEach((name, i) => ((values as Record<string, number>)[name] = vector[i] as number));
      }
      return values;
    },
  };
}

function notReady(skipped: boolean): FeatureUpdate {
  return { ready: false, skipped, values: {}, vector: [] };
}

/** Per-symbol incremental feature computation; see the module comment for definitions. */
export class FeatureEngine {
  readonly symbol: string;
  private count = 0;
  private lastTs: string | undefined;
  private readonly closes = new RingBuffer(CLOSE_HISTORY);
  private readonly sma = new Map<number, Sma>();
  private readonly ema = new Map<number, Ema>();
  private readonly rsi = new Rsi(14, { zero: RELATIVE_ZERO });
  private readonly macd = new Macd(12, 26, 9);
  private readonly bollinger = new Bollinger(20, 2, { zero: RELATIVE_ZERO });
  private readonly atr = new Atr(14);
  private readonly volatility = new RollingStdDev(20, { ddof: 1, zero: RELATIVE_ZERO });
  private readonly volume = new RollingStdDev(20, { ddof: 0, zero: RELATIVE_ZERO });
  private readonly std = new Map<number, RollingStdDev>();
  private readonly max = new Map<number, RollingMax>();
  private readonly min = new Map<number, RollingMin>();
  private readonly corr = new Map<number, RollingCorrelation>();
  /** Every stateful part by a stable key, for snapshot/restore. */
  private readonly parts: Record<string, Stateful>;

  constructor(symbol: string) {
    if (typeof symbol !== 'string' || symbol.trim() === '') throw new TransformError('E_BAD_ARGUMENT', 'symbol must be a non-empty string');
    this.symbol = symbol;
    for (const n of new Set<number>([...MA_WINDOWS, ...ALPHA_WINDOWS])) this.sma.set(n, new Sma(n));
    for (const n of MA_WINDOWS) this.ema.set(n, new Ema(n));
    for (const d of ALPHA_WINDOWS) {
      this.std.set(d, new RollingStdDev(d, { ddof: 1, zero: RELATIVE_ZERO }));
      this.max.set(d, new RollingMax(d));
      this.min.set(d, new RollingMin(d));
      this.corr.set(d, new RollingCorrelation(d, { zero: RELATIVE_ZERO }));
    }
    const parts: Record<string, Stateful> = {
      rsi: this.rsi,
      macd: this.macd,
      bollinger: this.bollinger,
      atr: this.atr,
      volatility: this.volatility,
      volume: this.volume,
    };
    for (const [n, p] of this.sma) parts[`sma${n}`] = p;
    for (const [n, p] of this.ema) parts[`ema${n}`] = p;
    for (const [n, p] of this.std) parts[`std${n}`] = p;
    for (const [n, p] of this.max) parts[`max${n}`] = p;
    for (const [n, p] of this.min) parts[`min${n}`] = p;
    for (const [n, p] of this.corr) parts[`corr${n}`] = p;
    this.parts = parts;
  }

  /** Non-placeholder bars consumed so far. */
  get barsSeen(): number {
    return this.count;
  }

  get ready(): boolean {
    return this.count >= WARMUP_BARS;
  }

  /**
   * Consumes the next bar of this symbol (strictly increasing ts — the Cleaner guarantees it).
   * @throws TransformError E_SYMBOL_MISMATCH, E_OUT_OF_ORDER, E_NOT_FINITE (bug guard)
   */
  update(bar: CleanBar): FeatureUpdate {
    if (bar.symbol !== this.symbol) {
      throw new TransformError('E_SYMBOL_MISMATCH', `bar for ${bar.symbol} given to the ${this.symbol} feature engine`);
    }
    if (this.lastTs !== undefined && !(bar.ts > this.lastTs)) {
      throw new TransformError('E_OUT_OF_ORDER', `bar ts ${bar.ts} is not after ${this.lastTs}`, { symbol: this.symbol });
    }
    this.lastTs = bar.ts;
    if (bar.flags.zeroVolume) return notReady(true);

    const { open: o, high: h, low: l, close: c, volume: v } = bar;
    const prevClose = this.closes.length > 0 ? this.closes.back(0) : undefined;
    this.closes.push(c);
    this.count++;

    // Every indicator is updated on every bar, ready or not, so warm-up state is always complete.
    for (const s of this.sma.values()) s.update(c);
    for (const e of this.ema.values()) e.update(c);
    this.rsi.update(c);
    const macd = this.macd.update(c);
    const bb = this.bollinger.update(c);
    const atr = this.atr.update(h, l, c);
    const volatility = prevClose === undefined ? undefined : this.volatility.update(Math.log(c / prevClose));
    const volumeStd = this.volume.update(v);
    const logVolume = Math.log(v + 1);
    for (const d of ALPHA_WINDOWS) {
      (this.std.get(d) as RollingStdDev).update(c);
      (this.max.get(d) as RollingMax).update(h);
      (this.min.get(d) as RollingMin).update(l);
      (this.corr.get(d) as RollingCorrelation).update(c, logVolume);
    }
    if (this.count < WARMUP_BARS) return notReady(false);

    const vector: number[] = [];
    for (const hz of RETURN_HORIZONS) vector.push(Math.log(c / this.closes.back(hz)));
    for (const n of MA_WINDOWS) vector.push(c / (this.sma.get(n)?.value as number) - 1);
    for (const n of MA_WINDOWS) vector.push(c / (this.ema.get(n)?.value as number) - 1);
    vector.push((this.rsi.value as number) / 100);
    const m = macd as NonNullable<typeof macd>;
    vector.push(m.macd / c, m.signal / c, m.hist / c);
    vector.push((bb as NonNullable<typeof bb>).percentB);
    vector.push(atr as number, (atr as number) / c);
    vector.push(volatility as number);
    vector.push(div(v - (this.volume.mean as number), volumeStd as number));

    const range = h - l + QLIB_EPS;
    const top = Math.max(o, c);
    const bottom = Math.min(o, c);
    vector.push(
      (c - o) / o,
      (h - l) / o,
      (c - o) / range,
      (h - top) / o,
      (h - top) / range,
      (bottom - l) / o,
      (bottom - l) / range,
      (2 * c - h - l) / o,
      (2 * c - h - l) / range,
    );

    for (const d of ALPHA_WINDOWS) vector.push(this.closes.back(d) / c);
    for (const d of ALPHA_WINDOWS) vector.push((this.sma.get(d)?.value as number) / c);
    for (const d of ALPHA_WINDOWS) vector.push((this.std.get(d)?.value as number) / c);
    for (const d of ALPHA_WINDOWS) vector.push((this.max.get(d)?.value as number) / c);
    for (const d of ALPHA_WINDOWS) vector.push((this.min.get(d)?.value as number) / c);
    for (const d of ALPHA_WINDOWS) {
      const hi = this.max.get(d)?.value as number;
      const lo = this.min.get(d)?.value as number;
      vector.push((c - lo) / (hi - lo + QLIB_EPS));
    }
    for (const d of ALPHA_WINDOWS) vector.push(Math.max(-1, Math.min(1, this.corr.get(d)?.value as number)));

    const names = FEATURE_SCHEMA.names;
    for (let i = 0; i < vector.length; i++) {
      const x = vector[i] as number;
      if (!Number.isFinite(x)) {
        throw new TransformError('E_NOT_FINITE', `feature ${names[i]} is ${x} at ${bar.ts}`, { symbol: this.symbol, ts: bar.ts });
      }
      vector[i] = x === 0 ? 0 : x; // -0 → 0
    }
    return readyUpdate(vector);
  }

  snapshot(): FeatureEngineSnapshot {
    const parts: Record<string, unknown> = {};
    for (const [key, part] of Object.entries(this.parts)) parts[key] = part.snapshot();
    return {
      kind: 'FeatureEngine',
      schemaVersion: FEATURE_SCHEMA.version,
      schemaHash: FEATURE_SCHEMA.hash,
      symbol: this.symbol,
      count: this.count,
      lastTs: this.lastTs ?? null,
      closes: this.closes.snapshot(),
      parts,
    };
  }

  /**
   * Rebuilds an engine from `snapshot()` output (typically after JSON storage).
   * @throws TransformError E_SCHEMA_MISMATCH when taken under another feature schema; E_BAD_SNAPSHOT when malformed.
   */
  static restore(snapshot: FeatureEngineSnapshot): FeatureEngine {
    checkSnapshot(typeof snapshot === 'object' && snapshot !== null && snapshot.kind === 'FeatureEngine', 'expected a FeatureEngine snapshot');
    if (snapshot.schemaHash !== FEATURE_SCHEMA.hash) {
      throw new TransformError(
        'E_SCHEMA_MISMATCH',
        `snapshot was taken with feature schema ${String(snapshot.schemaVersion)} (${String(snapshot.schemaHash).slice(0, 12)}), this build has ${FEATURE_SCHEMA.version} (${FEATURE_SCHEMA.hash.slice(0, 12)})`,
      );
    }
    checkSnapshot(typeof snapshot.symbol === 'string' && snapshot.symbol !== '', 'FeatureEngine.symbol');
    checkCount(snapshot.count, 'FeatureEngine.count');
    checkSnapshot(snapshot.lastTs === null || typeof snapshot.lastTs === 'string', 'FeatureEngine.lastTs');
    checkSnapshot(typeof snapshot.parts === 'object' && snapshot.parts !== null, 'FeatureEngine.parts');
    const engine = new FeatureEngine(snapshot.symbol);
    const expected = Object.keys(engine.parts).sort();
    checkSnapshot(Object.keys(snapshot.parts).sort().join(',') === expected.join(','), 'FeatureEngine.parts keys');
    for (const key of expected) (engine.parts[key] as Stateful).restore(snapshot.parts[key] as never);
    engine.closes.restore(snapshot.closes, 'FeatureEngine.closes');
    engine.count = snapshot.count;
    engine.lastTs = snapshot.lastTs ?? undefined;
    return engine;
  }
}
