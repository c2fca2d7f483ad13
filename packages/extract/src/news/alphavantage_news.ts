import { z } from 'zod';
import { ExtractError } from '../errors.ts';
import { checkAlphaVantageBody } from '../prices/alphavantage.ts';
import type { NewsProvider } from '../provider.ts';
import { expectObject, fetchStart, parseShape, providerContext, requireOption, type HttpProviderOptions } from '../provider_support.ts';
import { assertTimeZone, wallClock, zonedTimeToUtc } from '../time.ts';
import { draftArticles, newsProvider, type ArticleDraft } from './common.ts';

/**
 * Alpha Vantage NEWS_SENTIMENT.
 *
 * `time_published` (`YYYYMMDDTHHMMSS`) carries no zone and the documentation does not name one.
 * It is read as UTC (`timeZone`, configurable): in the recorded feed of 2025-01-31, Benzinga's
 * "Here Are 20 Stocks Moving Premarket" is stamped 10:11:47 and "Stocks To Watch Heading Into
 * Friday" (futures "trading higher this morning") 10:57:09. As New York time both would be after
 * the 09:30 open; as UTC they are 05:11 and 05:57 New York, premarket, where such articles run.
 * `time_from` in requests uses the same zone.
 *
 * Tickers: `ticker_sentiment[].ticker` with relevance >= `minRelevance` (default 0); entries that
 * are not symbols (e.g. "CRYPTO:SHIB", "FOREX:USD") are dropped.
 */
export interface AlphaVantageNewsOptions extends HttpProviderOptions {
  apiKey: string;
  timeZone?: string;
  minRelevance?: number;
  /** Max articles per request (Alpha Vantage allows up to 1000). */
  limit?: number;
  lookbackDays?: number;
}

const AvNewsItem = z.object({
  title: z.string().nullish(),
  url: z.string().nullish(),
  time_published: z.string().nullish(),
  summary: z.string().nullish(),
  source: z.string().nullish(),
  source_domain: z.string().nullish(),
  ticker_sentiment: z.array(z.object({ ticker: z.string(), relevance_score: z.string().optional() })).optional(),
});
const AvNewsBody = z.object({ feed: z.array(AvNewsItem) });

const TIME_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})?$/;

export function parseAvTime(text: string, timeZone: string): number {
  const m = TIME_RE.exec(text.trim());
  if (!m) return NaN;
  const [year, month, day, hour, minute, second] = m.slice(1).map((v) => Number(v ?? 0)) as number[];
  return zonedTimeToUtc({ year: year!, month: month!, day: day!, hour: hour!, minute: minute!, second: second! }, timeZone);
}

function formatAvTime(epochMs: number, timeZone: string): string {
  const w = wallClock(epochMs, timeZone);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(w.year, 4)}${pad(w.month)}${pad(w.day)}T${pad(w.hour)}${pad(w.minute)}`;
}

/** Parse a NEWS_SENTIMENT body (pure; exported for tests and offline use). */
export function parseAlphaVantageNews(
  body: unknown,
  ctx: { provider: string; symbol: string; timeZone?: string; minRelevance?: number },
): { drafts: ArticleDraft[]; warnings: string[] } {
  const parsed = parseShape(AvNewsBody, body, ctx.provider, ctx.symbol, 'NEWS_SENTIMENT');
  const timeZone = ctx.timeZone ?? 'UTC';
  const minRelevance = ctx.minRelevance ?? 0;
  return draftArticles(parsed.feed, (item, i) => {
    const tickers = (item.ticker_sentiment ?? [])
      .filter((t) => minRelevance <= 0 || Number(t.relevance_score ?? 0) >= minRelevance)
      .map((t) => t.ticker);
    return {
      url: item.url ?? '',
      publishedAt: parseAvTime(item.time_published ?? '', timeZone),
      title: item.title ?? '',
      summary: item.summary ?? '',
      source: item.source ?? item.source_domain ?? '',
      tickers,
      language: 'en',
      where: `feed[${i}]`,
    };
  });
}

export function createAlphaVantageNewsProvider(opts: AlphaVantageNewsOptions): NewsProvider {
  const name = opts.name ?? 'alphavantage-news';
  const apiKey = requireOption(opts.apiKey, 'apiKey', name);
  const timeZone = opts.timeZone ?? 'UTC';
  try {
    assertTimeZone(timeZone);
  } catch {
    throw new ExtractError('E_CONFIG', `unknown timeZone "${timeZone}"`, { provider: name });
  }
  const ctx = providerContext(opts, { name, baseUrl: 'https://www.alphavantage.co', secrets: [apiKey], onInvalid: 'skip' });

  return newsProvider(ctx, async (req) => {
    const from = fetchStart(ctx, req, opts.lookbackDays);
    const url = ctx.url('/query', {
      function: 'NEWS_SENTIMENT',
      tickers: ctx.remote(req.symbol),
      time_from: formatAvTime(from, timeZone),
      time_to: req.until ? formatAvTime(req.until.getTime(), timeZone) : undefined,
      sort: 'EARLIEST',
      limit: opts.limit ?? 1000,
      apikey: apiKey,
    });
    const body = expectObject(await ctx.client.getJson(url, { symbol: req.symbol, signal: req.signal }), name, req.symbol, 'NEWS_SENTIMENT');
    checkAlphaVantageBody(body, ctx, req.symbol);
    return parseAlphaVantageNews(body, {
      provider: name,
      symbol: req.symbol,
      timeZone,
      ...(opts.minRelevance !== undefined && { minRelevance: opts.minRelevance }),
    });
  });
}
