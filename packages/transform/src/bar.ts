/**
 * The OHLCV bar every transform stage consumes, and a parser for the Yahoo-style daily CSVs
 * the trainer reads (the streaming path receives the same `Bar` shape from the extractor).
 */
import { TransformError } from './errors.ts';

export interface Bar {
  symbol: string;
  /** ISO-8601 UTC start of the bar in canonical `Date#toISOString()` form, e.g. 2004-08-19T00:00:00.000Z. */
  ts: string;
  /** Bar length, e.g. '1d', '1m'. */
  interval: string;
  open: number;
  high: number;
  low: number;
  close: number;
  /** Split/dividend-adjusted close when the source provides one (Yahoo `Adj Close`). */
  adjClose?: number;
  volume: number;
  /** Where the bar came from, e.g. 'yahoo-csv', 'yahoo-v8'. Part of the de-duplication key. */
  source: string;
  /** Generated (non-market) data, e.g. the synthetic continuation after a replay; absent for market data. Carried to the clean bar and its feature vector. */
  synthetic?: true;
}

export interface CsvRejection {
  /** 1-based physical line number in the input text. */
  line: number;
  /** Why, by kind: a wrong cell count, an unreadable date, an empty/`null` cell, a value that is not a number. */
  kind: 'cells' | 'date' | 'missing' | 'non-numeric';
  reason: string;
}

export interface ParsedCsv {
  /** Ascending by `ts`, whatever the file order (DJI.csv is newest-first). */
  bars: Bar[];
  rejected: CsvRejection[];
}

export interface ParseCsvOptions {
  /** Interval stamped on every bar; default '1d'. */
  interval?: string;
  /**
   * Date cell → canonical ISO UTC timestamp, or undefined when unreadable. Default `toIsoTimestamp`
   * (a bare date is 00:00Z of that day; a date-time needs an explicit zone).
   */
  parseDate?: (cell: string) => string | undefined;
  /**
   * How rows are read. 'strict' (default): the header is the first non-blank line; cells are
   * split at every comma (surrounding quotes dropped); a row must have as many cells as the
   * header and every number (adjusted close too) must be a plain decimal, checked date first,
   * then the columns in order. 'lenient' (the extractor's CSV replay, which leaves value checks
   * to the contract schema): the header is the first line; quoted cells may hold commas; a row
   * is rejected only for an empty or `null` required cell (checked before the date) or an
   * unreadable date; values are read with `Number()`; an empty or `null` adjusted close is left out.
   */
  rows?: 'strict' | 'lenient';
}

/** A parsed bar with the physical line it came from. */
export interface CsvRow {
  line: number;
  bar: Bar;
}

type Column = 'date' | 'open' | 'high' | 'low' | 'close' | 'adjclose' | 'volume';
const REQUIRED: readonly Column[] = ['date', 'open', 'high', 'low', 'close', 'volume'];
const PRICE_COLUMNS = ['open', 'high', 'low', 'close'] as const;

/** Strict decimal/scientific number; rejects '', 'null', 'NaN', 'inf', '0x10', '1,000'. */
const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATE_ONLY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** Date-time with an explicit zone (Z or ±hh:mm); a zone-less time would depend on the host TZ. */
const DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** Header cell → canonical column: case and anything but letters are ignored ('Adj Close' → adjclose). */
function canonicalColumn(cell: string): Column | undefined {
  const key = cell.trim().toLowerCase().replace(/[^a-z]/g, '');
  switch (key) {
    case 'date':
    case 'datetime':
    case 'timestamp':
    case 'time':
      return 'date';
    case 'open':
    case 'high':
    case 'low':
    case 'close':
    case 'volume':
      return key;
    case 'adjclose':
    case 'adjustedclose':
      return 'adjclose';
    default:
      return undefined;
  }
}

function unquote(cell: string): string {
  const t = cell.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

/** One CSV line → cells; double-quoted cells may hold commas and doubled quotes. */
function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/**
 * Date cell → canonical ISO UTC string, or undefined when it is not a real calendar date.
 * A bare `YYYY-MM-DD` is the trading day and maps to 00:00:00.000Z of that day.
 */
export function toIsoTimestamp(cell: string): string | undefined {
  const m = DATE_ONLY_RE.exec(cell);
  if (m) {
    const iso = `${cell}T00:00:00.000Z`;
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) || d.toISOString() !== iso ? undefined : iso;
  }
  if (!DATE_TIME_RE.test(cell)) return undefined;
  const ms = Date.parse(cell.replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

const isMissing = (value: string | undefined): boolean => !value || value.toLowerCase() === 'null';

/**
 * Parses Yahoo-style OHLCV CSV text. Handles the shared formats:
 * `Date,Open,High,Low,Close,Adj Close,Volume`; `,date,open,high,low,close,volume` (unnamed pandas
 * index column, no adjusted close); `Date,Open,High,Low,Close,Volume,Adj Close` (DJI order);
 * lower-case headers.
 * Columns are found by name, so any order works; unknown columns are ignored.
 *
 * Rows with a missing/`null`/non-numeric value, a wrong cell count or an invalid date are
 * returned in `rejected` with their line number — never turned into NaN (see `rows` for the
 * lenient rule). Semantic checks (high ≥ low, positive prices …) belong to `validateBar` in the
 * Cleaner, not to the parser. Output bars are sorted ascending by timestamp (stable: equal
 * timestamps keep file order).
 *
 * @throws TransformError E_CSV_HEADER when a required column is missing (details: `header`, `missing`).
 */
export function parseYahooCsv(text: string, symbol: string, source: string, options: ParseCsvOptions = {}): ParsedCsv {
  const { rows, rejected } = parseYahooCsvRows(text, symbol, source, options);
  return { bars: rows.map((r) => r.bar), rejected };
}

/** `parseYahooCsv` with the line each bar came from (for callers that report per-line context). */
export function parseYahooCsvRows(
  text: string,
  symbol: string,
  source: string,
  options: ParseCsvOptions = {},
): { rows: CsvRow[]; rejected: CsvRejection[] } {
  const interval = options.interval ?? '1d';
  const parseDate = options.parseDate ?? toIsoTimestamp;
  const strict = (options.rows ?? 'strict') === 'strict';
  const split = strict ? (line: string) => line.split(',') : splitCsvLine;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const headerIdx = strict ? lines.findIndex((l) => l.trim() !== '') : 0;
  if (headerIdx < 0) throw new TransformError('E_CSV_HEADER', 'CSV is empty', { header: '', missing: [...REQUIRED] });

  const headerCells = split(lines[headerIdx] ?? '');
  const index = new Map<Column, number>();
  headerCells.forEach((cell, i) => {
    const col = canonicalColumn(cell);
    if (col && !index.has(col)) index.set(col, i);
  });
  const missing = REQUIRED.filter((c) => !index.has(c));
  if (missing.length > 0) {
    throw new TransformError('E_CSV_HEADER', `CSV header lacks column(s): ${missing.join(', ')}`, {
      header: lines[headerIdx],
      missing,
    });
  }

  const rows: CsvRow[] = [];
  const rejected: CsvRejection[] = [];
  for (let i = headerIdx + 1; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (raw.trim() === '') continue;
    const line = i + 1;
    const cells = split(raw);
    if (strict && cells.length !== headerCells.length) {
      rejected.push({ line, kind: 'cells', reason: `expected ${headerCells.length} cells, found ${cells.length}` });
      continue;
    }
    const cell = (col: Column): string | undefined => {
      const at = index.get(col);
      if (at === undefined) return undefined;
      return strict ? unquote(cells[at] ?? '') : cells[at]?.trim();
    };

    if (!strict) {
      const hole = REQUIRED.find((c) => isMissing(cell(c)));
      if (hole !== undefined) {
        rejected.push({ line, kind: 'missing', reason: `missing value '${cell(hole) ?? ''}' in column ${hole}` });
        continue;
      }
    }

    const dateCell = cell('date') ?? '';
    const ts = parseDate(dateCell);
    if (ts === undefined) {
      rejected.push({ line, kind: 'date', reason: `invalid date '${dateCell}'` });
      continue;
    }

    const numbers: Partial<Record<Column, number>> = {};
    let rejection: CsvRejection | undefined;
    for (const col of [...PRICE_COLUMNS, 'volume', 'adjclose'] as const) {
      const value = cell(col);
      if (value === undefined) continue; // optional adjclose column absent
      if (!strict) {
        if (col !== 'adjclose' || !isMissing(value)) numbers[col] = Number(value);
        continue;
      }
      if (!NUMBER_RE.test(value)) {
        const kind = value === '' || value.toLowerCase() === 'null' ? 'missing' : 'non-numeric';
        rejection = { line, kind, reason: `${kind} value '${value}' in column ${col}` };
        break;
      }
      numbers[col] = Number(value);
    }
    if (rejection !== undefined) {
      rejected.push(rejection);
      continue;
    }

    const bar: Bar = {
      symbol,
      ts,
      interval,
      open: numbers.open as number,
      high: numbers.high as number,
      low: numbers.low as number,
      close: numbers.close as number,
      volume: numbers.volume as number,
      source,
    };
    if (numbers.adjclose !== undefined) bar.adjClose = numbers.adjclose;
    rows.push({ line, bar });
  }

  rows.sort((a, b) => (a.bar.ts < b.bar.ts ? -1 : a.bar.ts > b.bar.ts ? 1 : 0));
  return { rows, rejected };
}
