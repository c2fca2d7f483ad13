import { z } from 'zod';
import { parseCursor } from '../cursor.ts';
import { ExtractError } from '../errors.ts';
import type { FetchRequest, PriceFetchResult, PriceProvider } from '../provider.ts';
import { expectObject, parseShape, providerContext, requireOption, type HttpProviderOptions, type ProviderContext } from '../provider_support.ts';
import { assertTimeZone, checkIsoDate, dateKeyTs, parseZonedDateTime } from '../time.ts';
import { assertSymbol } from '../validate.ts';
import { finishBars, INTERVAL_MS, makeBar, type BarDraft, type IntervalName } from './common.ts';

/**
 * Alpha Vantage TIME_SERIES_DAILY and TIME_SERIES_INTRADAY.
 *
 * - Values arrive as strings ("170.0000") and are converted to numbers; an unparsable value fails
 *   validation like any other schema violation.
 * - Intraday keys are wall-clock times in the zone named by `Meta Data` ("US/Eastern"); they are
 *   converted to UTC with that zone's DST rules. Each key is taken as the bar's start.
 * - `{"Note": ...}` / `{"Information": ...}` bodies (sent with HTTP 200) → E_PROVIDER_LIMIT
 *   (retriable) for quota notices, E_PROVIDER (not retriable) when they say the request needs a
 *   premium plan; `{"Error Message": ...}` → E_PROVIDER.
 * - outputsize 'auto' (default): `compact` (latest 100 bars) when the cursor is recent enough to
 *   be covered, `full` otherwise. Plans without `full` should set 'compact' (older bars are then
 *   out of reach: a warning says so).
 */
export interface AlphaVantagePricesOptions extends HttpProviderOptions {
  apiKey: string;
  /** '1d' → TIME_SERIES_DAILY; 1m/5m/15m/30m/60m → TIME_SERIES_INTRADAY. */
  interval?: IntervalName;
  extendedHours?: boolean;
  outputsize?: 'auto' | 'compact' | 'full';
  /** Used when the response does not name its zone. */
  defaultTimeZone?: string;
}

const INTRADAY: Partial<Record<IntervalName, string>> = { '1m': '1min', '5m': '5min', '15m': '15min', '30m': '30min', '60m': '60min', '1h': '60min' };
const DAY = 86_400_000;
/** Span the 100 compact bars surely cover: 100 calendar days daily, 100 intervals intraday. */
const compactSpanMs = (interval: IntervalName) => (interval === '1d' ? 100 * DAY : 100 * INTERVAL_MS[interval]);
/** Intraday `full` without a `month` parameter reaches back about 30 days. */
const INTRADAY_HISTORY_MS = 30 * DAY;

const AvSeriesRow = z.record(z.string(), z.string());
const AvSeriesBody = z.looseObject({
  'Meta Data': z.record(z.string(), z.string()),
});

/**
 * Alpha Vantage reports quota and errors in 200 bodies. Shared by the price and news providers.
 */
export function checkAlphaVantageBody(body: Record<string, unknown>, ctx: ProviderContext, symbol: string): void {
  const note = body.Note ?? body.Information;
  if (typeof note === 'string') {
    const premium = /premium/i.test(note);
    throw new ExtractError(premium ? 'E_PROVIDER' : 'E_PROVIDER_LIMIT', `Alpha Vantage notice: ${ctx.client.redact(note).slice(0, 300)}`, {
      provider: ctx.name,
      symbol,
    });
  }
  const error = body['Error Message'];
  if (typeof error === 'string') {
    throw new ExtractError('E_PROVIDER', `Alpha Vantage error: ${ctx.client.redact(error).slice(0, 300)}`, { provider: ctx.name, symbol });
  }
}

/** Parse a TIME_SERIES_DAILY / TIME_SERIES_INTRADAY body (pure; exported for tests). */
export function parseAlphaVantageSeries(
  body: unknown,
  ctx: { provider: string; symbol: string; interval: IntervalName; defaultTimeZone?: string },
): BarDraft[] {
  const { provider, symbol, interval } = ctx;
  const obj = parseShape(AvSeriesBody, body, provider, symbol, 'time series');
  const meta = obj['Meta Data'];
  const seriesKey = Object.keys(obj).find((k) => k.startsWith('Time Series'));
  if (!seriesKey) throw new ExtractError('E_SCHEMA', 'no "Time Series" object in the response', { provider, symbol });
  const series = parseShape(z.record(z.string(), AvSeriesRow), obj[seriesKey], provider, symbol, seriesKey);
  const tzEntry = Object.entries(meta).find(([k]) => /time zone/i.test(k));
  const timeZone = tzEntry?.[1] ?? ctx.defaultTimeZone ?? 'America/New_York';
  try {
    assertTimeZone(timeZone);
  } catch {
    throw new ExtractError('E_SCHEMA', `unknown time zone "${timeZone}" in Meta Data`, { provider, symbol });
  }

  const num = (row: Record<string, string>, suffix: string): number => {
    const key = Object.keys(row).find((k) => k.replace(/^\d+\.\s*/, '') === suffix);
    const raw = key === undefined ? undefined : row[key];
    return raw === undefined || raw.trim() === '' ? NaN : Number(raw);
  };
  const daily = interval === '1d';
  const bars: BarDraft[] = [];
  for (const [key, row] of Object.entries(series)) {
    let ts: string;
    if (daily) {
      const date = checkIsoDate(key.slice(0, 10));
      if (!date) throw new ExtractError('E_SCHEMA', `unreadable date key "${key}"`, { provider, symbol });
      ts = dateKeyTs(date);
    } else {
      const t = parseZonedDateTime(key, timeZone);
      if (Number.isNaN(t)) throw new ExtractError('E_SCHEMA', `unreadable time key "${key}"`, { provider, symbol });
      ts = new Date(t).toISOString();
    }
    bars.push({
      where: `${seriesKey}["${key}"]`,
      bar: makeBar({
        symbol,
        interval,
        ts,
        open: num(row, 'open'),
        high: num(row, 'high'),
        low: num(row, 'low'),
        close: num(row, 'close'),
        volume: num(row, 'volume'),
      }),
    });
  }
  return bars;
}

export function createAlphaVantagePriceProvider(opts: AlphaVantagePricesOptions): PriceProvider {
  const name = opts.name ?? 'alphavantage';
  const apiKey = requireOption(opts.apiKey, 'apiKey', name);
  const interval = opts.interval ?? '1d';
  const avInterval = INTRADAY[interval];
  if (interval !== '1d' && !avInterval) {
    throw new ExtractError('E_CONFIG', `interval ${interval} is not offered by Alpha Vantage`, { provider: name });
  }
  const ctx = providerContext(opts, { name, baseUrl: 'https://www.alphavantage.co', secrets: [apiKey] });

  return {
    name: ctx.name,
    kind: 'prices',
    async fetchSince(req: FetchRequest): Promise<PriceFetchResult> {
      assertSymbol(ctx.name, req.symbol);
      const now = ctx.runtime.now();
      const since = parseCursor(req.cursor, ctx.name, req.symbol)?.time;
      const covered = since !== undefined && now - since < compactSpanMs(interval);
      const outputsize = opts.outputsize && opts.outputsize !== 'auto' ? opts.outputsize : covered ? 'compact' : 'full';
      const warnings: string[] = [];
      if (outputsize === 'compact' && !covered) warnings.push('outputsize=compact returns the latest 100 bars only: older bars since the cursor are out of reach');
      if (avInterval && since !== undefined && now - since > INTRADAY_HISTORY_MS) {
        warnings.push(`cursor ${req.cursor} is older than the ~30 days of intraday history a request returns: bars in between are lost`);
      }
      const url = ctx.url('/query', {
        function: avInterval ? 'TIME_SERIES_INTRADAY' : 'TIME_SERIES_DAILY',
        symbol: ctx.remote(req.symbol),
        ...(avInterval && { interval: avInterval, extended_hours: opts.extendedHours ?? false }),
        outputsize,
        datatype: 'json',
        apikey: apiKey,
      });
      const body = expectObject(await ctx.client.getJson(url, { symbol: req.symbol, signal: req.signal }), ctx.name, req.symbol, 'time series');
      checkAlphaVantageBody(body, ctx, req.symbol);
      const bars = parseAlphaVantageSeries(body, {
        provider: ctx.name,
        symbol: req.symbol,
        interval,
        ...(opts.defaultTimeZone && { defaultTimeZone: opts.defaultTimeZone }),
      });
      return finishBars(bars, req, { provider: ctx.name, onInvalid: ctx.onInvalid, dropIncompleteAt: now, warnings });
    },
  };
}
