import { z } from 'zod';
import { ExtractError } from '../errors.ts';
import type { NewsProvider } from '../provider.ts';
import { expectObject, fetchStart, parseShape, providerContext, requireOption, type HttpProviderOptions } from '../provider_support.ts';
import { draftArticles, newsProvider, type ArticleDraft } from './common.ts';

/**
 * NewsAPI `/v2/everything`. The key travels in the `X-Api-Key` header (never in the URL) and is
 * redacted from messages. The query for a symbol is `queries[symbol]` (e.g. `"Apple OR AAPL"`),
 * else the symbol itself; with `tagRequestSymbol` (default true) every article is tagged with the
 * requested symbol, since NewsAPI returns no ticker metadata. Articles NewsAPI has withdrawn
 * (title "[Removed]") are left out. `status: "error"` bodies → E_PROVIDER_LIMIT (rateLimited,
 * maximumResultsReached), E_PROVIDER_AUTH (apiKey*), else E_PROVIDER.
 */
export interface NewsApiOptions extends HttpProviderOptions {
  apiKey: string;
  queries?: Record<string, string>;
  /** ISO 639-1 language filter. Default 'en'. */
  language?: string;
  pageSize?: number;
  maxPages?: number;
  /** First fetch (no cursor) reaches this far back. Default 7 days. */
  lookbackDays?: number;
  tagRequestSymbol?: boolean;
}

const NewsApiArticle = z.object({
  source: z.object({ id: z.string().nullish(), name: z.string().nullish() }).nullish(),
  title: z.string().nullish(),
  description: z.string().nullish(),
  url: z.string().nullish(),
  publishedAt: z.string().nullish(),
});
const NewsApiBody = z.object({
  status: z.string(),
  code: z.string().optional(),
  message: z.string().optional(),
  totalResults: z.number().optional(),
  articles: z.array(NewsApiArticle).optional(),
});

/** Parse an /v2/everything body (pure; exported for tests and offline use). */
export function parseNewsApi(
  body: unknown,
  ctx: { provider: string; symbol: string; language?: string; tickers?: string[] },
): { drafts: ArticleDraft[]; warnings: string[]; totalResults: number } {
  const { provider, symbol } = ctx;
  const parsed = parseShape(NewsApiBody, body, provider, symbol, 'NewsAPI');
  if (parsed.status !== 'ok') {
    const code = parsed.code ?? '';
    const errCode = /^(rateLimited|maximumResultsReached)$/.test(code) ? 'E_PROVIDER_LIMIT' : /^apiKey/.test(code) ? 'E_PROVIDER_AUTH' : 'E_PROVIDER';
    throw new ExtractError(errCode, `NewsAPI ${code || 'error'}: ${parsed.message ?? ''}`.trim(), { provider, symbol });
  }
  let removed = 0;
  const { drafts, warnings } = draftArticles(parsed.articles ?? [], (a, i) => {
    if (a.title === '[Removed]') {
      removed++;
      return undefined;
    }
    return {
      url: a.url ?? '',
      publishedAt: a.publishedAt ? Date.parse(a.publishedAt) : NaN,
      title: a.title ?? '',
      summary: a.description ?? '',
      source: a.source?.name ?? a.source?.id ?? '',
      tickers: ctx.tickers ?? [],
      language: ctx.language ?? 'en',
      where: `articles[${i}]`,
    };
  });
  if (removed) warnings.unshift(`left out ${removed} withdrawn ("[Removed]") article(s)`);
  return { drafts, warnings, totalResults: parsed.totalResults ?? drafts.length };
}

export function createNewsApiProvider(opts: NewsApiOptions): NewsProvider {
  const name = opts.name ?? 'newsapi';
  const apiKey = requireOption(opts.apiKey, 'apiKey', name);
  const ctx = providerContext(opts, {
    name,
    baseUrl: 'https://newsapi.org',
    secrets: [apiKey],
    headers: { 'x-api-key': apiKey },
    onInvalid: 'skip',
  });
  const pageSize = opts.pageSize ?? 100;
  const maxPages = opts.maxPages ?? 1;
  const language = opts.language ?? 'en';

  return newsProvider(ctx, async (req) => {
    const from = new Date(fetchStart(ctx, req, opts.lookbackDays));
    const drafts: ArticleDraft[] = [];
    const warnings: string[] = [];
    for (let page = 1; page <= maxPages; page++) {
      const url = ctx.url('/v2/everything', {
        q: opts.queries?.[req.symbol] ?? ctx.remote(req.symbol),
        from: from.toISOString().slice(0, 19),
        to: req.until?.toISOString().slice(0, 19),
        language,
        sortBy: 'publishedAt',
        pageSize,
        page,
      });
      const body = expectObject(await ctx.client.getJson(url, { symbol: req.symbol, signal: req.signal }), name, req.symbol, 'NewsAPI');
      const parsed = parseNewsApi(body, {
        provider: name,
        symbol: req.symbol,
        language,
        ...(opts.tagRequestSymbol !== false && { tickers: [req.symbol] }),
      });
      drafts.push(...parsed.drafts);
      warnings.push(...parsed.warnings);
      if (page * pageSize >= parsed.totalResults || parsed.drafts.length === 0) break;
    }
    return { drafts, warnings };
  });
}
