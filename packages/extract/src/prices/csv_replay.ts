import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { RawPriceBar } from '@stock-mlops/contracts';
import { parseYahooCsvRows, TransformError } from '@stock-mlops/transform';
import { parseCursor } from '../cursor.ts';
import { ExtractError } from '../errors.ts';
import type { FetchRequest, InvalidItemPolicy, PriceFetchResult, PriceProvider } from '../provider.ts';
import { resolveRuntime, type Runtime } from '../runtime.ts';
import { checkIsoDate, dateKeyTs, parseZonedDateTime } from '../time.ts';
import { assertSymbol, isValidSymbol } from '../validate.ts';
import { finishBars, isDateKeyed, makeBar, type BarDraft, type IntervalName } from './common.ts';

/**
 * Replays Yahoo-format CSV price files: one file, or a directory of `<SYMBOL>.csv` files.
 *
 * Accepted layouts (all seen in real downloads): `Date,Open,High,Low,Close,Adj Close,Volume`;
 * the same with `Volume` before `Adj Close`; no `Adj Close`; lower-case headers; an unnamed
 * leading index column; float volumes; rows newest-first. Rows are sorted by date; rows with an
 * empty or `null` cell are skipped (Yahoo writes `null` rows for missing days) and counted in
 * `warnings`. Dates without a time are daily bars (keyed `YYYY-MM-DDT00:00:00.000Z`); date-times
 * without an offset are read in `timeZone`.
 *
 * Pacing (`speed`):
 * - `0` (default): as fast as the caller polls; each fetch returns up to `maxItems` bars.
 * - `N > 0`: N× real time. The first fetch for a symbol anchors the replay clock at the first
 *   bar after the cursor; afterwards a fetch returns the bars whose timestamp is at most
 *   `anchorBar + (now - anchorWall) × N`. Gaps between bars (nights, weekends) are scaled the
 *   same way: at N = 86_400 one calendar day of data takes one second; at N = 864_000, 100 ms.
 *
 * The cursor is the timestamp of the last bar returned: a restarted replay given the stored
 * cursor resumes with the next bar (and re-anchors its clock there).
 */
export interface CsvReplayOptions {
  name?: string;
  /** A .csv file or a directory of them. */
  path: string;
  /** Interval of the bars in the files. Default '1d'. */
  interval?: IntervalName;
  speed?: number;
  /** Bars per fetch at most. Default 1000. */
  maxItems?: number;
  /** ISO currency to stamp on the bars, when known. */
  currency?: string;
  /** Zone of date-times without an offset. Default 'UTC'. */
  timeZone?: string;
  /** File base name → symbol, where the name is not the symbol (default: the upper-cased base name). */
  symbols?: Record<string, string>;
  onInvalid?: InvalidItemPolicy;
  runtime?: Partial<Runtime>;
}

export interface CsvReplayProvider extends PriceProvider {
  /** The symbols that have a file. */
  symbols(): Promise<string[]>;
  /** The newest bar of a symbol's file (where the replay ends); undefined when it has none. */
  lastBar(symbol: string): Promise<RawPriceBar | undefined>;
}

/**
 * One Yahoo-format CSV text → bar drafts: the transform package's parser (the one the trainer
 * uses) with the replay's rules: lenient rows (values are left to the contract schema),
 * date-keyed daily bars and zone-less date-times read in `timeZone`. Skipped rows are counted in
 * `warnings`; a header without the required columns is an E_SCHEMA ExtractError.
 */
export function parseYahooCsv(
  text: string,
  ctx: { provider: string; symbol: string; interval: IntervalName; currency?: string; timeZone?: string; file?: string },
): { bars: BarDraft[]; warnings: string[] } {
  const { provider, symbol, interval } = ctx;
  const file = ctx.file ?? symbol;
  const timeZone = ctx.timeZone ?? 'UTC';
  const parseDate = (rawDate: string): string | undefined => {
    const date = checkIsoDate(rawDate);
    if (date) return isDateKeyed(interval) ? dateKeyTs(date) : new Date(parseZonedDateTime(date, timeZone)).toISOString();
    const t = /[zZ]|[+-]\d{2}:?\d{2}$/.test(rawDate) ? Date.parse(rawDate) : parseZonedDateTime(rawDate, timeZone);
    if (Number.isNaN(t)) return undefined;
    return isDateKeyed(interval) ? dateKeyTs(new Date(t).toISOString().slice(0, 10)) : new Date(t).toISOString();
  };
  let parsed: ReturnType<typeof parseYahooCsvRows>;
  try {
    parsed = parseYahooCsvRows(text, symbol, provider, { interval, parseDate, rows: 'lenient' });
  } catch (err) {
    if (!(err instanceof TransformError) || err.code !== 'E_CSV_HEADER') throw err;
    const header = String(err.details?.header ?? '');
    const missing = (err.details?.missing as string[] | undefined) ?? [];
    throw new ExtractError('E_SCHEMA', `${file}: header "${header.slice(0, 120)}" lacks column(s) ${missing.join(', ')}`, { provider, symbol });
  }
  const bars: BarDraft[] = parsed.rows.map(({ line, bar }) => ({
    where: `${file} line ${line}`,
    bar: makeBar({
      symbol,
      interval,
      ts: bar.ts,
      open: bar.open,
      high: bar.high,
      low: bar.low,
      close: bar.close,
      adjClose: bar.adjClose,
      volume: bar.volume,
      currency: ctx.currency,
    }),
  }));
  const holes = parsed.rejected.filter((r) => r.kind === 'missing').length;
  const badDates = parsed.rejected.filter((r) => r.kind === 'date').length;
  const warnings: string[] = [];
  if (holes) warnings.push(`${file}: skipped ${holes} row(s) with empty or null cells`);
  if (badDates) warnings.push(`${file}: skipped ${badDates} row(s) with an unreadable date`);
  return { bars, warnings };
}

export function createCsvReplayProvider(opts: CsvReplayOptions): CsvReplayProvider {
  const name = opts.name ?? 'csv-replay';
  if (!opts.path) throw new ExtractError('E_CONFIG', 'missing required option: path', { provider: name });
  const speed = opts.speed ?? 0;
  if (!(speed >= 0) || !Number.isFinite(speed)) throw new ExtractError('E_CONFIG', `speed must be >= 0, got ${opts.speed}`, { provider: name });
  const interval = opts.interval ?? '1d';
  const maxItems = opts.maxItems ?? 1000;
  const rt = resolveRuntime(opts.runtime);
  const onInvalid = opts.onInvalid ?? 'error';

  let index: Promise<Map<string, string>> | undefined;
  const parsed = new Map<string, Promise<{ bars: BarDraft[]; warnings: string[] }>>();
  const anchors = new Map<string, { wall: number; data: number }>();

  async function buildIndex(): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    let st;
    try {
      st = await stat(opts.path);
    } catch (err) {
      throw new ExtractError('E_IO', `cannot read ${opts.path}: ${(err as Error).message}`, { provider: name, cause: err });
    }
    const paths = st.isDirectory()
      ? (await readdir(opts.path)).filter((f) => extname(f).toLowerCase() === '.csv').sort().map((f) => join(opts.path, f))
      : [opts.path];
    for (const p of paths) {
      const base = basename(p, extname(p));
      const symbol = opts.symbols?.[base] ?? base.toUpperCase();
      if (isValidSymbol(symbol)) files.set(symbol, p);
    }
    return files;
  }

  async function load(symbol: string, file: string) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ExtractError('E_IO', `cannot read ${file}: ${(err as Error).message}`, { provider: name, symbol, cause: err });
    }
    return parseYahooCsv(text, {
      provider: name,
      symbol,
      interval,
      file: basename(file),
      ...(opts.currency && { currency: opts.currency }),
      ...(opts.timeZone && { timeZone: opts.timeZone }),
    });
  }

  async function barsOf(symbol: string): Promise<{ bars: BarDraft[]; warnings: string[] }> {
    assertSymbol(name, symbol);
    const file = (await (index ??= buildIndex())).get(symbol);
    if (!file) throw new ExtractError('E_CONFIG', `no CSV file for this symbol under ${opts.path}`, { provider: name, symbol });
    let entry = parsed.get(symbol);
    if (!entry) {
      entry = load(symbol, file);
      parsed.set(symbol, entry);
      entry.catch(() => parsed.delete(symbol));
    }
    return entry;
  }

  return {
    name,
    kind: 'prices',
    async symbols() {
      return [...(await (index ??= buildIndex())).keys()];
    },
    async lastBar(symbol: string) {
      const { bars } = await barsOf(symbol);
      // The replay's order: by time, the first of equal timestamps kept (finishBars' rule).
      let last: BarDraft | undefined;
      for (const b of bars) if (!last || Date.parse(b.bar.ts) > Date.parse(last.bar.ts)) last = b;
      return last?.bar;
    },
    async fetchSince(req: FetchRequest): Promise<PriceFetchResult> {
      const { bars, warnings } = await barsOf(req.symbol);

      let until = req.until;
      if (speed > 0) {
        const pos = parseCursor(req.cursor, name, req.symbol);
        let anchor = anchors.get(req.symbol);
        if (!anchor) {
          const first = bars.map((b) => Date.parse(b.bar.ts)).filter((t) => pos === undefined || t > pos.time).sort((a, b) => a - b)[0];
          if (first === undefined) return { items: [], actions: [], nextCursor: req.cursor, warnings: [...warnings] };
          anchor = { wall: rt.now(), data: first };
          anchors.set(req.symbol, anchor);
        }
        const horizon = anchor.data + (rt.now() - anchor.wall) * speed;
        until = new Date(Math.min(horizon, req.until?.getTime() ?? Infinity));
      }
      return finishBars(bars, { ...req, until }, { provider: name, onInvalid, warnings: [...warnings], maxItems });
    },
  };
}
