// Dashboard page: state, wiring of the JSON API and the live stream to the chart and panels.
import { dashboardToken, getJson } from './api.js';
import { PriceChart } from './chart.js';
import { challengerPanel } from './challenger.js';
import { $, h, fmtInt, fmtPct, fmtPrice, fmtTs, setText, signClass, syntheticBadge } from './dom.js';
import { LiveStream, resolveStreamUrl } from './live.js';
import { feedRow, renderModels, renderMonitoring, renderNews } from './panels.js';

const REFRESH_MS = { symbols: 15_000, models: 15_000, monitoring: 15_000, news: 10_000, bars: 30_000 };
const FLUSH_MS = 250;
const FEED_ROWS = 12;
const HISTORY = 1500;

const state = {
  symbols: new Map(),
  selected: undefined,
  liveCount: 0,
  last: undefined,
  feed: [],
  pending: [],
  knownModels: new Set(),
  status: { state: 'connecting', attempt: 0 },
};

const chart = new PriceChart($('chart'));
const challenger = challengerPanel(chart);

// ---- notices -------------------------------------------------------------------------------
function notice(message) {
  const el = $('notice');
  el.hidden = !message;
  el.textContent = message ?? '';
}

async function guarded(what, fn) {
  try {
    const r = await fn();
    if ($('notice').dataset.source === what) notice(undefined);
    return r;
  } catch (err) {
    const hint = err.code === 'E_UNAUTHORIZED' ? ' (open the page as …/#token=<DASHBOARD_TOKEN>)' : '';
    $('notice').dataset.source = what;
    notice(`${what}: ${err.message}${hint}`);
    return undefined;
  }
}

// ---- symbols -------------------------------------------------------------------------------
function upsertSymbol(symbol, patch) {
  const cur = state.symbols.get(symbol) ?? { symbol, lastClose: null, barTs: null, prediction: null };
  state.symbols.set(symbol, { ...cur, ...patch });
}

function renderSymbols() {
  const filter = $('symbol-filter').value.trim().toUpperCase();
  const all = [...state.symbols.values()].sort((a, b) => a.symbol.localeCompare(b.symbol));
  const shown = all.filter((s) => !filter || s.symbol.includes(filter));
  $('symbols-empty').hidden = all.length > 0;
  setText('symbol-count', all.length ? `${all.length}` : '');
  $('symbol-list').replaceChildren(
    ...shown.map((s) => {
      const r = s.prediction?.predictedReturn;
      return h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            role: 'option',
            class: `symbol${s.symbol === state.selected ? ' active' : ''}`,
            'aria-selected': s.symbol === state.selected ? 'true' : 'false',
            dataset: { symbol: s.symbol },
            onclick: () => select(s.symbol),
          },
          h('span', { class: 'sym' }, s.symbol),
          h('span', { class: 'num' }, fmtPrice(s.lastClose ?? s.prediction?.lastClose)),
          h('span', { class: `chg ${signClass(r)}`, title: 'predicted return of the next bar' }, r === undefined ? '' : `${r > 0 ? '▲' : r < 0 ? '▼' : '■'} ${fmtPct(r)}`),
        ),
      );
    }),
  );
}

async function refreshSymbols() {
  const r = await guarded('symbols', () => getJson('/api/symbols'));
  if (!r) return;
  for (const s of r.symbols) {
    const cur = state.symbols.get(s.symbol);
    // Live frames may be ahead of the database: keep whichever is newer.
    const newerPrediction = !cur?.prediction || (s.prediction && s.prediction.asOf >= cur.prediction.asOf);
    const newerBar = !cur?.barTs || (s.barTs && s.barTs >= cur.barTs);
    upsertSymbol(s.symbol, { ...(newerBar ? { lastClose: s.lastClose, barTs: s.barTs } : {}), ...(newerPrediction ? { prediction: s.prediction } : {}) });
  }
  if (!state.selected && state.symbols.size) {
    const wanted = new URLSearchParams(location.hash.slice(1)).get('symbol');
    await select(wanted && state.symbols.has(wanted) ? wanted : [...state.symbols.keys()].sort()[0]);
  }
  renderSymbols();
}

// ---- chart ---------------------------------------------------------------------------------
async function select(symbol) {
  if (!symbol) return;
  state.selected = symbol;
  history.replaceState(null, '', `#symbol=${encodeURIComponent(symbol)}`);
  chart.reset(symbol);
  $('chart-synthetic').hidden = true;
  setText('chart-symbol', symbol);
  setText('chart-sub', 'loading…');
  renderSymbols();
  await loadBars(symbol);
  const preds = await guarded('predictions', () => getJson('/api/predictions', { symbol, limit: HISTORY }));
  if (preds && state.selected === symbol) chart.addPredictions(preds.predictions);
  renderFigures();
  await challenger.select(symbol);
}

async function loadBars(symbol) {
  const r = await guarded('bars', () => getJson('/api/bars', { symbol, limit: HISTORY }));
  if (!r || state.selected !== symbol) return;
  chart.setBars(r.bars);
  challenger.redraw();
  $('chart-empty').hidden = r.bars.length > 0;
  renderFigures();
}

let barsTimer;
/** Reload the bars a second after a prediction newer than the last bar (at most once a second: a steady stream must not postpone it forever). */
function scheduleBars() {
  barsTimer ??= setTimeout(() => {
    barsTimer = undefined;
    if (state.selected) void loadBars(state.selected);
  }, 1_000);
}

/**
 * The prediction of the bar after the last bar on the chart: same symbol, made as of that bar
 * (so in that bar's price scale), newest model version. Newer or older predictions are not it:
 * while the history is replayed the stream runs behind (or ahead of) the stored bars.
 */
function nextBarPrediction(symbol, bar) {
  if (!bar || chart.symbol !== symbol) return undefined;
  const p = chart.predictions.get(bar.ts);
  return p && p.symbol === symbol ? p : undefined;
}

function renderFigures() {
  const symbol = state.selected;
  if (!symbol) return;
  const bar = chart.lastBar;
  const p = nextBarPrediction(symbol, bar);
  const acc = chart.accuracy();
  setText('chart-sub', bar ? `${fmtInt(chart.bars.length)} bars to ${fmtTs(bar.ts)} · ${fmtInt(chart.predictions.size)} predictions` : 'no bars yet');
  const synthetic = chart.firstSyntheticBar;
  const badge = $('chart-synthetic');
  badge.hidden = !synthetic;
  badge.title = synthetic ? `bars from ${fmtTs(synthetic.ts)} on are generated (the seeded synthetic continuation after the replay), not market prices` : '';
  const close = setText('fig-close', bar ? fmtPrice(bar.close) : '—');
  setData(close, bar ? { symbol, ts: bar.ts, close: String(bar.close) } : {});
  const pred = $('fig-pred');
  pred.replaceChildren(
    ...(p ? [fmtPrice(p.predictedPrice), ' ', h('span', { class: `delta ${signClass(p.predictedReturn)}` }, fmtPct(p.predictedReturn))] : ['—']),
    ...(p?.synthetic === true ? [' ', syntheticBadge('this prediction')] : []),
  );
  setData(pred, p ? { symbol: p.symbol, asOf: p.asOf, price: String(p.predictedPrice), lastClose: String(p.lastClose), version: String(p.model.version), ...(p.synthetic === true ? { synthetic: 'true' } : {}) } : {});
  const newest = latestKnown(symbol);
  pred.title = p
    ? `predicted for the bar after ${fmtTs(p.asOf)}, horizon ${p.horizon} bar(s), ${p.model.name} v${p.model.version}`
    : bar
      ? `no prediction made as of the last bar (${fmtTs(bar.ts)}) yet${newest ? `; the newest is as of ${fmtTs(newest.asOf)}` : ''}`
      : '';
  setText('fig-hit', acc.hitRate === undefined ? '—' : `${(acc.hitRate * 100).toFixed(1)}%`);
  $('fig-hit').title = `over ${acc.calls} predictions on the chart whose outcome is known`;
  setText('fig-mae', acc.mae === undefined ? '—' : fmtPrice(acc.mae));
}

/** Replace an element's data-* attributes with `data`. */
function setData(el, data) {
  for (const k of Object.keys(el.dataset)) delete el.dataset[k];
  Object.assign(el.dataset, data);
}

function latestKnown(symbol) {
  let best = state.symbols.get(symbol)?.prediction ?? undefined;
  for (const p of chart.symbol === symbol ? chart.predictions.values() : []) if (!best || p.asOf > best.asOf) best = p;
  return best;
}

// ---- live stream ---------------------------------------------------------------------------
function onStatus(s) {
  state.status = s;
  renderStatus();
}

function renderStatus() {
  const s = state.status;
  const el = $('conn-status');
  el.dataset.state = s.state;
  const secs = s.retryAt ? Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000)) : 0;
  const text = { open: 'live', connecting: 'connecting…', reconnecting: `reconnecting in ${secs}s` }[s.state] ?? s.state;
  el.querySelector('.pill-text').textContent = text;
  el.title = s.error ? `last error: ${s.error}; attempt ${s.attempt}` : '';
}

function onSnapshot(symbol, p) {
  if (!p) return;
  const cur = state.symbols.get(symbol);
  if (!cur?.prediction || p.asOf >= cur.prediction.asOf) upsertSymbol(symbol, { prediction: p });
  schedule();
}

/** A prediction frame as the predictor sends it (packages/contracts PricePrediction); anything else is skipped. */
const isPrediction = (p) =>
  p && typeof p.symbol === 'string' && typeof p.asOf === 'string' && typeof p.predictedPrice === 'number' && typeof p.model?.name === 'string';

function onPrediction(p) {
  if (!isPrediction(p)) {
    console.warn('skipped a malformed prediction frame', p);
    return;
  }
  // Counted on arrival, so the counter is exactly the prediction frames this page received.
  state.liveCount += 1;
  state.pending.push(p);
  schedule();
}

let flushTimer;
function schedule() {
  flushTimer ??= setTimeout(flush, FLUSH_MS);
}

/** Apply everything that arrived since the last flush at once: bursts of thousands stay cheap. */
function flush() {
  flushTimer = undefined;
  const batch = state.pending.splice(0);
  let newSymbol = false;
  for (const p of batch) {
    const cur = state.symbols.get(p.symbol);
    if (!cur) newSymbol = true;
    if (!cur?.prediction || p.asOf >= cur.prediction.asOf) {
      upsertSymbol(p.symbol, { prediction: p, ...(!cur?.barTs || p.asOf >= cur.barTs ? { lastClose: p.lastClose, barTs: p.asOf } : {}) });
    }
    const key = `${p.model.name}@${p.model.version}`;
    if (!state.knownModels.has(key)) {
      state.knownModels.add(key);
      void refreshModels();
    }
  }
  if (batch.length) {
    state.last = batch.at(-1);
    state.feed = [...batch.slice(-FEED_ROWS).reverse(), ...state.feed].slice(0, FEED_ROWS);
    const mine = batch.filter((p) => p.symbol === state.selected);
    if (mine.length) {
      chart.addPredictions(mine, { live: true });
      const last = chart.lastBar;
      if (!last || mine.some((p) => p.asOf > last.ts)) scheduleBars();
    }
  }
  renderLive();
  renderSymbols();
  renderFigures();
  if (newSymbol && !state.selected) void select([...state.symbols.keys()].sort()[0]);
}

function renderLive() {
  setText('live-count', fmtInt(state.liveCount));
  const p = state.last;
  const el = $('last-prediction');
  if (p) {
    el.replaceChildren(
      h('b', {}, p.symbol),
      ` ${fmtPrice(p.predictedPrice)} `,
      h('span', { class: `delta ${signClass(p.predictedReturn)}` }, fmtPct(p.predictedReturn)),
      h('span', { class: 'muted' }, ` · ${fmtTs(p.asOf)}`),
      ...(p.synthetic === true ? [' ', syntheticBadge('this prediction')] : []),
    );
    setData(el, { symbol: p.symbol, asOf: p.asOf, price: String(p.predictedPrice), version: String(p.model.version), ...(p.synthetic === true ? { synthetic: 'true' } : {}) });
    setText('serving-model', `${p.model.name} v${p.model.version}`);
  }
  $('feed-empty').hidden = state.feed.length > 0;
  $('feed-rows').replaceChildren(...state.feed.map(feedRow));
}

// ---- panels --------------------------------------------------------------------------------
async function refreshModels() {
  const r = await guarded('models', () => getJson('/api/models'));
  if (!r) return;
  for (const v of r.versions) state.knownModels.add(`${v.name}@${v.version}`);
  renderModels($('models'), r);
  setText('models-updated', `updated ${new Date().toLocaleTimeString()}`);
  if (!state.last) {
    const prod = r.aliases.find((a) => a.alias === 'production' && a.name === 'price') ?? r.aliases.find((a) => a.alias === 'production');
    if (prod) setText('serving-model', `${prod.name} v${prod.version}`);
  }
}

async function refreshMonitoring() {
  const r = await guarded('monitoring', () => getJson('/api/monitoring'));
  if (r) renderMonitoring($('monitoring'), $('monitoring-state'), r);
}

async function refreshNews() {
  const r = await guarded('news', () => getJson('/api/news', { limit: 30 }));
  if (r) renderNews($('news-list'), $('news-empty'), r.news);
}

function every(ms, fn) {
  let running = false;
  setInterval(async () => {
    if (running || document.hidden) return;
    running = true;
    try {
      await fn();
    } finally {
      running = false;
    }
  }, ms);
}

async function main() {
  $('symbol-filter').addEventListener('input', renderSymbols);
  const config = await guarded('config', () => getJson('/api/config'));
  if (config) {
    const url = resolveStreamUrl(config, dashboardToken());
    setText('footer-ws', `stream ${url.replace(/([?&]token=)[^&]+/, '$1***')}`);
    new LiveStream(url, { onStatus, onPrediction, onSnapshot }).start();
  }
  await Promise.all([refreshSymbols(), refreshModels(), refreshMonitoring(), refreshNews()]);
  every(REFRESH_MS.symbols, refreshSymbols);
  every(REFRESH_MS.models, refreshModels);
  every(REFRESH_MS.monitoring, refreshMonitoring);
  every(REFRESH_MS.monitoring, () => challenger.refresh());
  every(REFRESH_MS.news, refreshNews);
  every(REFRESH_MS.bars, () => state.selected && loadBars(state.selected));
  setInterval(renderStatus, 1_000);
  document.body.dataset.ready = 'true';
}

void main();
