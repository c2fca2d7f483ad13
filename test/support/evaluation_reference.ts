/**
 * Helpers for the evaluation/drift tests: the shared real data and the Python reference
 * (test/python/metrics_reference.py, numpy/scipy/scikit-learn). A missing Python or library
 * fails the test with instructions; it is never skipped.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDataDir = process.env.SHARED_DATA_DIR ?? path.resolve(repoRoot, '../shared/data');
const referenceScript = path.join(repoRoot, 'test/python/metrics_reference.py');

/** Minimal RFC 4180 CSV parser (quoted fields, doubled quotes, newlines inside quotes). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

export interface PriceHistory {
  dates: string[];
  /** Epoch ms of each date (UTC midnight). */
  ts: number[];
  adjClose: number[];
}

/** Daily bars of shared/data/prices/<symbol>.csv (Yahoo layout, ascending dates). */
export function loadPrices(symbol: string): PriceHistory {
  const [header, ...rows] = parseCsv(readFileSync(path.join(sharedDataDir, 'prices', `${symbol}.csv`), 'utf8'));
  const dateCol = header?.indexOf('Date') ?? -1;
  const closeCol = header?.indexOf('Adj Close') ?? -1;
  if (dateCol < 0 || closeCol < 0) throw new Error(`${symbol}.csv: expected Date and Adj Close columns`);
  const dates: string[] = [];
  const adjClose: number[] = [];
  for (const r of rows) {
    const close = Number(r[closeCol]);
    if (!r[dateCol] || !Number.isFinite(close)) continue;
    dates.push(r[dateCol] as string);
    adjClose.push(close);
  }
  return { dates, ts: dates.map((d) => Date.parse(`${d}T00:00:00Z`)), adjClose };
}

/** Simple returns close_{t+1}/close_t − 1 of a close series. */
export function simpleReturns(closes: readonly number[]): number[] {
  return closes.slice(1).map((c, i) => c / (closes[i] as number) - 1);
}

const TWITTER_LABELS: Record<string, string> = { '0': 'negative', '1': 'positive', '2': 'neutral' };

/** Tweets and their labels (0 bearish → negative, 1 bullish → positive, 2 → neutral). */
export function loadTwitterSentiment(): { text: string[]; label: string[] } {
  const file = path.join(sharedDataDir, 'sentiment', 'twitter_financial_news_sentiment.train80.csv');
  const [header, ...rows] = parseCsv(readFileSync(file, 'utf8'));
  const textCol = header?.indexOf('text') ?? -1;
  const labelCol = header?.indexOf('label') ?? -1;
  const text: string[] = [];
  const label: string[] = [];
  for (const r of rows) {
    const mapped = TWITTER_LABELS[r[labelCol] ?? ''];
    if (mapped === undefined) continue;
    text.push(r[textCol] ?? '');
    label.push(mapped);
  }
  return { text, label };
}

const POSITIVE_WORDS = /\b(beat|beats|up|rise|rises|gain|gains|surge|surges|jump|jumps|upgrade|upgraded|raises|record|high|higher|buy|strong|soar|soars|rally)\b/i;
const NEGATIVE_WORDS = /\b(miss|misses|down|fall|falls|drop|drops|cut|cuts|downgrade|downgraded|loss|losses|lower|plunge|plunges|sell|weak|slump|slumps|tumble|tumbles)\b/i;

/** A deterministic keyword rule standing in for a sentiment model. */
export function keywordSentiment(text: string): string {
  const pos = POSITIVE_WORDS.test(text);
  const neg = NEGATIVE_WORDS.test(text);
  if (pos && !neg) return 'positive';
  if (neg && !pos) return 'negative';
  return 'neutral';
}

export interface ReferenceTask {
  id: string;
  kind: string;
  [key: string]: unknown;
}

/** Runs the Python reference on `tasks`; results keyed by task id, with null for NaN. */
export function runReference(tasks: readonly ReferenceTask[]): Record<string, unknown> {
  const python = process.env.PYTHON ?? 'python3';
  const proc = spawnSync(python, [referenceScript], {
    input: JSON.stringify({ tasks }),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const hint = 'the evaluation tests need Python 3 with numpy, scipy and scikit-learn: pip install -r test/python/requirements.txt';
  // EPIPE: the script exited before reading the request (e.g. a failed import); its stderr says why.
  if (proc.error && (proc.error as NodeJS.ErrnoException).code !== 'EPIPE') {
    throw new Error(`cannot run ${python} (${proc.error.message}); ${hint}`);
  }
  if (proc.status !== 0) throw new Error(`metrics_reference.py exited with ${String(proc.status)}: ${proc.stderr.trim()}\n${hint}`);
  return (JSON.parse(proc.stdout) as { results: Record<string, unknown> }).results;
}

/**
 * Relative comparison |a − e| <= rel·max(|a|, |e|) (plus 1e-15 absolute for exact zeros);
 * NaN matches null/NaN. Keeps the largest relative deviation seen for the final report.
 */
export function createComparator(rel = 1e-9) {
  let worst = { deviation: 0, label: '' };
  const check = (label: string, actual: number, expected: number | null): void => {
    if (expected === null || Number.isNaN(expected)) {
      if (!Number.isNaN(actual)) throw new Error(`${label}: expected NaN, got ${actual}`);
      return;
    }
    const scale = Math.max(Math.abs(actual), Math.abs(expected));
    const diff = Math.abs(actual - expected);
    const deviation = scale === 0 ? 0 : diff / scale;
    if (!(diff <= rel * scale + 1e-15)) {
      throw new Error(`${label}: ${actual} vs reference ${expected} (relative deviation ${deviation.toExponential(2)} > ${rel})`);
    }
    if (deviation > worst.deviation) worst = { deviation, label };
  };
  const checkAll = (label: string, actual: readonly number[], expected: readonly (number | null)[]): void => {
    if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length} vs reference ${expected.length}`);
    actual.forEach((a, i) => check(`${label}[${i}]`, a, expected[i] as number | null));
  };
  return { check, checkAll, worst: () => worst };
}
