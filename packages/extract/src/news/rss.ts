import type { RawNewsArticle } from '@stock-mlops/contracts';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ExtractError } from '../errors.ts';
import type { FetchRequest, FetchResult, NewsProvider } from '../provider.ts';
import { providerContext, type HttpProviderOptions } from '../provider_support.ts';
import { assertSymbol } from '../validate.ts';
import { draftArticle, finishArticles, languageOf, reportDraftStats, type ArticleDraft } from './common.ts';

/**
 * RSS 2.0, RSS 1.0 (RDF) and Atom 1.0 feeds.
 *
 * A feed is chosen per symbol: `feeds[symbol]` (a fixed feed, e.g. a market-news feed polled
 * under a pseudo-symbol such as `MARKET`), else `urlTemplate` with `{symbol}` (a per-ticker feed,
 * whose articles are then tagged with that symbol). Item fields: title; link (Atom: the
 * `rel="alternate"` link); pubDate / dc:date / published / updated; description / summary /
 * content (HTML stripped); language from the channel or `xml:lang`. Dates without a zone are read
 * as UTC. Malformed XML (e.g. a truncated body) is E_BAD_BODY.
 */
export interface FeedSpec {
  url: string;
  /** Tickers to tag every article of this feed with. */
  tickers?: string[];
  /** Source name (default: the channel's <source> per item, else the link's host). */
  source?: string;
}

export interface RssOptions extends Omit<HttpProviderOptions, 'baseUrl'> {
  feeds?: Record<string, string | FeedSpec>;
  urlTemplate?: string;
  source?: string;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (_name, jpath) =>
    typeof jpath === 'string' &&
    ['rss.channel.item', 'rdf:RDF.item', 'feed.entry', 'feed.entry.link', 'rss.channel.item.category'].includes(jpath),
});

type Node = Record<string, unknown>;

function text(node: unknown): string {
  if (node === undefined || node === null) return '';
  if (typeof node === 'string' || typeof node === 'number' || typeof node === 'boolean') return String(node);
  if (Array.isArray(node)) return text(node[0]);
  if (typeof node === 'object') return text((node as Node)['#text']);
  return '';
}

const ZONE_RE = /(?:\b(?:GMT|UTC|UT|[ECMP][SD]T)|Z|[+-]\d{2}:?\d{2})\s*$/i;

/** RFC 822 / RFC 3339 date; a date without a zone is taken as UTC (never as the host's local time). */
export function parseFeedDate(raw: string): number {
  const s = raw.trim();
  if (!s) return NaN;
  if (ZONE_RE.test(s)) return Date.parse(s);
  return /^\d{4}-\d{2}-\d{2}T/.test(s) ? Date.parse(`${s}Z`) : Date.parse(`${s} GMT`);
}

function atomLink(links: unknown): string {
  const list = (Array.isArray(links) ? links : [links]).filter((l): l is Node => !!l && typeof l === 'object');
  const alternate = list.find((l) => !l['@_rel'] || l['@_rel'] === 'alternate') ?? list[0];
  return typeof alternate?.['@_href'] === 'string' ? alternate['@_href'] : text(links);
}

export interface ParseFeedContext {
  provider: string;
  symbol: string;
  tickers?: string[];
  source?: string;
}

/** Parse an RSS/Atom document into article drafts (pure; exported for tests and offline use). */
export function parseFeed(xml: string, ctx: ParseFeedContext): { drafts: ArticleDraft[]; warnings: string[] } {
  const { provider, symbol } = ctx;
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new ExtractError('E_BAD_BODY', `feed is not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`, { provider, symbol });
  }
  const doc = parser.parse(xml) as Node;
  const warnings: string[] = [];
  const stats = { droppedTickers: 0, unusable: [] as string[] };
  const drafts: ArticleDraft[] = [];
  const push = (d: ArticleDraft | undefined) => d && drafts.push(d);

  const rss = doc.rss as Node | undefined;
  const rdf = doc['rdf:RDF'] as Node | undefined;
  const feed = doc.feed as Node | undefined;
  if (rss || rdf) {
    const channel = ((rss ?? rdf)?.channel ?? {}) as Node;
    const items = ((rss ? channel.item : rdf?.item) ?? []) as Node[];
    const language = languageOf(text(channel.language) || text(channel['dc:language']));
    items.forEach((item, i) => {
      const link = text(item.link) || (item.guid && (item.guid as Node)['@_isPermaLink'] !== 'false' ? text(item.guid) : '');
      push(
        draftArticle(
          {
            url: link,
            publishedAt: parseFeedDate(text(item.pubDate) || text(item['dc:date'])),
            title: text(item.title),
            summary: text(item.description) || text(item['content:encoded']),
            source: ctx.source ?? (text(item.source) || hostOf(link)),
            tickers: ctx.tickers ?? [],
            language,
            where: `item[${i}]`,
          },
          stats,
        ),
      );
    });
  } else if (feed) {
    const language = languageOf(typeof feed['@_xml:lang'] === 'string' ? feed['@_xml:lang'] : undefined);
    ((feed.entry ?? []) as Node[]).forEach((entry, i) => {
      const link = atomLink(entry.link);
      push(
        draftArticle(
          {
            url: link,
            publishedAt: parseFeedDate(text(entry.published) || text(entry.updated)),
            title: text(entry.title),
            summary: text(entry.summary) || text(entry.content),
            source: ctx.source ?? (text((entry.source as Node | undefined)?.title) || hostOf(link)),
            tickers: ctx.tickers ?? [],
            language: languageOf(typeof entry['@_xml:lang'] === 'string' ? entry['@_xml:lang'] : undefined, language),
            where: `entry[${i}]`,
          },
          stats,
        ),
      );
    });
  } else {
    throw new ExtractError('E_SCHEMA', `not an RSS or Atom document (root: ${Object.keys(doc).filter((k) => !k.startsWith('?')).join(', ') || 'none'})`, {
      provider,
      symbol,
    });
  }
  reportDraftStats(stats, warnings);
  return { drafts, warnings };
}

function hostOf(link: string): string {
  try {
    return new URL(link).hostname.replace(/^www\./, '');
  } catch {
    return '';
  }
}

export function createRssProvider(opts: RssOptions): NewsProvider {
  const name = opts.name ?? 'rss';
  if (!opts.feeds && !opts.urlTemplate) throw new ExtractError('E_CONFIG', 'configure feeds or urlTemplate', { provider: name });
  const ctx = providerContext(opts, {
    name,
    baseUrl: '',
    headers: { accept: 'application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8' },
    onInvalid: 'skip',
  });

  function feedFor(symbol: string): FeedSpec {
    const fixed = opts.feeds?.[symbol];
    if (fixed) return typeof fixed === 'string' ? { url: fixed } : fixed;
    if (opts.urlTemplate) return { url: opts.urlTemplate.replaceAll('{symbol}', encodeURIComponent(ctx.remote(symbol))), tickers: [symbol] };
    throw new ExtractError('E_CONFIG', 'no feed configured for this symbol', { provider: name, symbol });
  }

  return {
    name,
    kind: 'news',
    async fetchSince(req: FetchRequest): Promise<FetchResult<RawNewsArticle>> {
      assertSymbol(name, req.symbol);
      const spec = feedFor(req.symbol);
      const res = await ctx.client.getText(spec.url, { symbol: req.symbol, signal: req.signal });
      const { drafts, warnings } = parseFeed(res.text, {
        provider: name,
        symbol: req.symbol,
        ...(spec.tickers && { tickers: spec.tickers }),
        ...((spec.source ?? opts.source) && { source: spec.source ?? opts.source }),
      });
      return finishArticles(drafts, req, { provider: name, onInvalid: ctx.onInvalid, warnings });
    },
  };
}
