/**
 * Streaming technical indicators: O(1) work per update (amortised, see below) and fixed-size
 * state, with snapshot()/restore() so a consumer can rebuild them after a restart.
 *
 * Every class reproduces TA-Lib's default conventions (TA_COMPATIBILITY_DEFAULT, unstable
 * period 0: same seeding, same first-output index, same degenerate-window outputs), so a series
 * pushed through `update()` one value at a time gives the TA-Lib batch function's numbers
 * (checked by test/unit/transform/talib.test.ts against the Python TA-Lib wrapper, ≤ 1e-6
 * relative; the recursive ones follow TA-Lib's operation order and are mostly bit-identical):
 *
 *  | class                 | TA-Lib            | first value at input index | convention                                   |
 *  |-----------------------|-------------------|----------------------------|----------------------------------------------|
 *  | Sma(n)                | SMA(n)            | n-1                        | running sum: add, output, subtract trailing  |
 *  | Ema(n)                | EMA(n)            | n-1                        | seeded with SMA of the first n; k = 2/(n+1); ((x-prev)*k)+prev |
 *  | Rsi(n)                | RSI(n)            | n                          | Wilder: first avg = mean of n gains/losses, then (avg*(n-1)+x)/n; 0 when avgGain+avgLoss ≈ 0 |
 *  | Atr(n)                | ATR(n)            | n                          | TR from index 1; first ATR = SMA of n TRs, then Wilder |
 *  | Macd(12,26,9)         | MACD(12,26,9)     | slow-1+signal-1 (33)       | both EMAs seeded with SMAs whose windows end on bar slow-1 (so the fast EMA is *not* the standalone EMA(12)); signal seeded with the mean of the first 9 MACD values |
 *  | Bollinger(n,k)        | BBANDS(n,k,k,SMA) | n-1                        | middle = window mean; bands ± k · population std |
 *  | RollingStdDev(n)      | STDDEV(n,1)       | n-1                        | population std (ddof option for sample std)  |
 *  | RollingCorrelation(n) | CORREL(n)         | n-1                        | Pearson; 0 for a constant window             |
 *  | RollingMax/Min(n)     | MAX/MIN(n)        | n-1                        | monotonic deque (exact)                      |
 *
 * Deliberate difference (accuracy): a stream never ends, so running sums/moments would drift by
 * accumulated rounding, and Σx² - (Σx)²/n loses most digits when the std is small next to the
 * level (a 0.04 std on a 300 price). So RollingStdDev/RollingCorrelation keep the window mean
 * and co-moments in deviation form (Welford's sliding update), and every window-state class
 * recomputes its sums exactly from its ring buffer once every `period` updates — O(period)
 * every `period` updates, i.e. amortised O(1), worst case O(60) for our windows. TA-Lib ≥ 0.8
 * is accurate in those cases too; measured agreement is ≤ 1e-6 relative everywhere (see the test).
 *
 * Degenerate windows: TA-Lib maps a variance (or a product of variances, CORREL; or avg gain +
 * avg loss, RSI) that is "zero or negative" to an output of 0 using a fixed absolute epsilon.
 * That is `TALIB_ZERO` (the default here). Such a fixed band is wrong for small-valued inputs
 * (the variance of minute log returns is ~1e-8), so the feature engine passes `RELATIVE_ZERO`,
 * which only treats values as zero when they are below rounding noise relative to the data scale.
 */
import { TransformError } from '../errors.ts';
import {
  RingBuffer,
  type RingState,
  checkCount,
  checkPeriod,
  checkSnapshot,
  isFiniteNumber,
} from './state.ts';

/** TA-Lib's TA_EPSILON for TA_IS_ZERO / TA_IS_ZERO_OR_NEG (ta_utility.h): 1e-14 in the C library 0.8.x that ta-lib 0.8.2 bundles (C 0.4.x used 1e-8). */
export const TALIB_EPSILON = 1e-14;

/**
 * When a non-negative quantity v (a variance, a sum of averages) counts as zero:
 * `v < absolute || v <= relative * scale`, where scale is the magnitude of the terms v was
 * computed from (e.g. E[x²] for a variance).
 */
export interface ZeroGuard {
  readonly absolute: number;
  readonly relative: number;
}

/** TA-Lib semantics: a fixed absolute band. */
export const TALIB_ZERO: ZeroGuard = Object.freeze({ absolute: TALIB_EPSILON, relative: 0 });
/** Scale-aware: zero only below ~1e-12 of the data scale (rounding noise of running sums is ~1e-15). */
export const RELATIVE_ZERO: ZeroGuard = Object.freeze({ absolute: 0, relative: 1e-12 });

function isZeroOrNeg(v: number, scale: number, guard: ZeroGuard): boolean {
  return v < guard.absolute || v <= guard.relative * Math.abs(scale);
}

function checkKind(state: { kind?: unknown } | null | undefined, kind: string): void {
  checkSnapshot(typeof state === 'object' && state !== null && state.kind === kind, `expected a ${kind} state`);
}

function checkSame(actual: unknown, expected: number, what: string): void {
  checkSnapshot(actual === expected, `${what} is ${String(actual)}, this instance has ${expected}`);
}

function optionalFinite(x: unknown, what: string): number | undefined {
  checkSnapshot(x === null || x === undefined || isFiniteNumber(x), `${what} must be a finite number or null`);
  return x ?? undefined;
}

/** Sum of the ring's values from front index `from` to the newest, in input order. */
function ringSum(ring: RingBuffer, from: number, map: (x: number) => number = (x) => x): number {
  let sum = 0;
  for (let i = from; i < ring.length; i++) sum += map(ring.front(i));
  return sum;
}

// ---------------------------------------------------------------------------------------------

export interface SmaState {
  kind: 'Sma';
  period: number;
  count: number;
  sum: number;
  value: number | null;
  ring: RingState;
}

/** Simple moving average, TA-Lib SMA. */
export class Sma {
  readonly period: number;
  private readonly ring: RingBuffer;
  private count = 0;
  /** Σ of the newest (period-1) inputs between updates, TA-Lib's `periodTotal`. */
  private sum = 0;
  private current: number | undefined;

  constructor(period: number) {
    checkPeriod(period);
    this.period = period;
    this.ring = new RingBuffer(period);
  }

  get value(): number | undefined {
    return this.current;
  }

  update(x: number): number | undefined {
    this.ring.push(x);
    this.sum += x;
    this.count++;
    if (this.count < this.period) return undefined;
    this.current = this.sum / this.period;
    this.sum -= this.ring.front(0);
    if (this.count % this.period === 0) this.sum = ringSum(this.ring, 1);
    return this.current;
  }

  snapshot(): SmaState {
    return { kind: 'Sma', period: this.period, count: this.count, sum: this.sum, value: this.current ?? null, ring: this.ring.snapshot() };
  }

  restore(state: SmaState): void {
    checkKind(state, 'Sma');
    checkSame(state.period, this.period, 'Sma.period');
    checkCount(state.count, 'Sma.count');
    checkSnapshot(isFiniteNumber(state.sum), 'Sma.sum');
    this.ring.restore(state.ring, 'Sma');
    this.count = state.count;
    this.sum = state.sum;
    this.current = optionalFinite(state.value, 'Sma.value');
  }
}

// ---------------------------------------------------------------------------------------------

export interface EmaState {
  kind: 'Ema';
  period: number;
  count: number;
  seedSum: number;
  value: number | null;
}

/** Exponential moving average, TA-Lib EMA: seeded with the SMA of the first `period` inputs. */
export class Ema {
  readonly period: number;
  readonly k: number;
  private count = 0;
  private seedSum = 0;
  private current: number | undefined;

  constructor(period: number) {
    checkPeriod(period);
    this.period = period;
    this.k = 2 / (period + 1);
  }

  get value(): number | undefined {
    return this.current;
  }

  update(x: number): number | undefined {
    this.count++;
    if (this.count < this.period) {
      this.seedSum += x;
      return undefined;
    }
    if (this.count === this.period) {
      this.seedSum += x;
      this.current = this.seedSum / this.period;
    } else {
      const prev = this.current as number;
      this.current = (x - prev) * this.k + prev;
    }
    return this.current;
  }

  snapshot(): EmaState {
    return { kind: 'Ema', period: this.period, count: this.count, seedSum: this.seedSum, value: this.current ?? null };
  }

  restore(state: EmaState): void {
    checkKind(state, 'Ema');
    checkSame(state.period, this.period, 'Ema.period');
    checkCount(state.count, 'Ema.count');
    checkSnapshot(isFiniteNumber(state.seedSum), 'Ema.seedSum');
    this.count = state.count;
    this.seedSum = state.seedSum;
    this.current = optionalFinite(state.value, 'Ema.value');
    checkSnapshot((this.current === undefined) === (this.count < this.period), 'Ema.value vs count');
  }
}

// ---------------------------------------------------------------------------------------------

export interface RsiState {
  kind: 'Rsi';
  period: number;
  count: number;
  prev: number;
  avgGain: number;
  avgLoss: number;
  value: number | null;
}

/** Wilder's RSI in [0, 100], TA-Lib RSI. Returns 0 when there was no movement at all (TA-Lib). */
export class Rsi {
  readonly period: number;
  private readonly guard: ZeroGuard;
  private count = 0;
  private prev = 0;
  private avgGain = 0;
  private avgLoss = 0;
  private current: number | undefined;

  constructor(period: number, options: { zero?: ZeroGuard } = {}) {
    checkPeriod(period, 2);
    this.period = period;
    this.guard = options.zero ?? TALIB_ZERO;
  }

  get value(): number | undefined {
    return this.current;
  }

  update(x: number): number | undefined {
    this.count++;
    if (this.count === 1) {
      this.prev = x;
      return undefined;
    }
    const diff = x - this.prev;
    this.prev = x;
    const n = this.period;
    if (this.count <= n + 1) {
      if (diff < 0) this.avgLoss -= diff;
      else this.avgGain += diff;
      if (this.count <= n) return undefined;
      this.avgLoss /= n;
      this.avgGain /= n;
    } else {
      this.avgLoss *= n - 1;
      this.avgGain *= n - 1;
      if (diff < 0) this.avgLoss -= diff;
      else this.avgGain += diff;
      this.avgLoss /= n;
      this.avgGain /= n;
    }
    const total = this.avgGain + this.avgLoss;
    this.current = isZeroOrNeg(total, x, this.guard) ? 0 : 100 * (this.avgGain / total);
    return this.current;
  }

  snapshot(): RsiState {
    return {
      kind: 'Rsi',
      period: this.period,
      count: this.count,
      prev: this.prev,
      avgGain: this.avgGain,
      avgLoss: this.avgLoss,
      value: this.current ?? null,
    };
  }

  restore(state: RsiState): void {
    checkKind(state, 'Rsi');
    checkSame(state.period, this.period, 'Rsi.period');
    checkCount(state.count, 'Rsi.count');
    checkSnapshot([state.prev, state.avgGain, state.avgLoss].every(isFiniteNumber), 'Rsi numbers');
    this.count = state.count;
    this.prev = state.prev;
    this.avgGain = state.avgGain;
    this.avgLoss = state.avgLoss;
    this.current = optionalFinite(state.value, 'Rsi.value');
  }
}

// ---------------------------------------------------------------------------------------------

/** TA-Lib TRANGE: max(high-low, |prevClose-high|, |prevClose-low|). */
export function trueRange(high: number, low: number, prevClose: number): number {
  let greatest = high - low;
  const toHigh = Math.abs(prevClose - high);
  if (toHigh > greatest) greatest = toHigh;
  const toLow = Math.abs(prevClose - low);
  if (toLow > greatest) greatest = toLow;
  return greatest;
}

export interface AtrState {
  kind: 'Atr';
  period: number;
  count: number;
  prevClose: number;
  trSum: number;
  value: number | null;
}

/** Average true range with Wilder smoothing, TA-Lib ATR (price units). */
export class Atr {
  readonly period: number;
  private count = 0;
  private prevClose = 0;
  private trSum = 0;
  private current: number | undefined;

  constructor(period: number) {
    checkPeriod(period, 2);
    this.period = period;
  }

  get value(): number | undefined {
    return this.current;
  }

  update(high: number, low: number, close: number): number | undefined {
    this.count++;
    if (this.count === 1) {
      this.prevClose = close;
      return undefined;
    }
    const tr = trueRange(high, low, this.prevClose);
    this.prevClose = close;
    const n = this.period;
    if (this.count <= n + 1) {
      this.trSum += tr;
      if (this.count <= n) return undefined;
      this.current = this.trSum / n;
    } else {
      let atr = this.current as number;
      atr *= n - 1;
      atr += tr;
      atr /= n;
      this.current = atr;
    }
    return this.current;
  }

  snapshot(): AtrState {
    return { kind: 'Atr', period: this.period, count: this.count, prevClose: this.prevClose, trSum: this.trSum, value: this.current ?? null };
  }

  restore(state: AtrState): void {
    checkKind(state, 'Atr');
    checkSame(state.period, this.period, 'Atr.period');
    checkCount(state.count, 'Atr.count');
    checkSnapshot(isFiniteNumber(state.prevClose) && isFiniteNumber(state.trSum), 'Atr numbers');
    this.count = state.count;
    this.prevClose = state.prevClose;
    this.trSum = state.trSum;
    this.current = optionalFinite(state.value, 'Atr.value');
  }
}

// ---------------------------------------------------------------------------------------------

export interface MacdValue {
  macd: number;
  signal: number;
  hist: number;
}

export interface MacdState {
  kind: 'Macd';
  fast: number;
  slow: number;
  signal: number;
  count: number;
  fastSum: number;
  slowSum: number;
  fastEma: number;
  slowEma: number;
  macdCount: number;
  signalSum: number;
  signalEma: number;
}

/**
 * MACD exactly as TA-Lib MACD(fast, slow, signal): the first MACD-line value is at input index
 * slow-1, where BOTH EMAs are seeded with a simple average of the inputs ending on that bar (so the
 * fast EMA is seeded from inputs slow-fast … slow-1, not from the first `fast` inputs); the
 * signal EMA is seeded with the mean of the first `signal` MACD-line values; outputs (line,
 * signal, histogram) start together at index slow-1 + signal-1.
 */
export class Macd {
  readonly fastPeriod: number;
  readonly slowPeriod: number;
  readonly signalPeriod: number;
  private readonly fastK: number;
  private readonly slowK: number;
  private readonly signalK: number;
  private count = 0;
  private fastSum = 0;
  private slowSum = 0;
  private fastEma = 0;
  private slowEma = 0;
  private macdCount = 0;
  private signalSum = 0;
  private signalEma = 0;

  constructor(fast = 12, slow = 26, signal = 9) {
    checkPeriod(fast, 2);
    checkPeriod(slow, 2);
    checkPeriod(signal, 1);
    if (fast >= slow) throw new TransformError('E_BAD_ARGUMENT', `MACD fast period (${fast}) must be < slow period (${slow})`);
    this.fastPeriod = fast;
    this.slowPeriod = slow;
    this.signalPeriod = signal;
    this.fastK = 2 / (fast + 1);
    this.slowK = 2 / (slow + 1);
    this.signalK = 2 / (signal + 1);
  }

  /** Inputs needed before the first output. */
  get lookback(): number {
    return this.slowPeriod - 1 + this.signalPeriod - 1;
  }

  get value(): MacdValue | undefined {
    if (this.macdCount < this.signalPeriod) return undefined;
    const macd = this.fastEma - this.slowEma;
    return { macd, signal: this.signalEma, hist: macd - this.signalEma };
  }

  update(x: number): MacdValue | undefined {
    this.count++;
    if (this.count <= this.slowPeriod) {
      this.slowSum += x;
      if (this.count > this.slowPeriod - this.fastPeriod) this.fastSum += x;
      if (this.count < this.slowPeriod) return undefined;
      this.slowEma = this.slowSum / this.slowPeriod;
      this.fastEma = this.fastSum / this.fastPeriod;
    } else {
      this.fastEma = (x - this.fastEma) * this.fastK + this.fastEma;
      this.slowEma = (x - this.slowEma) * this.slowK + this.slowEma;
    }
    const macd = this.fastEma - this.slowEma;
    if (this.macdCount < this.signalPeriod) {
      this.signalSum += macd;
      this.macdCount++;
      if (this.macdCount < this.signalPeriod) return undefined;
      this.signalEma = this.signalSum / this.signalPeriod;
    } else {
      this.signalEma = (macd - this.signalEma) * this.signalK + this.signalEma;
    }
    return { macd, signal: this.signalEma, hist: macd - this.signalEma };
  }

  snapshot(): MacdState {
    return {
      kind: 'Macd',
      fast: this.fastPeriod,
      slow: this.slowPeriod,
      signal: this.signalPeriod,
      count: this.count,
      fastSum: this.fastSum,
      slowSum: this.slowSum,
      fastEma: this.fastEma,
      slowEma: this.slowEma,
      macdCount: this.macdCount,
      signalSum: this.signalSum,
      signalEma: this.signalEma,
    };
  }

  restore(state: MacdState): void {
    checkKind(state, 'Macd');
    checkSame(state.fast, this.fastPeriod, 'Macd.fast');
    checkSame(state.slow, this.slowPeriod, 'Macd.slow');
    checkSame(state.signal, this.signalPeriod, 'Macd.signal');
    checkCount(state.count, 'Macd.count');
    checkCount(state.macdCount, 'Macd.macdCount');
    checkSnapshot(
      [state.fastSum, state.slowSum, state.fastEma, state.slowEma, state.signalSum, state.signalEma].every(isFiniteNumber),
      'Macd numbers',
    );
    this.count = state.count;
    this.fastSum = state.fastSum;
    this.slowSum = state.slowSum;
    this.fastEma = state.fastEma;
    this.slowEma = state.slowEma;
    this.macdCount = state.macdCount;
    this.signalSum = state.signalSum;
    this.signalEma = state.signalEma;
  }
}

// ---------------------------------------------------------------------------------------------

export interface RollingStdDevState {
  kind: 'RollingStdDev';
  period: number;
  ddof: number;
  count: number;
  mean: number;
  /** Σ (x - mean)² over the window. */
  m2: number;
  variance: number | null;
  ring: RingState;
}

/**
 * Rolling standard deviation, TA-Lib STDDEV(n, 1) / VAR(n): population std (ddof 0).
 * `ddof: 1` gives the sample std (pandas/Qlib `Std`). `mean` is the window mean (z-scores).
 *
 * Kept as a window mean and M2 = Σ(x - mean)² updated in deviation form (Welford's sliding
 * update: M2 += (x_in - m_old)(x_in - m_new) - (x_out - m_old)(x_out - m_new)), not as Σx and Σx²:
 * E[x²] - E[x]² cancels catastrophically when the std is small next to the level (a 0.04 std
 * on a 300 price loses 8 digits), and TA-Lib ≥ 0.8 is accurate there.
 */
export class RollingStdDev {
  readonly period: number;
  readonly ddof: 0 | 1;
  private readonly guard: ZeroGuard;
  private readonly ring: RingBuffer;
  private count = 0;
  private currentMean = 0;
  private m2 = 0;
  private currentVariance: number | undefined;

  constructor(period: number, options: { ddof?: 0 | 1; zero?: ZeroGuard } = {}) {
    const ddof = options.ddof ?? 0;
    checkPeriod(period, ddof + 1);
    this.period = period;
    this.ddof = ddof;
    this.guard = options.zero ?? TALIB_ZERO;
    this.ring = new RingBuffer(period);
  }

  /** Mean of the current window (undefined during warm-up). */
  get mean(): number | undefined {
    return this.currentVariance === undefined ? undefined : this.currentMean;
  }

  /** Variance with this instance's ddof; 0 for degenerate windows. */
  get variance(): number | undefined {
    return this.currentVariance;
  }

  get value(): number | undefined {
    return this.currentVariance === undefined ? undefined : Math.sqrt(this.currentVariance);
  }

  update(x: number): number | undefined {
    const evicted = this.ring.push(x);
    this.count++;
    const oldMean = this.currentMean;
    if (evicted === undefined) {
      this.currentMean = oldMean + (x - oldMean) / this.count;
      this.m2 += (x - oldMean) * (x - this.currentMean);
    } else if (this.count % this.period === 0) {
      this.resync();
    } else {
      this.currentMean = oldMean + (x - evicted) / this.period;
      this.m2 += (x - oldMean) * (x - this.currentMean) - (evicted - oldMean) * (evicted - this.currentMean);
    }
    if (this.count < this.period) return undefined;
    const n = this.period;
    const popVariance = this.m2 / n;
    const mean = this.currentMean;
    if (isZeroOrNeg(popVariance, mean * mean, this.guard)) this.currentVariance = 0;
    else this.currentVariance = this.ddof === 0 ? popVariance : this.m2 / (n - 1);
    return Math.sqrt(this.currentVariance);
  }

  /** Exact two-pass recomputation from the window (bounds accumulated rounding). */
  private resync(): void {
    const n = this.ring.length;
    const mean = ringSum(this.ring, 0) / n;
    this.currentMean = mean;
    this.m2 = ringSum(this.ring, 0, (v) => (v - mean) * (v - mean));
  }

  snapshot(): RollingStdDevState {
    return {
      kind: 'RollingStdDev',
      period: this.period,
      ddof: this.ddof,
      count: this.count,
      mean: this.currentMean,
      m2: this.m2,
      variance: this.currentVariance ?? null,
      ring: this.ring.snapshot(),
    };
  }

  restore(state: RollingStdDevState): void {
    checkKind(state, 'RollingStdDev');
    checkSame(state.period, this.period, 'RollingStdDev.period');
    checkSame(state.ddof, this.ddof, 'RollingStdDev.ddof');
    checkCount(state.count, 'RollingStdDev.count');
    checkSnapshot(isFiniteNumber(state.mean) && isFiniteNumber(state.m2), 'RollingStdDev mean/m2');
    this.ring.restore(state.ring, 'RollingStdDev');
    this.count = state.count;
    this.currentMean = state.mean;
    this.m2 = state.m2;
    this.currentVariance = optionalFinite(state.variance, 'RollingStdDev.variance');
  }
}

// ---------------------------------------------------------------------------------------------

export interface BollingerValue {
  upper: number;
  middle: number;
  lower: number;
  /** (x - lower) / (upper - lower); 0 when the bands collapse (zero deviation). */
  percentB: number;
}

export interface BollingerState {
  kind: 'Bollinger';
  k: number;
  lastInput: number | null;
  std: RollingStdDevState;
}

/** Bollinger bands, TA-Lib BBANDS(n, k, k, MA_Type.SMA): SMA ± k · population std. */
export class Bollinger {
  readonly period: number;
  readonly k: number;
  private readonly std: RollingStdDev;
  private lastInput: number | undefined;

  constructor(period = 20, k = 2, options: { zero?: ZeroGuard } = {}) {
    if (!(Number.isFinite(k) && k > 0)) throw new TransformError('E_BAD_ARGUMENT', `Bollinger k must be > 0, got ${k}`);
    this.period = period;
    this.k = k;
    this.std = new RollingStdDev(period, { ddof: 0, ...(options.zero ? { zero: options.zero } : {}) });
  }

  get value(): BollingerValue | undefined {
    const sd = this.std.value;
    const middle = this.std.mean;
    const x = this.lastInput;
    if (sd === undefined || middle === undefined || x === undefined) return undefined;
    const width = sd * this.k;
    const upper = middle + width;
    const lower = middle - width;
    const range = upper - lower;
    return { upper, middle, lower, percentB: range > 0 ? (x - lower) / range : 0 };
  }

  update(x: number): BollingerValue | undefined {
    this.std.update(x);
    this.lastInput = x;
    return this.value;
  }

  snapshot(): BollingerState {
    return { kind: 'Bollinger', k: this.k, lastInput: this.lastInput ?? null, std: this.std.snapshot() };
  }

  restore(state: BollingerState): void {
    checkKind(state, 'Bollinger');
    checkSame(state.k, this.k, 'Bollinger.k');
    this.std.restore(state.std);
    this.lastInput = optionalFinite(state.lastInput, 'Bollinger.lastInput');
  }
}

// ---------------------------------------------------------------------------------------------

export interface RollingCorrelationState {
  kind: 'RollingCorrelation';
  period: number;
  count: number;
  meanX: number;
  meanY: number;
  /** Σ(x - meanX)², Σ(y - meanY)², Σ(x - meanX)(y - meanY) over the window. */
  m2x: number;
  m2y: number;
  cxy: number;
  value: number | null;
  xs: RingState;
  ys: RingState;
}

/**
 * Rolling Pearson correlation of two series, TA-Lib CORREL(n); 0 for a constant window.
 * Co-moments are updated in deviation form (see RollingStdDev), which keeps near-zero
 * correlations of high-priced series accurate.
 */
export class RollingCorrelation {
  readonly period: number;
  private readonly guard: ZeroGuard;
  private readonly xs: RingBuffer;
  private readonly ys: RingBuffer;
  private count = 0;
  private meanX = 0;
  private meanY = 0;
  private m2x = 0;
  private m2y = 0;
  private cxy = 0;
  private current: number | undefined;

  constructor(period: number, options: { zero?: ZeroGuard } = {}) {
    checkPeriod(period, 2);
    this.period = period;
    this.guard = options.zero ?? TALIB_ZERO;
    this.xs = new RingBuffer(period);
    this.ys = new RingBuffer(period);
  }

  get value(): number | undefined {
    return this.current;
  }

  update(x: number, y: number): number | undefined {
    const outX = this.xs.push(x);
    const outY = this.ys.push(y);
    this.count++;
    const mx = this.meanX;
    const my = this.meanY;
    if (outX === undefined || outY === undefined) {
      this.meanX = mx + (x - mx) / this.count;
      this.meanY = my + (y - my) / this.count;
      this.m2x += (x - mx) * (x - this.meanX);
      this.m2y += (y - my) * (y - this.meanY);
      this.cxy += (x - mx) * (y - this.meanY);
    } else if (this.count % this.period === 0) {
      this.resync();
    } else {
      const n = this.period;
      this.meanX = mx + (x - outX) / n;
      this.meanY = my + (y - outY) / n;
      this.m2x += (x - mx) * (x - this.meanX) - (outX - mx) * (outX - this.meanX);
      this.m2y += (y - my) * (y - this.meanY) - (outY - my) * (outY - this.meanY);
      this.cxy += (x - mx) * (y - this.meanY) - (outX - mx) * (outY - this.meanY);
    }
    if (this.count < this.period) return undefined;
    const n = this.period;
    const degenerate =
      this.guard.relative > 0
        ? isZeroOrNeg(this.m2x / n, this.meanX * this.meanX, this.guard) || isZeroOrNeg(this.m2y / n, this.meanY * this.meanY, this.guard)
        : isZeroOrNeg(this.m2x * this.m2y, 0, this.guard);
    this.current = degenerate ? 0 : this.cxy / Math.sqrt(this.m2x * this.m2y);
    return this.current;
  }

  /** Exact two-pass recomputation from the window (bounds accumulated rounding). */
  private resync(): void {
    const n = this.xs.length;
    const mx = ringSum(this.xs, 0) / n;
    const my = ringSum(this.ys, 0) / n;
    let m2x = 0;
    let m2y = 0;
    let cxy = 0;
    for (let i = 0; i < n; i++) {
      const dx = this.xs.front(i) - mx;
      const dy = this.ys.front(i) - my;
      m2x += dx * dx;
      m2y += dy * dy;
      cxy += dx * dy;
    }
    this.meanX = mx;
    this.meanY = my;
    this.m2x = m2x;
    this.m2y = m2y;
    this.cxy = cxy;
  }

  snapshot(): RollingCorrelationState {
    return {
      kind: 'RollingCorrelation',
      period: this.period,
      count: this.count,
      meanX: this.meanX,
      meanY: this.meanY,
      m2x: this.m2x,
      m2y: this.m2y,
      cxy: this.cxy,
      value: this.current ?? null,
      xs: this.xs.snapshot(),
      ys: this.ys.snapshot(),
    };
  }

  restore(state: RollingCorrelationState): void {
    checkKind(state, 'RollingCorrelation');
    checkSame(state.period, this.period, 'RollingCorrelation.period');
    checkCount(state.count, 'RollingCorrelation.count');
    checkSnapshot([state.meanX, state.meanY, state.m2x, state.m2y, state.cxy].every(isFiniteNumber), 'RollingCorrelation moments');
    this.xs.restore(state.xs, 'RollingCorrelation.xs');
    this.ys.restore(state.ys, 'RollingCorrelation.ys');
    this.count = state.count;
    this.meanX = state.meanX;
    this.meanY = state.meanY;
    this.m2x = state.m2x;
    this.m2y = state.m2y;
    this.cxy = state.cxy;
    this.current = optionalFinite(state.value, 'RollingCorrelation.value');
  }
}

// ---------------------------------------------------------------------------------------------

export interface RollingExtremumState {
  kind: 'RollingMax' | 'RollingMin';
  period: number;
  count: number;
  /** Monotonic deque stored in fixed rings: values and the input index each value came from. */
  front: number;
  size: number;
  values: number[];
  indices: number[];
}

/**
 * Rolling max/min over the last `period` inputs (current included), TA-Lib MAX/MIN, with a
 * monotonic deque: amortised O(1) per update and at most `period` entries, stored in fixed-size
 * arrays so the state size never changes.
 */
abstract class RollingExtremum {
  readonly period: number;
  protected abstract readonly kind: 'RollingMax' | 'RollingMin';
  private count = 0;
  private front = 0;
  private size = 0;
  private values: number[];
  private indices: number[];

  constructor(period: number) {
    checkPeriod(period);
    this.period = period;
    this.values = new Array<number>(period).fill(0);
    this.indices = new Array<number>(period).fill(0);
  }

  /** True when `candidate` makes `kept` useless (it is at least as extreme and newer). */
  protected abstract dominates(candidate: number, kept: number): boolean;

  get value(): number | undefined {
    return this.count < this.period ? undefined : (this.values[this.front] as number);
  }

  update(x: number): number | undefined {
    const p = this.period;
    const index = this.count;
    // Expire the front first so the deque never holds more than `period` entries.
    while (this.size > 0 && (this.indices[this.front] as number) <= index - p) {
      this.front = (this.front + 1) % p;
      this.size--;
    }
    while (this.size > 0 && this.dominates(x, this.values[(this.front + this.size - 1) % p] as number)) this.size--;
    const slot = (this.front + this.size) % p;
    this.values[slot] = x;
    this.indices[slot] = index;
    this.size++;
    this.count++;
    return this.value;
  }

  snapshot(): RollingExtremumState {
    return {
      kind: this.kind,
      period: this.period,
      count: this.count,
      front: this.front,
      size: this.size,
      values: [...this.values],
      indices: [...this.indices],
    };
  }

  restore(state: RollingExtremumState): void {
    checkKind(state, this.kind);
    checkSame(state.period, this.period, `${this.kind}.period`);
    checkCount(state.count, `${this.kind}.count`);
    checkSnapshot(Number.isSafeInteger(state.front) && state.front >= 0 && state.front < this.period, `${this.kind}.front`);
    checkSnapshot(Number.isSafeInteger(state.size) && state.size >= 0 && state.size <= this.period, `${this.kind}.size`);
    checkSnapshot(
      Array.isArray(state.values) && state.values.length === this.period && state.values.every(isFiniteNumber),
      `${this.kind}.values`,
    );
    checkSnapshot(
      Array.isArray(state.indices) && state.indices.length === this.period && state.indices.every((i) => Number.isSafeInteger(i)),
      `${this.kind}.indices`,
    );
    this.count = state.count;
    this.front = state.front;
    this.size = state.size;
    this.values = [...state.values];
    this.indices = [...state.indices];
  }
}

export class RollingMax extends RollingExtremum {
  protected readonly kind = 'RollingMax' as const;
  protected dominates(candidate: number, kept: number): boolean {
    return candidate >= kept;
  }
}

export class RollingMin extends RollingExtremum {
  protected readonly kind = 'RollingMin' as const;
  protected dominates(candidate: number, kept: number): boolean {
    return candidate <= kept;
  }
}
