// Price chart: candles and volume from /api/bars, the predicted close as a line placed at the
// bar each prediction is about (asOf + horizon bars), and a marker on the newest live one.
// Generated (synthetic) bars are drawn in violet and the predictions made from them in fuchsia
// (a line over violet candles must stay visible), and the first synthetic bar carries a
// "synthetic" marker.
import {
  createChart,
  createSeriesMarkers,
  CandlestickSeries,
  ColorType,
  CrosshairMode,
  HistogramSeries,
  LineSeries,
  LineStyle,
} from '/vendor/lightweight-charts.mjs';

export const COLORS = {
  up: '#22c55e',
  down: '#f43f5e',
  pred: '#f5a524',
  live: '#38bdf8',
  synthetic: '#a78bfa',
  syntheticPred: '#e879f9',
  text: '#94a3b8',
  grid: 'rgba(148, 163, 184, 0.07)',
};

const DAY_S = 86_400;
const VISIBLE_BARS = 140;

const toTime = (iso) => Math.floor(Date.parse(iso) / 1000);

function median(xs) {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Daily and weekly bars skip weekends when a prediction lands past the last bar. */
function skipWeekend(t, step) {
  if (step < DAY_S) return t;
  const day = new Date(t * 1000).getUTCDay();
  return day === 6 ? t + 2 * DAY_S : day === 0 ? t + DAY_S : t;
}

export class PriceChart {
  constructor(container) {
    this.chart = createChart(container, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: 'transparent' },
        textColor: COLORS.text,
        fontFamily: 'Inter, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
        fontSize: 12,
      },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      rightPriceScale: { borderVisible: false, scaleMargins: { top: 0.08, bottom: 0.22 } },
      timeScale: { borderVisible: false, rightOffset: 4, barSpacing: 7 },
      crosshair: { mode: CrosshairMode.Normal },
    });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: 'volume',
      priceFormat: { type: 'volume' },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: COLORS.up,
      downColor: COLORS.down,
      wickUpColor: COLORS.up,
      wickDownColor: COLORS.down,
      borderVisible: false,
      priceLineColor: '#64748b',
    });
    this.pred = this.chart.addSeries(LineSeries, {
      color: COLORS.pred,
      lineWidth: 2,
      lineStyle: LineStyle.Solid,
      priceLineVisible: false,
      lastValueVisible: true,
      crosshairMarkerRadius: 4,
      title: 'predicted',
    });
    this.markers = createSeriesMarkers(this.pred, []);
    this.barMarkers = createSeriesMarkers(this.candles, []);
    this.bars = [];
    this.timeIndex = new Map();
    this.step = DAY_S;
    this.predictions = new Map();
    this.liveAsOf = undefined;
    this.symbol = undefined;
  }

  /** Replace everything for a newly selected symbol. */
  reset(symbol) {
    this.symbol = symbol;
    this.bars = [];
    this.timeIndex = new Map();
    this.predictions = new Map();
    this.liveAsOf = undefined;
    this.fitted = false;
    this.candles.setData([]);
    this.volume.setData([]);
    this.pred.setData([]);
    this.markers.setMarkers([]);
    this.barMarkers.setMarkers([]);
  }

  setBars(bars) {
    this.bars = bars.map((b) => ({ ...b, time: toTime(b.ts) }));
    this.timeIndex = new Map(this.bars.map((b, i) => [b.time, i]));
    const diffs = this.bars.slice(-30).map((b, i, a) => (i ? b.time - a[i - 1].time : 0)).filter((d) => d > 0);
    this.step = median(diffs) ?? DAY_S;
    const synth = { color: COLORS.synthetic, wickColor: COLORS.synthetic, borderColor: COLORS.synthetic };
    this.candles.setData(this.bars.map((b) => ({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close, ...(b.synthetic === true ? synth : {}) })));
    this.volume.setData(
      this.bars.map((b) => ({
        time: b.time,
        value: b.volume,
        color: b.synthetic === true ? 'rgba(167, 139, 250, 0.28)' : b.close >= b.open ? 'rgba(34, 197, 94, 0.28)' : 'rgba(244, 63, 94, 0.28)',
      })),
    );
    const first = this.firstSyntheticBar;
    this.barMarkers.setMarkers(first ? [{ time: first.time, position: 'aboveBar', color: COLORS.synthetic, shape: 'arrowDown', text: 'synthetic' }] : []);
    this.redrawPredictions();
    if (!this.fitted && this.bars.length) {
      this.fitted = true;
      const n = this.bars.length;
      this.chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, n - VISIBLE_BARS), to: n + 3 });
    }
  }

  /** Add predictions (from the API or live); the newest model version wins per asOf. */
  addPredictions(list, { live = false } = {}) {
    for (const p of list) {
      const cur = this.predictions.get(p.asOf);
      if (!cur || p.model.version >= cur.model.version) this.predictions.set(p.asOf, p);
      if (live && (!this.liveAsOf || p.asOf >= this.liveAsOf)) this.liveAsOf = p.asOf;
    }
    this.redrawPredictions();
  }

  /** The time of the bar a prediction is about: `horizon` bars after its asOf bar. */
  targetTime(p) {
    const t = toTime(p.asOf);
    const i = this.timeIndex.get(t);
    const last = this.bars.at(-1);
    if (i !== undefined && i + p.horizon < this.bars.length) return this.bars[i + p.horizon].time;
    const from = i !== undefined && last ? last.time : t;
    const stepsLeft = i !== undefined ? i + p.horizon - (this.bars.length - 1) : p.horizon;
    let out = from;
    for (let k = 0; k < stepsLeft; k++) out = skipWeekend(out + this.step, this.step);
    return out;
  }

  /** Line points of predictions, each at the bar it predicts, from the first bar on ([] before bars). */
  predictionPoints(predictions) {
    if (!this.bars.length) return [];
    const firstTime = this.bars[0].time;
    const points = new Map();
    for (const p of predictions) {
      if (toTime(p.asOf) < firstTime) continue;
      points.set(this.targetTime(p), { p, value: p.predictedPrice });
    }
    return [...points.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([time, { p, value }]) => (p.synthetic === true ? { time, value, color: COLORS.syntheticPred } : { time, value }));
  }

  redrawPredictions() {
    if (!this.bars.length) return;
    this.pred.setData(this.predictionPoints(this.predictions.values()));
    const live = this.liveAsOf ? this.predictions.get(this.liveAsOf) : undefined;
    this.markers.setMarkers(
      live ? [{ time: this.targetTime(live), position: 'inBar', color: COLORS.live, shape: 'circle', size: 1.4, text: 'live' }] : [],
    );
  }

  /**
   * How the predictions on screen did against the bars that came after them: the share whose
   * direction (predicted vs last close) matched the realised move, and the mean absolute error.
   */
  accuracy() {
    let hits = 0;
    let calls = 0;
    let absErr = 0;
    let n = 0;
    for (const p of this.predictions.values()) {
      const i = this.timeIndex.get(toTime(p.asOf));
      if (i === undefined || i + p.horizon >= this.bars.length) continue;
      const actual = this.bars[i + p.horizon].close;
      absErr += Math.abs(p.predictedPrice - actual);
      n++;
      const predicted = Math.sign(p.predictedPrice - p.lastClose);
      const realised = Math.sign(actual - p.lastClose);
      if (predicted !== 0 && realised !== 0) {
        calls++;
        if (predicted === realised) hits++;
      }
    }
    return { hitRate: calls ? hits / calls : undefined, calls, mae: n ? absErr / n : undefined, n };
  }

  get lastBar() {
    return this.bars.at(-1);
  }

  /** The first generated bar on the chart, if any (the synthetic continuation starts there). */
  get firstSyntheticBar() {
    return this.bars.find((b) => b.synthetic === true);
  }
}
