// Champion versus challenger: the challenger's shadow predictions as a second line on the price
// chart (teal, dashed) beside production's predicted close (amber), the monitor's live comparison
// of both over the same resolved events (the selected symbol and all symbols: MAE, RMSE, IC, rank
// IC, direction, their ratios, the paired Diebold–Mariano test, the joined count), and the newest
// promotion decision with its evidence. Data: /api/challenger. Text goes in through textContent.
import { LineSeries, LineStyle } from '/vendor/lightweight-charts.mjs';
import { getJson } from './api.js';
import { $, h, fmtAgo, fmtInt, fmtTs } from './dom.js';

export const CHALLENGER_COLOR = '#2dd4bf';
const HISTORY = 1500;

/** Per-side metrics: `production<Key>` and `challenger<Key>` of a comparison. */
const SIDE_METRICS = [
  ['Mae', 'MAE (price)'],
  ['Rmse', 'RMSE (price)'],
  ['Ic', 'IC'],
  ['RankIc', 'rank IC'],
  ['DirectionalAccuracy', 'direction'],
];
/** Paired figures of a comparison. */
const PAIR_METRICS = [
  ['n', 'joined', 'events both versions predicted whose outcome is known'],
  ['maeRatio', 'MAE ratio', 'challenger MAE / production MAE (< 1: the challenger errs less)'],
  ['rmseRatio', 'RMSE ratio', 'challenger RMSE / production RMSE (< 1: the challenger errs less)'],
  ['dmHlnStatistic', 'DM (HLN)', 'Diebold–Mariano statistic with the Harvey–Leybourne–Newbold correction on the return losses (> 0: the challenger errs less)'],
  ['dmPValue', 'p', 'one-sided p-value of the Diebold–Mariano test (the challenger\'s expected loss is lower)'],
];
const EVIDENCE = [
  ['pairedOutcomes', 'joined'],
  ['dmPValue', 'p'],
  ['maxPValue', 'p limit'],
  ['rmseRatio', 'RMSE ratio'],
  ['maeRatio', 'MAE ratio'],
  ['productionIc', 'IC production'],
  ['challengerIc', 'IC challenger'],
];

/** Four significant digits; a share in percent; a count as an integer. */
export function fmtMetric(key, v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  if (key === 'n' || key === 'pairedOutcomes') return fmtInt(v);
  if (key.endsWith('DirectionalAccuracy')) return `${(v * 100).toFixed(1)}%`;
  return String(Number(v.toPrecision(4)));
}

const valueData = (scope, key, v) => ({ scope, key, value: typeof v === 'number' && Number.isFinite(v) ? String(v) : '' });

function comparisonBlock(scope, title, c) {
  const rows = SIDE_METRICS.map(([k, label]) =>
    h(
      'tr',
      {},
      h('td', {}, label),
      h('td', { class: 'num', dataset: valueData(scope, `production${k}`, c[`production${k}`]) }, fmtMetric(`production${k}`, c[`production${k}`])),
      h('td', { class: 'num', dataset: valueData(scope, `challenger${k}`, c[`challenger${k}`]) }, fmtMetric(`challenger${k}`, c[`challenger${k}`])),
    ),
  );
  return h(
    'div',
    { class: 'comparison', dataset: { scope } },
    h(
      'table',
      { class: 'table compact' },
      h('thead', {}, h('tr', {}, h('th', {}, title), h('th', { class: 'num' }, `production v${c.productionVersion}`), h('th', { class: 'num' }, `challenger v${c.challengerVersion}`))),
      h('tbody', {}, rows),
    ),
    h(
      'div',
      { class: 'chips' },
      PAIR_METRICS.map(([k, label, title]) => h('span', { class: 'chip', title, dataset: valueData(scope, k, c[k]) }, h('b', {}, label), ` ${fmtMetric(k, c[k])}`)),
    ),
  );
}

function decisionBlock(d, comparison) {
  if (!d) {
    const off = comparison?.promotionAction === 'off';
    return h('p', { class: 'empty decision', dataset: { action: 'none' } }, off ? 'No promotion decision: live promotion is off (MONITOR_PROMOTION).' : 'No promotion decision yet.');
  }
  const promoted = d.action === 'promote';
  return h(
    'div',
    { class: 'decision', dataset: { action: d.action, decidedAt: d.decidedAt } },
    h(
      'div',
      { class: 'decision-head' },
      h('span', { class: `badge ${promoted ? 'production' : 'warn'}` }, promoted ? 'promoted' : 'kept'),
      h('span', {}, promoted ? `challenger v${d.challenger.version} replaced production v${d.production.version}` : `challenger v${d.challenger.version} kept, production v${d.production.version} stays`),
      h('span', { class: 'muted small nowrap', title: `${d.decidedAt} (${fmtAgo(d.decidedAt)})` }, `${fmtTs(d.decidedAt)} UTC`),
    ),
    h('p', { class: 'small muted reason' }, d.reason),
    h(
      'div',
      { class: 'chips evidence' },
      EVIDENCE.filter(([k]) => typeof d.evidence[k] === 'number').map(([k, label]) => h('span', { class: 'chip', dataset: { key: k, value: String(d.evidence[k]) } }, h('b', {}, label), ` ${fmtMetric(k, d.evidence[k])}`)),
    ),
  );
}

export class ChallengerPanel {
  /** `chart`: the page's PriceChart; `root`: the panel body; `badge`: its state badge; `legend`: the chart legend's challenger entry. */
  constructor(chart, { root, badge, legend }) {
    this.chart = chart;
    this.root = root;
    this.badge = badge;
    this.legend = legend;
    this.series = chart.chart.addSeries(LineSeries, {
      color: CHALLENGER_COLOR,
      lineWidth: 2,
      lineStyle: LineStyle.Dashed,
      priceLineVisible: false,
      lastValueVisible: true,
      crosshairMarkerRadius: 3,
      title: 'challenger',
    });
    this.symbol = undefined;
    this.data = undefined;
  }

  async select(symbol) {
    this.symbol = symbol;
    this.data = undefined;
    this.series.setData([]);
    await this.refresh();
  }

  async refresh() {
    const symbol = this.symbol;
    if (!symbol) return;
    let r;
    try {
      r = await getJson('/api/challenger', { symbol, limit: HISTORY });
    } catch (err) {
      this.root.dataset.state = 'error';
      this.root.replaceChildren(h('p', { class: 'empty' }, `challenger: ${err.message}`));
      return;
    }
    if (symbol !== this.symbol) return;
    this.data = r;
    this.redraw();
    this.render();
  }

  /** Both lines' points (after new bars: a prediction is placed at the bar it predicts). */
  redraw() {
    const r = this.data;
    const mine = r && this.chart.symbol === r.symbol ? r.predictions : [];
    const points = this.chart.predictionPoints(mine).map(({ time, value }) => ({ time, value }));
    this.series.setData(points);
    this.legend.hidden = points.length === 0;
    this.root.dataset.challengerPoints = String(points.length);
    this.root.dataset.productionPoints = String(this.chart.predictionPoints(this.chart.predictions.values()).length);
  }

  render() {
    const r = this.data;
    const c = r.comparison;
    const state = !r.challenger ? 'none' : c?.symbol || r.predictions.length ? 'live' : 'waiting';
    this.root.dataset.state = state;
    this.root.dataset.symbol = r.symbol;
    this.badge.className = `badge ${state === 'none' ? 'neutral' : 'alias'}`;
    this.badge.textContent = r.challenger ? `challenger v${r.challenger.version}` : 'no challenger';
    const lines = h(
      'div',
      { class: 'legend muted small' },
      h('span', {}, h('i', { class: 'swatch pred' }), `production${r.production ? ` ${r.production.name} v${r.production.version}` : ''}`),
      r.challenger ? h('span', {}, h('i', { class: 'swatch challenger' }), `challenger ${r.challenger.name} v${r.challenger.version} (shadow, not served)`) : null,
    );
    const parts = [lines];
    if (state === 'none') {
      parts.push(h('p', { class: 'empty state' }, `No challenger: ${r.model}${r.production ? ` v${r.production.version}` : ''} serves alone. Set one with npm run models -- challenge ${r.model}@N (or a retrain with TRAIN_PROMOTE_AS=challenger).`));
    } else if (state === 'waiting') {
      parts.push(h('p', { class: 'empty state' }, `No shadow predictions or joined outcomes of challenger v${r.challenger.version} for ${r.symbol} yet.`));
    }
    if (c && r.challenger) {
      parts.push(
        h('p', { class: 'small muted report' }, `monitor report ${fmtAgo(c.evaluatedAt)} · policy: ${c.promotionAction || '—'}${c.promotionReason ? ` (${c.promotionReason})` : ''}`),
        c.symbol ? comparisonBlock('symbol', r.symbol, c.symbol) : h('p', { class: 'empty small' }, `No joined outcomes for ${r.symbol} yet.`),
        c.overall ? comparisonBlock('overall', 'all symbols', c.overall) : null,
      );
    }
    parts.push(decisionBlock(r.decision, c));
    this.root.replaceChildren(...parts);
  }
}

/** The panel on the page's elements. */
export function challengerPanel(chart) {
  return new ChallengerPanel(chart, { root: $('challenger'), badge: $('challenger-state'), legend: $('legend-challenger') });
}
