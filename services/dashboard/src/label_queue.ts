/**
 * The labelling queue of the dashboard, without MongoDB or Kafka: which recent headlines the
 * served sentiment model is least sure about (the lowest margin between its two most probable
 * classes), and which of them not to offer because they are labelled already (stored in
 * `sentiment_labels`, or just published by this process: the loader may not have stored them yet).
 * label_desk.ts feeds it from the database.
 */
import { SENTIMENT_LABELS_MAX_TEXT_CHARS, sentimentTextHash, type SentimentPrediction } from '@stock-mlops/contracts';
import { newsText } from '@stock-mlops/ml/inference/predictor_core';

/** A stored sentiment prediction, as far as the queue reads it. */
export type ScoredArticle = Pick<SentimentPrediction, 'articleId' | 'symbol' | 'publishedAt' | 'label' | 'probs' | 'model'>;

export interface Candidate extends ScoredArticle {
  /** Probability of the most likely class minus that of the second: 0 = a coin toss, 1 = certain. */
  margin: number;
}

export interface QueueItem {
  articleId: string;
  symbol: string;
  publishedAt: string;
  title: string;
  /** The text a label is given for: what the model scored (title and summary), or the title alone when that is too long for a label. */
  text: string;
  textHash: string;
  predicted: { label: string; probs: ScoredArticle['probs']; margin: number; model: ScoredArticle['model'] };
}

/** The gap between the two highest class probabilities. */
export function margin(probs: ScoredArticle['probs']): number {
  const [first = 0, second = 0] = [probs.negative, probs.neutral, probs.positive].sort((a, b) => b - a);
  return first - second;
}

/**
 * One candidate per article: the prediction of the newest model version (the served model's
 * latest opinion; an article stored under several symbols was scored once per symbol, the copy
 * of the first symbol in order stands for all), ordered by margin, lowest first; ties go to the newer article, then by id.
 */
export function rankByMargin(scored: readonly ScoredArticle[]): Candidate[] {
  const best = new Map<string, ScoredArticle>();
  for (const s of scored) {
    const cur = best.get(s.articleId);
    if (!cur || s.model.version > cur.model.version || (s.model.version === cur.model.version && s.symbol < cur.symbol)) best.set(s.articleId, s);
  }
  return [...best.values()]
    .map((s) => ({ ...s, margin: margin(s.probs) }))
    .sort((a, b) => a.margin - b.margin || b.publishedAt.localeCompare(a.publishedAt) || a.articleId.localeCompare(b.articleId));
}

/** The text to label for an article: the model's input (newsText) when a label can hold it, else the title. */
export function labelText(article: { title: string; summary?: string | undefined }): string {
  const full = newsText({ title: article.title, summary: article.summary ?? '' }).trim();
  return full.length <= SENTIMENT_LABELS_MAX_TEXT_CHARS ? full : article.title.trim().slice(0, SENTIMENT_LABELS_MAX_TEXT_CHARS);
}

/** The key a label of this article's text gets (sentimentTextHash of labelText). */
export const textHashOf = (article: { title: string; summary?: string | undefined }): string => sentimentTextHash(labelText(article));

/**
 * The first `limit` candidates, in their order, whose article is known (`articleOf`), whose text
 * is not `excluded` (labelled already) and not offered twice (two articles with one text).
 */
export function pickQueue(
  candidates: readonly Candidate[],
  articleOf: (c: Candidate) => { title: string; summary?: string | undefined } | undefined,
  excluded: (textHash: string) => boolean,
  limit: number,
): QueueItem[] {
  const out: QueueItem[] = [];
  const offered = new Set<string>();
  for (const c of candidates) {
    if (out.length >= limit) break;
    const a = articleOf(c);
    if (!a) continue;
    const text = labelText(a);
    const textHash = textHashOf(a);
    if (offered.has(textHash) || excluded(textHash)) continue;
    offered.add(textHash);
    out.push({
      articleId: c.articleId,
      symbol: c.symbol,
      publishedAt: c.publishedAt,
      title: a.title,
      text,
      textHash,
      predicted: { label: c.label, probs: c.probs, margin: c.margin, model: c.model },
    });
  }
  return out;
}

/**
 * Text hashes this process published lately, so they leave the queue before the loader has stored
 * them: each is kept `ttlMs` (long enough for the loader to catch up), at most `max` (oldest first out).
 */
export class RecentLabels {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly ttlMs = 10 * 60_000,
    private readonly max = 10_000,
  ) {}

  add(textHash: string, now: number): void {
    this.until.delete(textHash);
    this.until.set(textHash, now + this.ttlMs);
    for (const k of this.until.keys()) {
      if (this.until.size <= this.max) break;
      this.until.delete(k);
    }
  }

  has(textHash: string, now: number): boolean {
    const t = this.until.get(textHash);
    if (t === undefined) return false;
    if (t > now) return true;
    this.until.delete(textHash);
    return false;
  }
}
