/**
 * Joins each price prediction with its realized outcome, by event time.
 *
 * A prediction made as of bar t with horizon h is resolved by the bar h bars later in the same
 * (symbol, interval) series: realizedReturn = close_{t+h} / close_t − 1, the same label the
 * trainer fits (feature rows skip zero-volume placeholder bars, so the caller leaves those out
 * here too). Predictions and bars may arrive in either order: a prediction whose future bar is
 * already known resolves at once, otherwise it waits until that bar arrives. Bars are kept per
 * series up to a bound (oldest dropped); a prediction older than every kept bar cannot be
 * resolved and is reported as stale.
 */
import type { ModelRef } from '@stock-mlops/contracts';

export interface ObservedBar {
  symbol: string;
  interval: string;
  ts: string;
  /** Adjusted close. */
  close: number;
}

export interface ObservedPrediction {
  /** Natural key: symbol|interval|asOf|model|version. */
  key: string;
  symbol: string;
  interval: string;
  asOf: string;
  horizon: number;
  lastClose: number;
  predictedReturn: number;
  model: ModelRef;
  traceId?: string | undefined;
}

export interface Outcome extends ObservedPrediction {
  asOfMs: number;
  realizedReturn: number;
  /** Event time of the bar that resolved the prediction. */
  realizedTs: string;
}

export type PredictionStatus = 'resolved' | 'pending' | 'duplicate' | 'stale';

interface SeriesBar {
  tMs: number;
  ts: string;
  close: number;
}

interface Series {
  bars: SeriesBar[];
  /** Unresolved predictions, by key. */
  pending: Map<string, ObservedPrediction & { asOfMs: number }>;
}

export const predictionKeyOf = (p: { symbol: string; interval: string; asOf: string; model: ModelRef }) =>
  `${p.symbol}|${p.interval}|${p.asOf}|${p.model.name}|${p.model.version}`;

export class OutcomeJoiner {
  private readonly series = new Map<string, Series>();
  /** Keys of predictions already resolved (bounded like the bars), to ignore redeliveries. */
  private readonly resolved = new Map<string, Set<string>>();
  droppedPending = 0;

  constructor(private readonly opts: { maxBarsPerSeries: number; maxPendingPerSeries: number }) {}

  private seriesOf(symbol: string, interval: string): Series {
    const id = `${symbol}|${interval}`;
    let s = this.series.get(id);
    if (!s) {
      s = { bars: [], pending: new Map() };
      this.series.set(id, s);
    }
    return s;
  }

  private static indexOf(bars: readonly SeriesBar[], tMs: number): { index: number; found: boolean } {
    let lo = 0;
    let hi = bars.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bars[mid]!.tMs < tMs) lo = mid + 1;
      else hi = mid;
    }
    return { index: lo, found: bars[lo]?.tMs === tMs };
  }

  private tryResolve(s: Series, p: ObservedPrediction & { asOfMs: number }): Outcome | 'pending' | 'stale' {
    const { index, found } = OutcomeJoiner.indexOf(s.bars, p.asOfMs);
    if (!found) {
      // The as-of bar is older than everything kept: it will never be seen again.
      return s.bars.length >= this.opts.maxBarsPerSeries && index === 0 ? 'stale' : 'pending';
    }
    const future = s.bars[index + p.horizon];
    if (!future) return 'pending';
    const base = s.bars[index]!;
    return { ...p, realizedReturn: future.close / base.close - 1, realizedTs: future.ts };
  }

  private markResolved(symbolInterval: string, key: string): void {
    let set = this.resolved.get(symbolInterval);
    if (!set) {
      set = new Set();
      this.resolved.set(symbolInterval, set);
    }
    set.add(key);
    // Sets iterate in insertion order: forget the oldest beyond the bound.
    if (set.size > this.opts.maxPendingPerSeries * 2) {
      const first = set.values().next().value;
      if (first !== undefined) set.delete(first);
    }
  }

  /** A (non-placeholder) bar arrived: returns the predictions it resolves. */
  addBar(bar: ObservedBar): Outcome[] {
    const s = this.seriesOf(bar.symbol, bar.interval);
    const tMs = Date.parse(bar.ts);
    const { index, found } = OutcomeJoiner.indexOf(s.bars, tMs);
    const entry = { tMs, ts: bar.ts, close: bar.close };
    if (found) s.bars[index] = entry;
    else s.bars.splice(index, 0, entry);
    if (s.bars.length > this.opts.maxBarsPerSeries) s.bars.splice(0, s.bars.length - this.opts.maxBarsPerSeries);
    const out: Outcome[] = [];
    for (const p of [...s.pending.values()]) {
      if (p.asOfMs >= tMs) continue;
      const r = this.tryResolve(s, p);
      if (r === 'pending') continue;
      s.pending.delete(p.key);
      if (r !== 'stale') {
        this.markResolved(`${bar.symbol}|${bar.interval}`, p.key);
        out.push(r);
      }
    }
    return out;
  }

  addPrediction(p: ObservedPrediction): { status: PredictionStatus; outcome?: Outcome } {
    const s = this.seriesOf(p.symbol, p.interval);
    if (s.pending.has(p.key) || this.resolved.get(`${p.symbol}|${p.interval}`)?.has(p.key)) return { status: 'duplicate' };
    const withTime = { ...p, asOfMs: Date.parse(p.asOf) };
    const r = this.tryResolve(s, withTime);
    if (r === 'stale') return { status: 'stale' };
    if (r === 'pending') {
      s.pending.set(p.key, withTime);
      if (s.pending.size > this.opts.maxPendingPerSeries) {
        let oldest: (ObservedPrediction & { asOfMs: number }) | undefined;
        for (const q of s.pending.values()) if (!oldest || q.asOfMs < oldest.asOfMs) oldest = q;
        if (oldest) {
          s.pending.delete(oldest.key);
          this.droppedPending++;
        }
      }
      return { status: 'pending' };
    }
    this.markResolved(`${p.symbol}|${p.interval}`, p.key);
    return { status: 'resolved', outcome: r };
  }

  /** Remember a prediction resolved before a restart, so that its redelivery is ignored. */
  rememberResolved(p: { symbol: string; interval: string; key: string }): void {
    this.markResolved(`${p.symbol}|${p.interval}`, p.key);
  }

  pendingCount(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.pending.size;
    return n;
  }

  /** Oldest kept bar per series (for pruning persisted bars). */
  oldestBarPerSeries(): Array<{ symbol: string; interval: string; tMs: number }> {
    const out: Array<{ symbol: string; interval: string; tMs: number }> = [];
    for (const [id, s] of this.series) {
      const first = s.bars[0];
      if (!first) continue;
      const [symbol, interval] = id.split('|') as [string, string];
      out.push({ symbol, interval, tMs: first.tMs });
    }
    return out;
  }
}
