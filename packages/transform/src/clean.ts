/**
 * Cleaning: validation, de-duplication, bounded re-ordering, adjustment and quality flags.
 * Pure and deterministic — the same input sequence (or the same snapshot plus the rest of the
 * sequence) always yields the same output.
 *
 * Policies (per symbol, one `Cleaner` per symbol):
 *
 * - Validation (`validateBar`) rejects a bar with a code; it never repairs it.
 * - De-duplication: the key is (symbol, ts, source); the first bar wins, later copies are
 *   rejected with E_DUPLICATE. A bar for a ts that another source already supplied is rejected
 *   with E_CONFLICT (the first source wins), so downstream sees at most one bar per ts.
 * - Out-of-order window (watermark): up to `reorderWindow` (W) bars are buffered and kept sorted
 *   by event time; when a bar arrives and the buffer holds more than W bars, the oldest is
 *   released. The watermark is the ts of the last released bar. A bar at or before the
 *   watermark is never inserted (that would reorder data already emitted): it is rejected as
 *   E_LATE (or E_DUPLICATE / E_CONFLICT when it matches one of the last `dedupeMemory` released
 *   bars). W = 0 means no buffering: bars must arrive in strictly increasing ts. A larger W
 *   tolerates more disorder at the cost of W bars of latency; `flush()` releases the buffer (end
 *   of a batch, or an idle timer in the streaming service).
 * - Adjustment: when `adjClose` is present, adjFactor = adjClose / close and open, high, low and
 *   close are multiplied by it (so close·adjFactor ≈ adjClose within one rounding), giving
 *   split/dividend-adjusted prices to the features. Volume is left as reported (Yahoo volumes
 *   are already split-adjusted). Without `adjClose`, adjFactor = 1.
 * - zeroVolume flag: volume === 0 (e.g. Yahoo placeholder rows on KRX holidays, O=H=L=C). Such
 *   bars are emitted, flagged, and skipped by the FeatureEngine; they do not enter outlier stats.
 * - outlier flag: the adjusted log return vs the previous non-placeholder bar deviates from the
 *   trailing median by more than `outlierThreshold` robust sigmas, sigma = 1.4826 · MAD of the
 *   last `outlierWindow` returns (trailing only: the current return is not in its own
 *   statistics). Needs `outlierMinHistory` returns first. Flagged bars are still emitted and
 *   still used by the features (a crash day is real data); consumers may choose to drop them.
 *   Cost: O(outlierWindow) per bar, a constant.
 */
import type { Bar } from './bar.ts';
import { TransformError } from './errors.ts';
import { RingBuffer, type RingState, checkSnapshot, isFiniteNumber } from './features/state.ts';

export const BAR_REJECT_CODES = {
  E_BAD_SYMBOL: 'E_BAD_SYMBOL',
  E_BAD_TIMESTAMP: 'E_BAD_TIMESTAMP',
  E_BAD_FIELD: 'E_BAD_FIELD',
  E_NOT_FINITE: 'E_NOT_FINITE',
  E_NON_POSITIVE_PRICE: 'E_NON_POSITIVE_PRICE',
  E_HIGH_BELOW_BODY: 'E_HIGH_BELOW_BODY',
  E_LOW_ABOVE_BODY: 'E_LOW_ABOVE_BODY',
  E_NEGATIVE_VOLUME: 'E_NEGATIVE_VOLUME',
  E_SYMBOL_MISMATCH: 'E_SYMBOL_MISMATCH',
  E_INTERVAL_MISMATCH: 'E_INTERVAL_MISMATCH',
  E_DUPLICATE: 'E_DUPLICATE',
  E_CONFLICT: 'E_CONFLICT',
  E_LATE: 'E_LATE',
} as const;

export type BarRejectCode = (typeof BAR_REJECT_CODES)[keyof typeof BAR_REJECT_CODES];

export type BarValidation = { ok: true } | { ok: false; code: BarRejectCode; reason: string };

export interface BarFlags {
  zeroVolume: boolean;
  outlier: boolean;
}

/** A bar that passed cleaning. open/high/low/close are adjusted (× adjFactor). */
export interface CleanBar extends Bar {
  adjFactor: number;
  flags: BarFlags;
}

export interface Rejection {
  bar: Bar;
  code: BarRejectCode;
  reason: string;
}

export interface CleanerResult {
  emitted: CleanBar[];
  rejected: Rejection[];
}

/** Tickers such as AAPL, 005930.KS, ^DJI, BRK-B, EURUSD=X, BTC-USD. */
const SYMBOL_RE = /^[A-Za-z0-9^][A-Za-z0-9.\-=^_/:]{0,31}$/;
const ISO_UTC_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function fail(code: BarRejectCode, reason: string): BarValidation {
  return { ok: false, code, reason };
}

/**
 * Checks one bar. Rules, in order: symbol syntax; ts is canonical ISO-8601 UTC
 * (`Date#toISOString()` form, so string order = time order); interval and source are non-empty
 * strings; every number (and adjClose when present) is finite; prices > 0; high ≥ max(open,
 * close); low ≤ min(open, close) (together these imply high ≥ low); volume ≥ 0; `synthetic` is
 * true or absent.
 */
export function validateBar(bar: Bar): BarValidation {
  if (typeof bar !== 'object' || bar === null) return fail('E_BAD_FIELD', 'bar is not an object');
  if (typeof bar.symbol !== 'string' || !SYMBOL_RE.test(bar.symbol)) {
    return fail('E_BAD_SYMBOL', `invalid symbol ${JSON.stringify(bar.symbol)}`);
  }
  if (typeof bar.ts !== 'string' || !ISO_UTC_RE.test(bar.ts) || Number.isNaN(Date.parse(bar.ts)) || new Date(bar.ts).toISOString() !== bar.ts) {
    return fail('E_BAD_TIMESTAMP', `ts must be canonical ISO-8601 UTC (YYYY-MM-DDTHH:mm:ss.sssZ), got ${JSON.stringify(bar.ts)}`);
  }
  for (const field of ['interval', 'source'] as const) {
    if (typeof bar[field] !== 'string' || bar[field].trim() === '') return fail('E_BAD_FIELD', `${field} must be a non-empty string`);
  }
  const numbers: [string, unknown][] = [
    ['open', bar.open],
    ['high', bar.high],
    ['low', bar.low],
    ['close', bar.close],
    ['volume', bar.volume],
  ];
  if (bar.adjClose !== undefined) numbers.push(['adjClose', bar.adjClose]);
  for (const [name, value] of numbers) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return fail('E_NOT_FINITE', `${name} is not a finite number: ${String(value)}`);
  }
  for (const [name, value] of numbers) {
    if (name !== 'volume' && (value as number) <= 0) return fail('E_NON_POSITIVE_PRICE', `${name} must be > 0, got ${String(value)}`);
  }
  if (bar.high < Math.max(bar.open, bar.close)) {
    return fail('E_HIGH_BELOW_BODY', `high ${bar.high} < max(open ${bar.open}, close ${bar.close})`);
  }
  if (bar.low > Math.min(bar.open, bar.close)) {
    return fail('E_LOW_ABOVE_BODY', `low ${bar.low} > min(open ${bar.open}, close ${bar.close})`);
  }
  if (bar.volume < 0) return fail('E_NEGATIVE_VOLUME', `volume must be ≥ 0, got ${bar.volume}`);
  if (bar.synthetic !== undefined && bar.synthetic !== true) return fail('E_BAD_FIELD', `synthetic must be true or absent, got ${String(bar.synthetic)}`);
  return { ok: true };
}

export interface CleanerOptions {
  symbol: string;
  /** Expected bar interval; when omitted, the first accepted bar's interval is locked in. */
  interval?: string;
  /** Out-of-order buffer size W in bars (default 0: no buffering). */
  reorderWindow?: number;
  /** Released (ts, source) keys remembered to tell duplicates from late bars (default 64). */
  dedupeMemory?: number;
  /** Trailing log returns used for the outlier statistics (default 60). */
  outlierWindow?: number;
  /** Returns needed before anything can be flagged (default 20). */
  outlierMinHistory?: number;
  /** Robust sigmas beyond which a return is flagged (default 10). */
  outlierThreshold?: number;
}

type ResolvedOptions = Required<Omit<CleanerOptions, 'interval'>>;

/** 1 / Φ⁻¹(3/4): makes the MAD a consistent estimator of sigma for normal data. */
const MAD_TO_SIGMA = 1.4826;
/** Floor on the robust sigma, so a flat history does not flag every tiny move. */
export const MIN_ROBUST_SIGMA = 1e-6;
export const CLEANER_SNAPSHOT_VERSION = 1;

export interface CleanerSnapshot {
  kind: 'Cleaner';
  version: number;
  options: ResolvedOptions;
  interval: string | null;
  watermark: string | null;
  buffer: Bar[];
  recent: { ts: string; source: string }[];
  lastClose: number | null;
  returns: RingState;
}

function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Index of the first element ≥ x in an ascending array. */
function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(sorted: number[], x: number): void {
  sorted.splice(lowerBound(sorted, x), 0, x);
}

function removeSorted(sorted: number[], x: number): void {
  const at = lowerBound(sorted, x);
  if (sorted[at] === x) sorted.splice(at, 1);
}

/**
 * Median of |x − center| over an ascending array, by merging the deviations of the two sides of
 * center (each already in ascending order) — the same multiset of values as sorting
 * `xs.map(x => Math.abs(x - center))`, so the same median, in O(n) without sorting.
 */
function medianDeviation(sorted: readonly number[], center: number): number {
  const n = sorted.length;
  let left = lowerBound(sorted, center) - 1; // walks down: center - sorted[left] ascending
  let right = left + 1; // walks up: sorted[right] - center ascending
  const want = n >> 1; // index of the upper middle
  let prev = 0;
  for (let k = 0; k <= want; k++) {
    const dl = left >= 0 ? center - (sorted[left] as number) : Number.POSITIVE_INFINITY;
    const dr = right < n ? (sorted[right] as number) - center : Number.POSITIVE_INFINITY;
    const d = dl <= dr ? dl : dr;
    if (dl <= dr) left--;
    else right++;
    if (k === want) return n % 2 === 1 ? d : (prev + d) / 2;
    prev = d;
  }
  return 0;
}

function copyBar(bar: Bar): Bar {
  const out: Bar = {
    symbol: bar.symbol,
    ts: bar.ts,
    interval: bar.interval,
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: bar.volume,
    source: bar.source,
  };
  if (bar.adjClose !== undefined) out.adjClose = bar.adjClose;
  if (bar.synthetic === true) out.synthetic = true;
  return out;
}

function positiveInt(value: number, name: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new TransformError('E_BAD_ARGUMENT', `${name} must be an integer ≥ ${min}, got ${value}`);
  return value;
}

function resolveOptions(options: CleanerOptions): ResolvedOptions {
  if (typeof options.symbol !== 'string' || !SYMBOL_RE.test(options.symbol)) {
    throw new TransformError('E_BAD_ARGUMENT', `invalid symbol ${JSON.stringify(options.symbol)}`);
  }
  const threshold = options.outlierThreshold ?? 10;
  if (!(Number.isFinite(threshold) && threshold > 0)) throw new TransformError('E_BAD_ARGUMENT', 'outlierThreshold must be > 0');
  const outlierWindow = positiveInt(options.outlierWindow ?? 60, 'outlierWindow', 3);
  return {
    symbol: options.symbol,
    reorderWindow: positiveInt(options.reorderWindow ?? 0, 'reorderWindow', 0),
    dedupeMemory: positiveInt(options.dedupeMemory ?? 64, 'dedupeMemory', 1),
    outlierWindow,
    outlierMinHistory: Math.min(positiveInt(options.outlierMinHistory ?? 20, 'outlierMinHistory', 3), outlierWindow),
    outlierThreshold: threshold,
  };
}

/** Per-symbol cleaning state machine. See the module comment for the policies. */
export class Cleaner {
  readonly options: Readonly<ResolvedOptions>;
  private interval: string | undefined;
  /** ts of the last released bar. */
  private lastTs: string | undefined;
  /** Pending bars, ascending by ts (at most reorderWindow + 1 during a push). */
  private buffer: Bar[] = [];
  /** Last released keys, oldest first. */
  private recent: { ts: string; source: string }[] = [];
  /** Adjusted close of the last released bar with volume > 0. */
  private lastClose: number | undefined;
  private readonly returns: RingBuffer;
  /** The same returns, kept sorted ascending (derived state: rebuilt on restore). */
  private sortedReturns: number[] = [];

  constructor(options: CleanerOptions) {
    this.options = Object.freeze(resolveOptions(options));
    this.interval = options.interval;
    this.returns = new RingBuffer(this.options.outlierWindow);
  }

  get symbol(): string {
    return this.options.symbol;
  }

  /** ts of the last released bar; bars at or before it are rejected. */
  get watermark(): string | undefined {
    return this.lastTs;
  }

  get pending(): number {
    return this.buffer.length;
  }

  push(bar: Bar): CleanerResult {
    const rejected: Rejection[] = [];
    const reason = this.admit(bar);
    if (reason) {
      rejected.push({ bar, ...reason });
      return { emitted: [], rejected };
    }
    const copy = copyBar(bar);
    let at = this.buffer.length;
    while (at > 0 && (this.buffer[at - 1] as Bar).ts > copy.ts) at--;
    this.buffer.splice(at, 0, copy);
    const emitted: CleanBar[] = [];
    while (this.buffer.length > this.options.reorderWindow) emitted.push(this.release(this.buffer.shift() as Bar));
    return { emitted, rejected };
  }

  /** Releases every buffered bar in ts order (end of batch, idle timeout). */
  flush(): CleanBar[] {
    const out = this.buffer.map((bar) => this.release(bar));
    this.buffer = [];
    return out;
  }

  /** Why `bar` cannot enter the buffer, or undefined when it can. */
  private admit(bar: Bar): { code: BarRejectCode; reason: string } | undefined {
    const validation = validateBar(bar);
    if (!validation.ok) return validation;
    if (bar.symbol !== this.options.symbol) {
      return { code: 'E_SYMBOL_MISMATCH', reason: `bar for ${bar.symbol} given to the ${this.options.symbol} cleaner` };
    }
    if (this.interval !== undefined && bar.interval !== this.interval) {
      return { code: 'E_INTERVAL_MISMATCH', reason: `interval ${bar.interval}, expected ${this.interval}` };
    }
    const known = this.buffer.find((b) => b.ts === bar.ts) ?? this.recent.find((k) => k.ts === bar.ts);
    if (known) {
      return known.source === bar.source
        ? { code: 'E_DUPLICATE', reason: `duplicate of (${bar.symbol}, ${bar.ts}, ${bar.source}); the first copy was kept` }
        : { code: 'E_CONFLICT', reason: `${bar.ts} already supplied by source ${known.source}; the first source wins` };
    }
    if (this.lastTs !== undefined && bar.ts <= this.lastTs) {
      return {
        code: 'E_LATE',
        reason: `ts ${bar.ts} is not after the watermark ${this.lastTs} (reorder window ${this.options.reorderWindow} bars); already-emitted data is never reordered`,
      };
    }
    this.interval ??= bar.interval;
    return undefined;
  }

  private release(bar: Bar): CleanBar {
    const adjFactor = bar.adjClose !== undefined ? bar.adjClose / bar.close : 1;
    const zeroVolume = bar.volume === 0;
    const close = bar.close * adjFactor;
    let outlier = false;
    if (!zeroVolume) {
      if (this.lastClose !== undefined) {
        const r = Math.log(close / this.lastClose);
        outlier = this.isOutlier(r);
        const evicted = this.returns.push(r);
        if (evicted !== undefined) removeSorted(this.sortedReturns, evicted);
        insertSorted(this.sortedReturns, r);
      }
      this.lastClose = close;
    }
    this.lastTs = bar.ts;
    this.recent.push({ ts: bar.ts, source: bar.source });
    if (this.recent.length > this.options.dedupeMemory) this.recent.shift();
    return {
      ...bar,
      open: bar.open * adjFactor,
      high: bar.high * adjFactor,
      low: bar.low * adjFactor,
      close,
      adjFactor,
      flags: { zeroVolume, outlier },
    };
  }

  /** O(outlierWindow): median and MAD from the incrementally sorted window, no sorting per bar. */
  private isOutlier(r: number): boolean {
    const sorted = this.sortedReturns;
    if (sorted.length < this.options.outlierMinHistory) return false;
    const center = median(sorted);
    const sigma = Math.max(MAD_TO_SIGMA * medianDeviation(sorted, center), MIN_ROBUST_SIGMA);
    return Math.abs(r - center) > this.options.outlierThreshold * sigma;
  }

  snapshot(): CleanerSnapshot {
    return {
      kind: 'Cleaner',
      version: CLEANER_SNAPSHOT_VERSION,
      options: { ...this.options },
      interval: this.interval ?? null,
      watermark: this.lastTs ?? null,
      buffer: this.buffer.map(copyBar),
      recent: this.recent.map((k) => ({ ...k })),
      lastClose: this.lastClose ?? null,
      returns: this.returns.snapshot(),
    };
  }

  /** Rebuilds a cleaner from `snapshot()` output (typically after JSON storage). */
  static restore(snapshot: CleanerSnapshot): Cleaner {
    checkSnapshot(typeof snapshot === 'object' && snapshot !== null && snapshot.kind === 'Cleaner', 'expected a Cleaner snapshot');
    checkSnapshot(snapshot.version === CLEANER_SNAPSHOT_VERSION, `Cleaner snapshot version ${String(snapshot.version)}`);
    checkSnapshot(typeof snapshot.options === 'object' && snapshot.options !== null, 'Cleaner.options');
    const cleaner = new Cleaner({ ...snapshot.options, ...(snapshot.interval !== null ? { interval: snapshot.interval } : {}) });
    checkSnapshot(snapshot.watermark === null || typeof snapshot.watermark === 'string', 'Cleaner.watermark');
    checkSnapshot(Array.isArray(snapshot.buffer) && snapshot.buffer.length <= cleaner.options.reorderWindow, 'Cleaner.buffer');
    for (const bar of snapshot.buffer) {
      const v = validateBar(bar);
      checkSnapshot(v.ok && bar.symbol === cleaner.symbol, 'Cleaner.buffer bar');
    }
    checkSnapshot(
      Array.isArray(snapshot.recent) &&
        snapshot.recent.length <= cleaner.options.dedupeMemory &&
        snapshot.recent.every((k) => typeof k?.ts === 'string' && typeof k.source === 'string'),
      'Cleaner.recent',
    );
    checkSnapshot(snapshot.lastClose === null || (isFiniteNumber(snapshot.lastClose) && snapshot.lastClose > 0), 'Cleaner.lastClose');
    cleaner.returns.restore(snapshot.returns, 'Cleaner.returns');
    for (let i = 0; i < cleaner.returns.length; i++) cleaner.sortedReturns.push(cleaner.returns.front(i));
    cleaner.sortedReturns.sort((a, b) => a - b);
    cleaner.lastTs = snapshot.watermark ?? undefined;
    cleaner.buffer = snapshot.buffer.map(copyBar);
    cleaner.recent = snapshot.recent.map((k) => ({ ts: k.ts, source: k.source }));
    cleaner.lastClose = snapshot.lastClose ?? undefined;
    return cleaner;
  }
}
