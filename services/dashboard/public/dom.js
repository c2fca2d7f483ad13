// Small DOM and formatting helpers. Text always goes in through textContent, never innerHTML,
// so headlines or symbols from the data cannot inject markup.

/** h('td', { class: 'num', title: 'x' }, 'text', childNode) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (id) => document.getElementById(id);

/** The label of generated data (the extractor's seeded continuation after the replay), wherever it shows. */
export function syntheticBadge(what = 'this') {
  return h('span', { class: 'badge synthetic', title: `${what} is generated data (the seeded synthetic continuation after the replay), not market prices` }, 'synthetic');
}

export function setText(id, text) {
  const el = $(id);
  if (el && el.textContent !== text) el.textContent = text;
  return el;
}

const intFmt = new Intl.NumberFormat('en-US');
export const fmtInt = (n) => intFmt.format(n);

export function fmtPrice(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const digits = Math.abs(n) >= 1000 ? 2 : Math.abs(n) >= 1 ? 2 : 4;
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtPct(r, digits = 2) {
  if (typeof r !== 'number' || !Number.isFinite(r)) return '—';
  const s = (r * 100).toFixed(digits);
  return `${r > 0 ? '+' : ''}${s}%`;
}

export function fmtNum(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const a = Math.abs(n);
  if (a !== 0 && (a < 0.001 || a >= 1e6)) return n.toExponential(2);
  return n.toLocaleString('en-US', { maximumFractionDigits: a < 1 ? 4 : 2 });
}

/** 2017-09-05 for daily timestamps, 2017-09-05 14:30 otherwise (UTC). */
export function fmtTs(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const date = d.toISOString().slice(0, 10);
  return d.getUTCHours() || d.getUTCMinutes() ? `${date} ${d.toISOString().slice(11, 16)}` : date;
}

export function fmtAgo(iso, now = Date.now()) {
  const t = typeof iso === 'number' ? iso : Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  const s = Math.round((now - t) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  const days = Math.round(s / 86400);
  return days < 60 ? `${days}d ago` : fmtTs(new Date(t).toISOString());
}

export const signClass = (x) => (x > 0 ? 'up' : x < 0 ? 'down' : 'flat');
