import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { RawNewsArticle } from '@stock-mlops/contracts';
import { ExtractError } from '../errors.ts';
import type { FetchRequest, FetchResult, NewsProvider } from '../provider.ts';
import { assertSymbol, isValidSymbol } from '../validate.ts';
import { finishArticles, type ArticleDraft } from './common.ts';
import { parseNewsApi } from './newsapi.ts';
import { parseYahooSearchNews } from './yahoo_search.ts';

/**
 * Replays recorded news API responses (dated headlines) from files: NewsAPI `/v2/everything`
 * bodies (`{status, articles}`) and Yahoo v1 search bodies (`{news}`), read with the same
 * parsers as the live providers.
 *
 * Tickers: an article keeps the tickers it carries that are in `symbols` (all of them when
 * `symbols` is not given); an article left with none (NewsAPI has no ticker metadata) gets
 * `defaultTickers` (e.g. a market index for general business news), or is left out with a
 * warning when there are none.
 *
 * Exactly once: each article belongs to one task, the symbol of its first ticker (its owner);
 * `fetchSince` for a symbol returns only the articles it owns, so an article tagged AAPL and
 * SPY is published once (by the AAPL task) and the transformer fans it out to both tickers.
 * The cursor is the usual news cursor (publication time and ids at that time).
 */
export interface NewsReplayOptions {
  name?: string;
  /** Recorded response files (JSON). */
  files: readonly string[];
  /** The symbols the pipeline knows (or where to get them, once); other tickers are dropped. */
  symbols?: readonly string[] | (() => Promise<readonly string[]>) | undefined;
  /** Tickers for articles left without one. */
  defaultTickers?: readonly string[];
}

export interface NewsReplayProvider extends NewsProvider {
  /** The symbols that own at least one article: one task each. */
  symbols(): Promise<string[]>;
}

interface Loaded {
  byOwner: Map<string, ArticleDraft[]>;
  warnings: string[];
}

export function createNewsReplayProvider(opts: NewsReplayOptions): NewsReplayProvider {
  const name = opts.name ?? 'news-replay';
  if (!opts.files.length) throw new ExtractError('E_CONFIG', 'missing required option: files', { provider: name });
  const defaults = [...new Set(opts.defaultTickers ?? [])];
  const bad = defaults.find((t) => !isValidSymbol(t));
  if (bad !== undefined) throw new ExtractError('E_CONFIG', `default ticker "${bad}" is not a symbol`, { provider: name });
  let loaded: Promise<Loaded> | undefined;

  async function parseFile(file: string): Promise<{ drafts: ArticleDraft[]; warnings: string[] }> {
    let body: unknown;
    try {
      body = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw new ExtractError('E_IO', `cannot read ${file} as JSON: ${(err as Error).message}`, { provider: name, cause: err });
    }
    const ctx = { provider: name, symbol: 'NEWS' };
    const o = body as Record<string, unknown> | null;
    if (o && typeof o === 'object' && Array.isArray(o.articles)) return parseNewsApi(body, { ...ctx, tickers: [] });
    if (o && typeof o === 'object' && Array.isArray(o.news)) return parseYahooSearchNews(body, ctx);
    throw new ExtractError('E_SCHEMA', `${basename(file)}: neither a NewsAPI body (articles) nor a Yahoo search body (news)`, { provider: name });
  }

  async function load(): Promise<Loaded> {
    const universe = typeof opts.symbols === 'function' ? await opts.symbols() : opts.symbols;
    const known = universe ? new Set(universe) : undefined;
    const byOwner = new Map<string, ArticleDraft[]>();
    const warnings: string[] = [];
    const seen = new Set<string>();
    let untagged = 0;
    for (const file of opts.files) {
      const parsed = await parseFile(file);
      warnings.push(...parsed.warnings.map((w) => `${basename(file)}: ${w}`));
      for (const d of parsed.drafts) {
        if (seen.has(d.article.id)) continue;
        seen.add(d.article.id);
        const mine = d.article.tickers.filter((t) => !known || known.has(t));
        const tickers = mine.length ? mine : defaults;
        if (!tickers.length) {
          untagged++;
          continue;
        }
        const draft: ArticleDraft = { ...d, article: { ...d.article, tickers } };
        byOwner.set(tickers[0]!, [...(byOwner.get(tickers[0]!) ?? []), draft]);
      }
    }
    if (untagged) warnings.push(`left out ${untagged} article(s) with no known ticker and no default tickers`);
    return { byOwner, warnings };
  }

  const articles = () => {
    if (!loaded) {
      loaded = load();
      loaded.catch(() => (loaded = undefined));
    }
    return loaded;
  };

  return {
    name,
    kind: 'news',
    async symbols() {
      return [...(await articles()).byOwner.keys()].sort();
    },
    async fetchSince(req: FetchRequest): Promise<FetchResult<RawNewsArticle>> {
      assertSymbol(name, req.symbol);
      const { byOwner, warnings } = await articles();
      // The files' warnings once, with the first fetch of the first owner.
      const first = req.cursor === undefined && req.symbol === [...byOwner.keys()].sort()[0];
      return finishArticles(byOwner.get(req.symbol) ?? [], req, { provider: name, onInvalid: 'skip', warnings: first ? [...warnings] : [] });
    },
  };
}
