// Renderers of the side panels: model registry, monitoring, news and the live feed.
import { h, fmtAgo, fmtInt, fmtNum, fmtPct, fmtPrice, fmtTs, signClass, syntheticBadge } from './dom.js';

const METRIC_ORDER = ['rmse', 'mae', 'directionalAccuracy', 'backtest_sharpe', 'accuracy', 'macroF1', 'f1', 'logLoss', 'mape', 'ic'];
const METRIC_LABEL = {
  rmse: 'RMSE',
  mae: 'MAE',
  mape: 'MAPE',
  directionalAccuracy: 'direction',
  backtest_sharpe: 'Sharpe',
  accuracy: 'accuracy',
  macroF1: 'macro F1',
  f1: 'F1',
  logLoss: 'log loss',
  ic: 'IC',
};
const RATIO_METRICS = new Set(['directionalAccuracy', 'accuracy', 'macroF1', 'f1']);

function metricChips(metrics = {}) {
  const keys = METRIC_ORDER.filter((k) => typeof metrics[k] === 'number').slice(0, 4);
  return keys.map((k) => {
    const v = metrics[k];
    const text = RATIO_METRICS.has(k) ? `${(v * 100).toFixed(1)}%` : fmtNum(v);
    const baseline = k === 'rmse' && typeof metrics.baseline_zero_rmse === 'number' ? `naive ${fmtNum(metrics.baseline_zero_rmse)}` : undefined;
    return h('span', { class: 'chip', title: baseline ? `${k}; zero-return baseline ${metrics.baseline_zero_rmse}` : k }, h('b', {}, METRIC_LABEL[k] ?? k), ` ${text}`);
  });
}

/** Registry table: each model's versions (newest first) with status, baseline marker (`params.baseline`), aliases and key metrics. */
export function renderModels(container, { versions = [], aliases = [] }) {
  if (!versions.length) {
    container.replaceChildren(h('p', { class: 'empty' }, 'No models registered yet: the trainer registers one after the first training run.'));
    return;
  }
  const aliasOf = new Map();
  for (const a of aliases) {
    const key = `${a.name}@${a.version}`;
    aliasOf.set(key, [...(aliasOf.get(key) ?? []), a.alias]);
  }
  const byName = new Map();
  for (const v of versions) byName.set(v.name, [...(byName.get(v.name) ?? []), v]);
  const blocks = [];
  for (const [name, list] of [...byName.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    list.sort((a, b) => b.version - a.version);
    const rows = list.slice(0, 5).map((v) =>
      h(
        'li',
        { class: 'version', dataset: { model: v.name, version: String(v.version), status: v.status } },
        h(
          'div',
          { class: 'version-head' },
          h('span', { class: 'ver' }, `v${v.version}`),
          h('span', { class: `badge ${v.status}`, title: v.statusReason ?? '' }, v.status),
          ...(v.params?.baseline ? [h('span', { class: 'badge baseline', title: 'a baseline, not a trained model (served while no model has passed the gate)' }, `baseline: ${v.params.baseline}`)] : []),
          ...(aliasOf.get(`${v.name}@${v.version}`) ?? []).filter((a) => a !== v.status).map((a) => h('span', { class: 'badge alias' }, a)),
          h('span', { class: 'muted small reason', title: v.statusReason ?? '' }, v.statusReason ?? ''),
          h('span', { class: 'muted small nowrap when', title: v.createdAt }, fmtAgo(v.createdAt)),
        ),
        h('div', { class: 'chips' }, metricChips(v.metrics)),
      ),
    );
    const window = list[0]?.dataWindow;
    blocks.push(
      h(
        'div',
        { class: 'model-block' },
        h(
          'div',
          { class: 'model-name' },
          h('span', {}, name),
          h('span', { class: 'muted small' }, `${list[0]?.task ?? ''} · ${list.length} version${list.length === 1 ? '' : 's'}${window ? ` · trained on ${fmtInt(window.rows)} rows to ${fmtTs(window.to)}` : ''}`),
        ),
        h('ul', { class: 'versions' }, rows),
      ),
    );
  }
  container.replaceChildren(...blocks);
}

const PSI_WARN = 0.1;
const PSI_ALERT = 0.25;
const psiClass = (v) => (v >= PSI_ALERT ? 'down' : v >= PSI_WARN ? 'warn' : 'up');
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Overall state: an open alert → alert; a breach or drifted features → drift; reports → ok; nothing → none. */
export function monitoringState({ reports = [], alerts = [] }) {
  if (alerts.some((a) => a.status === 'open')) return 'alert';
  if (reports.some((r) => r.breaches.length > 0 || (num(r.featureDrift?.drifted) ?? 0) > 0)) return 'drift';
  return reports.length || alerts.length ? 'ok' : 'none';
}

function psiBar(label, v, title) {
  return h(
    'li',
    {},
    h('span', { class: 'metric-key', title: title ?? label }, label),
    h('span', { class: 'bar' }, h('i', { class: psiClass(v), style: { width: `${Math.min(100, (v / 0.5) * 100).toFixed(0)}%` } })),
    h('span', { class: `num ${psiClass(v)}` }, fmtNum(v)),
  );
}

function reportBlock(r) {
  const fd = r.featureDrift;
  const perf = r.performance;
  const facts = [];
  if (perf && num(perf.n)) {
    facts.push(
      h('span', { class: 'chip', title: `rolling performance of ${perf.modelName ?? ''} v${perf.modelVersion ?? ''} over ${perf.n} realised predictions` }, h('b', {}, 'live MAE'), ` ${fmtNum(perf.mae)}`),
      num(perf.directionalAccuracy) !== undefined ? h('span', { class: 'chip' }, h('b', {}, 'direction'), ` ${(perf.directionalAccuracy * 100).toFixed(1)}%`) : null,
      h('span', { class: 'chip' }, h('b', {}, 'n'), ` ${fmtInt(perf.n)}`),
    );
  }
  if (fd && num(fd.evaluated)) facts.push(h('span', { class: `chip ${fd.drifted > 0 ? 'warn' : ''}`, title: `over ${fd.n} live feature vectors` }, h('b', {}, 'drifted'), ` ${fd.drifted}/${fd.evaluated} features`));
  if (num(r.pendingPredictions) !== undefined) facts.push(h('span', { class: 'chip', title: 'predictions waiting for their outcome' }, h('b', {}, 'pending'), ` ${fmtInt(r.pendingPredictions)}`));
  const bars = [];
  if (num(r.predictionDrift?.psi) !== undefined) bars.push(psiBar('predictions (PSI)', r.predictionDrift.psi, 'PSI of predicted returns vs the training reference'));
  if (num(r.sentimentDrift?.psi) !== undefined) bars.push(psiBar('sentiment labels (PSI)', r.sentimentDrift.psi));
  for (const f of r.features.slice(0, 6)) if (num(f.psi) !== undefined) bars.push(psiBar(String(f.name), f.psi, `${f.name}: PSI ${f.psi}, KS ${f.ksStatistic ?? '—'}${f.drifted ? ' (drifted)' : ''}`));
  return h(
    'div',
    { class: 'report', dataset: { task: r.task, action: r.action } },
    h(
      'div',
      { class: 'report-head' },
      h('b', {}, r.task),
      h('span', { class: 'muted small' }, [r.model ? `${r.model.name} v${r.model.version}` : 'no serving model', `evaluated ${fmtAgo(r.evaluatedAt)}`].join(' · ')),
      r.action && r.action !== 'none' ? h('span', { class: `badge ${r.action === 'retrain_requested' ? 'rejected' : 'warn'}` }, r.action.replaceAll('_', ' ')) : null,
    ),
    facts.length ? h('div', { class: 'chips facts' }, facts) : null,
    r.referenceProblem ? h('p', { class: 'small muted' }, r.referenceProblem) : null,
    bars.length ? h('ul', { class: 'metric-bars' }, bars) : null,
    ...r.breaches.map((b) => h('p', { class: 'breach small' }, h('span', { class: 'badge warn' }, b.kind.replaceAll('_', ' ')), ' ', b.reason)),
  );
}

export function renderMonitoring(container, badge, data) {
  const state = monitoringState(data);
  badge.className = `badge ${{ alert: 'rejected', drift: 'warn', ok: 'production', none: 'neutral' }[state]}`;
  badge.textContent = { alert: 'alert', drift: 'drift', ok: 'healthy', none: 'no data' }[state];
  badge.dataset.state = state;
  const { reports = [], alerts = [] } = data;
  if (!reports.length && !alerts.length) {
    container.replaceChildren(h('p', { class: 'empty' }, 'No monitoring reports yet: the monitor service writes drift and performance reports here.'));
    return;
  }
  const parts = reports.map(reportBlock);
  if (alerts.length) {
    parts.push(
      h(
        'ul',
        { class: 'alerts' },
        alerts.slice(0, 5).map((a) =>
          h(
            'li',
            { class: a.status, dataset: { alertId: a.id } },
            h('span', { class: `badge ${a.status === 'open' ? 'rejected' : 'archived'}` }, `${a.status} · ${a.kind.replaceAll('_', ' ')}`),
            h('span', { class: 'alert-text', title: a.closeReason ? `closed: ${a.closeReason}` : '' }, a.reason, a.occurrences > 1 ? h('span', { class: 'muted' }, ` ×${a.occurrences}`) : null),
            h('span', { class: 'muted small nowrap' }, fmtAgo(a.openedAt)),
          ),
        ),
      ),
    );
  }
  container.replaceChildren(...parts);
}

/** One item per article (the API has one row per article and symbol), symbols joined. */
export function renderNews(list, empty, news) {
  const byId = new Map();
  for (const n of news) {
    const cur = byId.get(n.id);
    if (cur) {
      cur.symbols.push(n.symbol);
      cur.sentiment ??= n.sentiment;
    } else byId.set(n.id, { ...n, symbols: [n.symbol] });
  }
  const articles = [...byId.values()];
  empty.hidden = articles.length > 0;
  list.replaceChildren(
    ...articles.map((n) => {
      const s = n.sentiment;
      const label = s ? s.label : 'unscored';
      const probs = s ? Object.entries(s.probs ?? {}).map(([k, v]) => `${k} ${(v * 100).toFixed(0)}%`).join(', ') : '';
      return h(
        'li',
        { dataset: { articleId: n.id } },
        h(
          'div',
          { class: 'news-head' },
          h('span', { class: `badge sentiment ${label}`, title: s ? `${s.model.name} v${s.model.version}: ${probs}` : 'no sentiment prediction yet' }, s ? `${label} ${fmtNum(s.score)}` : label),
          h('a', { href: /^https?:\/\//.test(n.url) ? n.url : '#', target: '_blank', rel: 'noopener noreferrer', class: 'news-title' }, n.title),
        ),
        h('div', { class: 'muted small' }, `${n.symbols.join(', ')} · ${n.source} · ${fmtAgo(n.publishedAt)}`),
        n.summary ? h('p', { class: 'news-summary small' }, n.summary) : null,
      );
    }),
  );
}

export function feedRow(p) {
  return h(
    'tr',
    { dataset: { symbol: p.symbol, asOf: p.asOf, ...(p.synthetic === true ? { synthetic: 'true' } : {}) } },
    h('td', { class: 'sym' }, p.symbol, p.synthetic === true ? [' ', syntheticBadge('this prediction')] : null),
    h('td', { class: 'nowrap' }, fmtTs(p.asOf)),
    h('td', { class: 'num' }, fmtPrice(p.lastClose)),
    h('td', { class: 'num' }, fmtPrice(p.predictedPrice)),
    h('td', { class: `num ${signClass(p.predictedReturn)}` }, fmtPct(p.predictedReturn)),
    h('td', { class: 'muted' }, `${p.model.name} v${p.model.version}`),
  );
}
