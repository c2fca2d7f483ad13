import { deterministicId, type RawNewsArticle } from '@stock-mlops/contracts';
import { nextCursor, sliceAfter } from '../cursor.ts';
import type { FetchRequest, FetchResult, InvalidItemPolicy, NewsProvider } from '../provider.ts';
import { symbolProvider, type ProviderContext } from '../provider_support.ts';
import { isValidSymbol, validateArticles, type Candidate } from '../validate.ts';

/**
 * Canonical form of an article URL, the basis of its id: lower-case scheme and host, no
 * credentials, no default port, no `utm_*` parameters, no fragment, no trailing slash.
 * Undefined for anything that is not an absolute http(s) URL.
 */
export function canonicalUrl(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  for (const key of [...u.searchParams.keys()]) if (/^utm_/i.test(key)) u.searchParams.delete(key);
  const path = u.pathname.replace(/\/+$/, '');
  const search = u.searchParams.toString();
  return `${u.protocol}//${u.host.toLowerCase()}${path}${search ? `?${search}` : ''}`;
}

export function articleId(canonical: string): string {
  return deterministicId(canonical);
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ndash: '–',
  mdash: '—',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  hellip: '…',
  copy: '©',
  reg: '®',
  trade: '™',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z][a-z0-9]*);/gi, (m, body: string) => {
    if (body[0] === '#') {
      const cp = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? m;
  });
}

/** Plain text from an HTML fragment: scripts/styles dropped, tags removed, entities decoded, whitespace collapsed. */
export function htmlToText(html: string): string {
  const withoutTags = html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<(br|\/p|\/div|\/li|\/h\d)\b[^>]*>/gi, ' ')
    .replace(/<[^>]+>/g, '');
  // Entities may encode markup ("&lt;b&gt;"): decode, then strip tags that appear.
  return decodeEntities(withoutTags)
    .replace(/<[a-z/][^>]*>/gi, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Primary language subtag: 'en-us' → 'en'. */
export function languageOf(tag: string | undefined, fallback = 'en'): string {
  const primary = tag?.trim().toLowerCase().split(/[-_]/)[0];
  return primary && /^[a-z]{2,3}$/.test(primary) ? primary : fallback;
}

export interface ArticleInput {
  url: string;
  publishedAt: number;
  title: string;
  summary?: string;
  source: string;
  tickers?: readonly string[];
  language?: string;
  where: string;
}

export interface ArticleDraft {
  article: RawNewsArticle;
  canonical: string;
  where: string;
}

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/**
 * Normalize one article. Tickers that are not valid symbols ("CRYPTO:SHIB") are dropped and
 * counted; an article without a usable URL, time or title is reported and left out.
 */
export function draftArticle(input: ArticleInput, stats: { droppedTickers: number; unusable: string[] }): ArticleDraft | undefined {
  const canonical = canonicalUrl(input.url);
  const title = clip(htmlToText(input.title), 1000);
  if (!canonical || !Number.isFinite(input.publishedAt) || !title) {
    stats.unusable.push(`${input.where}: ${!canonical ? 'no http(s) url' : !title ? 'empty title' : 'unreadable time'}`);
    return undefined;
  }
  const tickers: string[] = [];
  for (const t of input.tickers ?? []) {
    const s = t.trim().toUpperCase();
    if (isValidSymbol(s)) {
      if (!tickers.includes(s)) tickers.push(s);
    } else stats.droppedTickers++;
  }
  return {
    canonical,
    where: input.where,
    article: {
      id: articleId(canonical),
      url: canonical.length <= 2048 ? input.url.trim() : canonical,
      publishedAt: new Date(input.publishedAt).toISOString(),
      title,
      summary: clip(htmlToText(input.summary ?? ''), 10_000),
      source: clip(input.source.trim() || new URL(canonical).hostname, 200),
      tickers: tickers.slice(0, 50),
      language: input.language ?? 'en',
    },
  };
}

export function reportDraftStats(stats: { droppedTickers: number; unusable: string[] }, warnings: string[]): void {
  if (stats.droppedTickers) warnings.push(`dropped ${stats.droppedTickers} ticker(s) that are not valid symbols`);
  if (stats.unusable.length) warnings.push(`left out ${stats.unusable.length} unusable article(s), first: ${stats.unusable[0]}`);
}

/**
 * Drafts each item through `toInput` (undefined = left out, not counted as unusable) and reports
 * the dropped tickers and unusable articles: the shared loop of the JSON news parsers.
 */
export function draftArticles<T>(
  items: readonly T[],
  toInput: (item: T, i: number) => ArticleInput | undefined,
): { drafts: ArticleDraft[]; warnings: string[] } {
  const stats = { droppedTickers: 0, unusable: [] as string[] };
  const drafts: ArticleDraft[] = [];
  items.forEach((item, i) => {
    const input = toInput(item, i);
    const d = input && draftArticle(input, stats);
    if (d) drafts.push(d);
  });
  const warnings: string[] = [];
  reportDraftStats(stats, warnings);
  return { drafts, warnings };
}

const articleCursor = {
  time: (d: { article: RawNewsArticle }) => d.article.publishedAt,
  key: (d: { article: RawNewsArticle }) => d.article.id,
};

/** Dedupe by id (first kept), keep what is after the cursor, validate, compute the next cursor. */
export function finishArticles(
  drafts: readonly ArticleDraft[],
  req: FetchRequest,
  opts: { provider: string; onInvalid: InvalidItemPolicy; warnings: string[] },
): FetchResult<RawNewsArticle> {
  const ctx = { provider: opts.provider, symbol: req.symbol };
  const seen = new Set<string>();
  const unique = drafts.filter((d) => !seen.has(d.article.id) && seen.add(d.article.id));
  if (unique.length < drafts.length) opts.warnings.push(`dropped ${drafts.length - unique.length} duplicate article(s) (same canonical URL)`);
  const window = sliceAfter<ArticleDraft>(unique, req.cursor, req.until, articleCursor, ctx).sort(
    (a, b) => Date.parse(a.article.publishedAt) - Date.parse(b.article.publishedAt) || a.article.id.localeCompare(b.article.id),
  );
  const candidates: Candidate[] = window.map((d) => ({
    idParts: [d.canonical],
    eventTime: d.article.publishedAt,
    data: d.article,
    where: d.where,
  }));
  const items = validateArticles(candidates, { ...ctx, onInvalid: opts.onInvalid, warnings: opts.warnings });
  return {
    items,
    nextCursor: nextCursor(
      items.map((i) => ({ article: i.data })),
      req.cursor,
      articleCursor,
    ),
    warnings: opts.warnings,
  };
}

/** A news provider: `fetchSince` checks the symbol, fetches and parses with `fetchDrafts`, and finishes the drafts. */
export function newsProvider(
  ctx: ProviderContext,
  fetchDrafts: (req: FetchRequest) => Promise<{ drafts: ArticleDraft[]; warnings: string[] }>,
): NewsProvider {
  return symbolProvider(ctx, 'news', async (req) => {
    const { drafts, warnings } = await fetchDrafts(req);
    return finishArticles(drafts, req, { provider: ctx.name, onInvalid: ctx.onInvalid, warnings });
  });
}
