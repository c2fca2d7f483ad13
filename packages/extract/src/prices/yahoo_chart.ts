import { z } from 'zod';
import { parseCursor } from '../cursor.ts';
import { ExtractError } from '../errors.ts';
import type { CorporateAction, FetchRequest, PriceFetchResult, PriceProvider } from '../provider.ts';
import { parseShape, providerContext, type HttpProviderOptions } from '../provider_support.ts';
import { dateKeyTs, localDate } from '../time.ts';
import { assertSymbol } from '../validate.ts';
import { finishBars, isDateKeyed, makeBar, type BarDraft, type IntervalName } from './common.ts';

/**
 * Yahoo Finance v8 chart (`/v8/finance/chart/{symbol}`), daily or intraday.
 *
 * - A bar with a null in any of open/high/low/close/volume is skipped (Yahoo emits such holes
 *   for halted minutes and not-yet-settled bars); the count is reported in `warnings`.
 * - A response with `meta` only (no `timestamp`: weekend, holiday) is zero items, not an error.
 * - `events.splits` / `events.dividends` are returned in the fetch result's `actions`, which the
 *   extractor does not publish (no topic carries them); the bars' `adjClose` (from
 *   `indicators.adjclose`) is how splits and dividends reach the features.
 * - Daily/weekly bars are keyed by exchange-local trading date (`meta.exchangeTimezoneName`) at
 *   00:00 UTC; intraday bars by their UTC start.
 * - A currency that is not an ISO code (`GBp`, `ZAc`: minor units) is left out, with a warning.
 */
export interface YahooChartOptions extends HttpProviderOptions {
  interval?: IntervalName;
  /** How far back the first fetch (no cursor) reaches. Default: 5 years daily, 5 days intraday. */
  lookbackDays?: number;
  includePrePost?: boolean;
  /** Sent as User-Agent: Yahoo refuses some default client agents. */
  userAgent?: string;
  dropIncomplete?: boolean;
}

const DAY = 86_400_000;
/** Yahoo's limits on intraday history (how far back, and the widest window per request for 1m). */
const HISTORY_LIMIT_DAYS: Partial<Record<IntervalName, number>> = { '1m': 29, '5m': 59, '15m': 59, '30m': 59, '60m': 729, '1h': 729 };
const MAX_WINDOW_DAYS: Partial<Record<IntervalName, number>> = { '1m': 7 };

const nums = z.array(z.number().nullable());
const YahooChartBody = z.object({
  chart: z.object({
    result: z
      .array(
        z.object({
          meta: z.object({
            currency: z.string().nullish(),
            symbol: z.string().optional(),
            exchangeTimezoneName: z.string().optional(),
          }),
          timestamp: z.array(z.number()).optional(),
          events: z
            .object({
              splits: z
                .record(z.string(), z.object({ date: z.number(), numerator: z.number(), denominator: z.number(), splitRatio: z.string().optional() }))
                .optional(),
              dividends: z.record(z.string(), z.object({ date: z.number(), amount: z.number() })).optional(),
            })
            .optional(),
          indicators: z.object({
            quote: z.array(z.object({ open: nums.optional(), high: nums.optional(), low: nums.optional(), close: nums.optional(), volume: nums.optional() })),
            adjclose: z.array(z.object({ adjclose: nums.optional() })).optional(),
          }),
        }),
      )
      .nullable(),
    error: z.object({ code: z.string().optional(), description: z.string().optional() }).nullish(),
  }),
});

export interface ParsedChart {
  bars: BarDraft[];
  actions: CorporateAction[];
  warnings: string[];
}

/** Parse a v8 chart body (pure; exported for tests and offline use). */
export function parseYahooChart(body: unknown, ctx: { provider: string; symbol: string; interval: IntervalName }): ParsedChart {
  const { provider, symbol, interval } = ctx;
  const parsed = parseShape(YahooChartBody, body, provider, symbol, 'chart');
  const { result, error } = parsed.chart;
  if (error) {
    throw new ExtractError('E_PROVIDER', `chart error ${error.code ?? ''}: ${error.description ?? ''}`.trim(), { provider, symbol });
  }
  const r = result?.[0];
  if (!r) throw new ExtractError('E_PROVIDER', 'chart response has no result', { provider, symbol });

  const warnings: string[] = [];
  const tz = r.meta.exchangeTimezoneName ?? 'UTC';
  if (!r.meta.exchangeTimezoneName) warnings.push('meta.exchangeTimezoneName missing: trading dates taken in UTC');
  const currency = r.meta.currency && /^[A-Z]{3}$/.test(r.meta.currency) ? r.meta.currency : undefined;
  if (r.meta.currency && !currency) warnings.push(`currency "${r.meta.currency}" is not an ISO code (minor units?): left out`);

  const keyTs = (epochS: number) => (isDateKeyed(interval) ? dateKeyTs(localDate(epochS * 1000, tz)) : new Date(epochS * 1000).toISOString());
  const timestamps = r.timestamp ?? [];
  const q = r.indicators.quote[0] ?? {};
  const adj = r.indicators.adjclose?.[0]?.adjclose;
  const columns = { open: q.open, high: q.high, low: q.low, close: q.close, volume: q.volume };
  if (timestamps.length) {
    for (const [k, col] of Object.entries(columns)) {
      if (!col || col.length !== timestamps.length) {
        throw new ExtractError('E_SCHEMA', `indicators.quote[0].${k} has ${col?.length ?? 0} values for ${timestamps.length} timestamps`, {
          provider,
          symbol,
        });
      }
    }
  }

  const bars: BarDraft[] = [];
  let holes = 0;
  timestamps.forEach((t, i) => {
    const [open, high, low, close, volume] = [q.open?.[i], q.high?.[i], q.low?.[i], q.close?.[i], q.volume?.[i]];
    if (open == null || high == null || low == null || close == null || volume == null) {
      holes++;
      return;
    }
    const adjClose = adj?.[i] ?? undefined;
    bars.push({
      where: `timestamp[${i}]=${t}`,
      bar: makeBar({ symbol, interval, ts: keyTs(t), open, high, low, close, adjClose, volume, currency }),
    });
  });
  if (holes) warnings.push(`skipped ${holes} bar(s) with null values`);

  const actions: CorporateAction[] = [];
  const dateOf = (epochS: number) => localDate(epochS * 1000, tz);
  for (const s of Object.values(r.events?.splits ?? {})) {
    const date = dateOf(s.date);
    actions.push({
      kind: 'split',
      symbol,
      ts: dateKeyTs(date),
      date,
      numerator: s.numerator,
      denominator: s.denominator,
      ratio: s.splitRatio ?? `${s.numerator}:${s.denominator}`,
    });
  }
  for (const d of Object.values(r.events?.dividends ?? {})) {
    const date = dateOf(d.date);
    actions.push({ kind: 'dividend', symbol, ts: dateKeyTs(date), date, amount: d.amount, ...(currency && { currency }) });
  }
  actions.sort((a, b) => a.ts.localeCompare(b.ts) || a.kind.localeCompare(b.kind));
  return { bars, actions, warnings };
}

export function createYahooChartProvider(opts: YahooChartOptions = {}): PriceProvider {
  const interval = opts.interval ?? '1d';
  const ctx = providerContext(opts, {
    name: 'yahoo',
    baseUrl: 'https://query2.finance.yahoo.com',
    headers: { 'user-agent': opts.userAgent ?? 'Mozilla/5.0 (compatible; stock-mlops-extract/0.1)' },
  });
  const lookbackMs = (opts.lookbackDays ?? (isDateKeyed(interval) ? 5 * 365 : 5)) * DAY;

  return {
    name: ctx.name,
    kind: 'prices',
    async fetchSince(req: FetchRequest): Promise<PriceFetchResult> {
      assertSymbol(ctx.name, req.symbol);
      const warnings: string[] = [];
      const now = ctx.runtime.now();
      let from = parseCursor(req.cursor, ctx.name, req.symbol)?.time ?? now - lookbackMs;
      const limitDays = HISTORY_LIMIT_DAYS[interval];
      if (limitDays !== undefined && from < now - limitDays * DAY) {
        if (req.cursor) warnings.push(`cursor ${req.cursor} is older than Yahoo keeps ${interval} bars (${limitDays} days): bars in between are lost`);
        from = now - limitDays * DAY;
      }
      let to = Math.min(req.until?.getTime() ?? now, now);
      const windowDays = MAX_WINDOW_DAYS[interval];
      if (windowDays !== undefined) to = Math.min(to, from + windowDays * DAY);

      const url = ctx.url(`/v8/finance/chart/${encodeURIComponent(ctx.remote(req.symbol))}`, {
        interval,
        period1: Math.floor(from / 1000),
        period2: Math.floor(to / 1000) + 1,
        includePrePost: opts.includePrePost ?? false,
        events: 'div|split',
      });
      const body = await ctx.client.getJson(url, { symbol: req.symbol, signal: req.signal });
      const parsed = parseYahooChart(body, { provider: ctx.name, symbol: req.symbol, interval });
      warnings.push(...parsed.warnings);
      return finishBars(parsed.bars, req, {
        provider: ctx.name,
        onInvalid: ctx.onInvalid,
        dropIncompleteAt: opts.dropIncomplete === false ? undefined : now,
        warnings,
        actions: parsed.actions,
      });
    },
  };
}
