/**
 * Point-in-time join of news sentiment onto bars (per symbol, pure, serializable).
 *
 * Input: one score per (article, symbol) in [-1, 1] — from the sentiment model's predictions
 * (`source: 'model'`) or, until a model exists, from the lexicon scorer over the clean article
 * (`source: 'lexicon'`). A model score replaces a lexicon score of the same article; a later
 * score of the same source replaces an earlier one; a lexicon score never replaces a model score.
 *
 * No look-ahead: a bar starting at ts only sees articles published strictly before ts (the bar's
 * start — for daily bars the UTC day boundary). An article published during the bar's own
 * period, e.g. after the close, first counts for the next bar: the features of a bar never know
 * anything that was not public before its period began, and a live system has had the whole
 * period to receive those articles before it computes the bar's features.
 *
 * Features (counts as ln(1 + n); means are 0 when n = 0, the *_avail flags tell 0 from none):
 *   news_count_1, news_sent_1, news_avail_1   articles in [previous bar's ts, ts) — "since the
 *                                             last bar" (first bar: [ts − 1 day, ts))
 *   news_count_7d, news_sent_7d, news_avail_7d articles in [ts − 7 days, ts)
 */
import { checkSnapshot, isFiniteNumber } from '../features/state.ts';
import { DAY_MS } from './time.ts';

export interface SentimentScore {
  articleId: string;
  symbol: string;
  /** ISO-8601 publication time. */
  publishedAt: string;
  /** In [-1, 1] (clipped): negative … positive. */
  score: number;
  source: 'model' | 'lexicon';
}

export const NEWS_FEATURES = Object.freeze(['news_count_1', 'news_sent_1', 'news_avail_1', 'news_count_7d', 'news_sent_7d', 'news_avail_7d'] as const);

const WEEK_MS = 7 * DAY_MS;
/** Hard bound on stored articles per symbol (beyond it new articles are ignored and counted). */
export const MAX_ARTICLES = 20_000;
const PRIORITY = { lexicon: 0, model: 1 } as const;

interface Article {
  t: number;
  score: number;
  prio: 0 | 1;
}

export interface NewsSnapshot {
  kind: 'News';
  version: 1;
  /** [articleId, publishedAt ms, score, priority][], sorted by id. */
  articles: [string, number, number, 0 | 1][];
}

export type ScoreOutcome = { ok: true; stored: boolean } | { ok: false; code: 'E_BAD_SCORE' | 'E_NEWS_LIMIT'; reason: string };

export class NewsJoin {
  private articles = new Map<string, Article>();
  /** Article ids in sorted order (rebuilt lazily after a change). */
  private ids: string[] | undefined;

  get size(): number {
    return this.articles.size;
  }

  add(s: SentimentScore): ScoreOutcome {
    const t = Date.parse(s.publishedAt);
    if (typeof s.articleId !== 'string' || s.articleId === '' || !Number.isFinite(t) || !isFiniteNumber(s.score) || !(s.source in PRIORITY)) {
      return { ok: false, code: 'E_BAD_SCORE', reason: 'sentiment score needs an articleId, a valid publishedAt, a finite score and a known source' };
    }
    const prio = PRIORITY[s.source];
    const score = Math.max(-1, Math.min(1, s.score));
    const cur = this.articles.get(s.articleId);
    if (cur && cur.prio > prio) return { ok: true, stored: false };
    if (!cur && this.articles.size >= MAX_ARTICLES) return { ok: false, code: 'E_NEWS_LIMIT', reason: `more than ${MAX_ARTICLES} articles stored for ${s.symbol}` };
    this.articles.set(s.articleId, { t, score: score === 0 ? 0 : score, prio });
    if (!cur) this.ids = undefined;
    return { ok: true, stored: true };
  }

  /** Drops articles no bar after the one starting at `watermarkMs` can see (older than its 7-day window). */
  prune(watermarkMs: number): void {
    for (const [id, a] of this.articles) {
      if (a.t >= watermarkMs - WEEK_MS) continue;
      this.articles.delete(id);
      this.ids = undefined;
    }
  }

  /** NEWS_FEATURES for a bar starting at `tsMs` whose previous bar started at `prevMs`. */
  features(tsMs: number, prevMs: number | undefined): number[] {
    if (this.articles.size === 0) return [0, 0, 0, 0, 0, 0];
    const from1 = prevMs ?? tsMs - DAY_MS;
    let n1 = 0;
    let s1 = 0;
    let n7 = 0;
    let s7 = 0;
    // Summed in id order so the floating-point result never depends on arrival order.
    this.ids ??= [...this.articles.keys()].sort();
    for (const id of this.ids) {
      const a = this.articles.get(id) as Article;
      if (a.t >= tsMs) continue;
      if (a.t >= tsMs - WEEK_MS) {
        n7++;
        s7 += a.score;
      }
      if (a.t >= from1) {
        n1++;
        s1 += a.score;
      }
    }
    const mean = (s: number, n: number) => (n === 0 || s === 0 ? 0 : s / n);
    return [Math.log1p(n1), mean(s1, n1), n1 > 0 ? 1 : 0, Math.log1p(n7), mean(s7, n7), n7 > 0 ? 1 : 0];
  }

  snapshot(): NewsSnapshot {
    const ids = [...this.articles.keys()].sort();
    return { kind: 'News', version: 1, articles: ids.map((id) => { const a = this.articles.get(id) as Article; return [id, a.t, a.score, a.prio]; }) };
  }

  static restore(s: NewsSnapshot): NewsJoin {
    checkSnapshot(typeof s === 'object' && s !== null && s.kind === 'News' && s.version === 1 && Array.isArray(s.articles), 'expected a News snapshot');
    checkSnapshot(s.articles.length <= MAX_ARTICLES, 'News.articles size');
    const j = new NewsJoin();
    for (const a of s.articles) {
      checkSnapshot(Array.isArray(a) && typeof a[0] === 'string' && isFiniteNumber(a[1]) && isFiniteNumber(a[2]) && (a[3] === 0 || a[3] === 1), 'News.articles entry');
      j.articles.set(a[0], { t: a[1], score: a[2], prio: a[3] });
    }
    return j;
  }
}
