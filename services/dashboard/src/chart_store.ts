import type { CleanPriceBar, PricePrediction } from '@stock-mlops/contracts';
import { SeriesCache } from './series_cache.ts';
import type { BarRow, PredictionRow, SymbolRow } from './queries.ts';

/** Newest items kept per symbol (and interval): the largest `limit` the API accepts. */
export const CHART_CAP = 5_000;
/** The interval of the symbol list's last close (the chart's default). */
export const DEFAULT_INTERVAL = '1d';

export type BarInput = Pick<CleanPriceBar, 'symbol' | 'ts' | 'open' | 'high' | 'low' | 'close' | 'volume' | 'synthetic'> & { interval: string };
type BarItem = BarRow & { symbol: string; interval: string };

/** The synthetic mark of generated data, kept only when set (market rows stay without the field). */
const synthetic = (x: { synthetic?: boolean | undefined }): { synthetic?: true } => (x.synthetic === true ? { synthetic: true } : {});

/**
 * What the chart and the symbol list show, in memory: bars and price predictions per symbol,
 * loaded once from the database and then kept current from the stream (see feed.ts). Reads are
 * array slices, whatever the size of the collections.
 */
export class ChartStore {
  private readonly barCache = new SeriesCache<BarItem>({ group: (b) => `${b.symbol}|${b.interval}`, key: (b) => b.ts, time: (b) => b.ts, cap: CHART_CAP });
  private readonly predCache = new SeriesCache<PredictionRow>({
    group: (p) => p.symbol,
    key: (p) => `${p.interval}|${p.asOf}|${p.model.name}|${p.model.version}`,
    time: (p) => p.asOf,
    cap: CHART_CAP,
  });
  private readonly symbolSet = new Set<string>();

  addBars(bars: Iterable<BarInput>): void {
    const items: BarItem[] = [];
    for (const b of bars) {
      items.push({ symbol: b.symbol, interval: b.interval, ts: b.ts, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume, ...synthetic(b) });
      this.symbolSet.add(b.symbol);
    }
    this.barCache.add(items);
  }

  addPredictions(predictions: Iterable<PricePrediction | PredictionRow>): void {
    const items: PredictionRow[] = [];
    for (const p of predictions) {
      items.push({
        symbol: p.symbol,
        interval: p.interval,
        asOf: p.asOf,
        horizon: p.horizon,
        lastClose: p.lastClose,
        predictedReturn: p.predictedReturn,
        predictedPrice: p.predictedPrice,
        model: { name: p.model.name, version: p.model.version },
        latencyMs: p.latencyMs,
        ...synthetic(p),
      });
      this.symbolSet.add(p.symbol);
    }
    this.predCache.add(items);
  }

  /** The newest `limit` bars of a symbol and interval, oldest first. */
  bars(symbol: string, interval: string, limit: number): BarRow[] {
    return this.barCache.newest(`${symbol}|${interval}`, limit).map(({ symbol: _s, interval: _i, ...row }) => row);
  }

  /** The newest `limit` predictions of a symbol (by asOf), oldest first. */
  predictions(symbol: string, limit: number): PredictionRow[] {
    return this.predCache.newest(symbol, limit);
  }

  /** Every symbol with its last daily close and its newest prediction (the newest model version for the newest asOf). */
  symbols(limit: number): SymbolRow[] {
    return [...this.symbolSet]
      .sort()
      .slice(0, limit)
      .map((symbol) => {
        const bar = this.barCache.last(`${symbol}|${DEFAULT_INTERVAL}`);
        return { symbol, lastClose: bar?.close ?? null, barTs: bar?.ts ?? null, prediction: this.newestPrediction(symbol) };
      });
  }

  private newestPrediction(symbol: string): PredictionRow | null {
    const recent = this.predCache.newest(symbol, 64);
    let best: PredictionRow | null = null;
    for (const p of recent) if (!best || p.asOf > best.asOf || (p.asOf === best.asOf && p.model.version > best.model.version)) best = p;
    return best;
  }

  get counts(): { bars: number; predictions: number; symbols: number } {
    return { bars: this.barCache.size(), predictions: this.predCache.size(), symbols: this.symbolSet.size };
  }
}
