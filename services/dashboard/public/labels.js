// Labelling panel: the recent headlines the served sentiment model is least sure about (lowest
// margin first, from /api/labels/queue), each with negative / neutral / positive buttons that
// POST a label to /api/labels (the dashboard publishes it to the labels topic). A labelled item
// leaves the list at once; the labeller name is remembered in localStorage.
import { getJson, postJson } from './api.js';
import { $, h, fmtAgo, setText } from './dom.js';

const LABELLER_KEY = 'stock-mlops.dashboard.labeller';
const DEFAULT_LABELLER = 'dashboard';
const QUEUE_SIZE = 10;
const REFRESH_MS = 15_000;
const LABELS = ['negative', 'neutral', 'positive'];

const state = {
  items: [],
  /** Text hashes labelled from this page: kept out even if a refresh raced the label. */
  done: new Set(),
  count: 0,
  loading: false,
};

function labeller() {
  return $('labeller').value.trim() || DEFAULT_LABELLER;
}

function status(text, kind = 'info') {
  const el = setText('label-status', text);
  el.dataset.state = kind;
}

function pct(p) {
  return `${(p * 100).toFixed(0)}%`;
}

function itemView(item) {
  const p = item.predicted;
  const probs = LABELS.map((l) => `${l} ${pct(p.probs[l])}`).join(', ');
  // The label is for the whole text the model scored: the title, then the summary.
  const rest = item.text.startsWith(item.title) ? item.text.slice(item.title.length).replace(/^\.\s*/, '') : item.text;
  return h(
    'li',
    { dataset: { textHash: item.textHash, articleId: item.articleId } },
    h('p', { class: 'label-text' }, item.title),
    rest ? h('p', { class: 'label-summary small' }, rest) : null,
    h(
      'div',
      { class: 'muted small', title: `${p.model.name} v${p.model.version}: ${probs}` },
      `${item.symbol} · ${fmtAgo(item.publishedAt)} · model says `,
      h('span', { class: `badge sentiment ${p.label}` }, p.label),
      ` · margin ${p.margin.toFixed(2)}`,
    ),
    h(
      'div',
      { class: 'label-buttons', role: 'group', 'aria-label': 'label this headline' },
      ...LABELS.map((label) => h('button', { type: 'button', class: `label-btn ${label}`, dataset: { label }, onclick: () => void submit(item, label) }, label)),
    ),
  );
}

function render() {
  const shown = state.items.filter((i) => !state.done.has(i.textHash));
  $('label-empty').hidden = shown.length > 0;
  $('label-queue').replaceChildren(...shown.map(itemView));
  setText('label-count', state.count ? `${state.count} labelled here` : '');
}

async function refresh() {
  if (state.loading) return;
  state.loading = true;
  try {
    const r = await getJson('/api/labels/queue', { limit: QUEUE_SIZE });
    state.items = r.items;
    render();
  } catch (err) {
    status(`queue: ${err.message}${err.code === 'E_UNAUTHORIZED' ? ' (open the page as …/#token=<DASHBOARD_TOKEN>)' : ''}`, 'error');
  } finally {
    state.loading = false;
    $('label-queue').dataset.loaded = 'true';
  }
}

async function submit(item, label) {
  state.done.add(item.textHash);
  render();
  try {
    await postJson('/api/labels', { text: item.text, label, labeller: labeller(), articleId: item.articleId, symbol: item.symbol });
    state.count += 1;
    status(`labelled ${label}: ${item.title.slice(0, 80)}`, 'ok');
    render();
    if (state.items.every((i) => state.done.has(i.textHash))) void refresh();
  } catch (err) {
    state.done.delete(item.textHash);
    status(`label not saved: ${err.message}`, 'error');
    render();
  }
}

function main() {
  const input = $('labeller');
  input.value = localStorage.getItem(LABELLER_KEY) ?? DEFAULT_LABELLER;
  input.addEventListener('change', () => {
    const name = input.value.trim();
    if (name) localStorage.setItem(LABELLER_KEY, name);
    else localStorage.removeItem(LABELLER_KEY);
  });
  void refresh();
  setInterval(() => {
    if (!document.hidden) void refresh();
  }, REFRESH_MS);
}

main();
