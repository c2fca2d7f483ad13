import { z } from 'zod';
import type { NewsProvider } from '../provider.ts';
import { parseShape, providerContext, type HttpProviderOptions } from '../provider_support.ts';
import { draftArticles, newsProvider, type ArticleDraft } from './common.ts';

/**
 * Yahoo Finance v1 search (`/v1/finance/search?q=SYMBOL`), news part: `providerPublishTime` is
 * epoch seconds; `publisher` is the source; `relatedTickers` (when present) are the tickers. The
 * query symbol is not added to articles without `relatedTickers`: the search is full-text and
 * returns look-alikes (e.g. "AAPL" the physicians' association).
 */
export interface YahooSearchNewsOptions extends HttpProviderOptions {
  newsCount?: number;
  userAgent?: string;
  /** Yahoo's `lang` parameter and the articles' language. Default 'en-US'. */
  lang?: string;
}

const YahooNewsItem = z.object({
  title: z.string().nullish(),
  publisher: z.string().nullish(),
  link: z.string().nullish(),
  providerPublishTime: z.number().nullish(),
  relatedTickers: z.array(z.string()).nullish(),
});
const YahooSearchBody = z.object({ news: z.array(YahooNewsItem).default([]) });

/** Parse a v1 search body's news (pure; exported for tests and offline use). */
export function parseYahooSearchNews(
  body: unknown,
  ctx: { provider: string; symbol: string; language?: string },
): { drafts: ArticleDraft[]; warnings: string[] } {
  const parsed = parseShape(YahooSearchBody, body, ctx.provider, ctx.symbol, 'search');
  return draftArticles(parsed.news, (n, i) => ({
    url: n.link ?? '',
    publishedAt: typeof n.providerPublishTime === 'number' ? n.providerPublishTime * 1000 : NaN,
    title: n.title ?? '',
    source: n.publisher ?? '',
    tickers: n.relatedTickers ?? [],
    language: ctx.language ?? 'en',
    where: `news[${i}]`,
  }));
}

export function createYahooSearchNewsProvider(opts: YahooSearchNewsOptions = {}): NewsProvider {
  const name = opts.name ?? 'yahoo-news';
  const ctx = providerContext(opts, {
    name,
    baseUrl: 'https://query2.finance.yahoo.com',
    headers: { 'user-agent': opts.userAgent ?? 'Mozilla/5.0 (compatible; stock-mlops-extract/0.1)' },
    onInvalid: 'skip',
  });
  const lang = opts.lang ?? 'en-US';

  return newsProvider(ctx, async (req) => {
    const url = ctx.url('/v1/finance/search', {
      q: ctx.remote(req.symbol),
      quotesCount: 0,
      newsCount: opts.newsCount ?? 20,
      enableFuzzyQuery: false,
      lang,
    });
    const body = await ctx.client.getJson(url, { symbol: req.symbol, signal: req.signal });
    return parseYahooSearchNews(body, { provider: name, symbol: req.symbol, language: lang.split('-')[0] ?? 'en' });
  });
}
