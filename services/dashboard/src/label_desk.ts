/**
 * The labelling panel's server side: the queue read from MongoDB (stored sentiment predictions,
 * news, `sentiment_labels`; ranking and exclusion in label_queue.ts) and a label published through
 * the injected publisher (createLabelPublisher: the labels topic). No HTTP and no Kafka client here.
 */
import type { Db } from 'mongodb';
import { COLLECTIONS, readByIds, SENTIMENT_LABELS_COLLECTION } from '@stock-mlops/load';
import { AppError, type LabelPublisher } from '@stock-mlops/platform';
import { ApiError, type ApiResult } from './api.ts';
import { checkLabelRequest } from './label_request.ts';
import { pickQueue, rankByMargin, RecentLabels, textHashOf, type Candidate, type QueueItem, type ScoredArticle } from './label_queue.ts';

/** How many of the newest stored sentiment predictions (by publication time) the queue is chosen from. */
export const LABEL_QUEUE_SCAN = 500;

export interface LabelDesk {
  queue(limit: number): Promise<{ items: QueueItem[]; scanned: number }>;
  /** A label from the page: 202 once it is on the topic; ApiError 400 for a bad body, 503 when the broker is unavailable. */
  submit(body: unknown): Promise<ApiResult>;
}

export function createLabelDesk(opts: { db: Db; publish: LabelPublisher; recent?: RecentLabels; now?: () => number; scan?: number }): LabelDesk {
  const { db, publish } = opts;
  const recent = opts.recent ?? new RecentLabels();
  const now = opts.now ?? Date.now;
  const scan = opts.scan ?? LABEL_QUEUE_SCAN;
  const labels = db.collection<{ _id: string }>(SENTIMENT_LABELS_COLLECTION);

  return {
    async queue(limit) {
      const scored = (await db
        .collection(COLLECTIONS.sentiment)
        .find({}, { projection: { _id: 0, articleId: 1, symbol: 1, publishedAt: 1, label: 1, probs: 1, model: 1 } })
        .sort({ publishedAt: -1 })
        .limit(scan)
        .toArray()) as unknown as ScoredArticle[];
      const candidates = rankByMargin(scored);
      const items: QueueItem[] = [];
      // Texts and labels are read for a few candidates at a time, lowest margin first, until the queue is full.
      const chunk = Math.max(limit * 2, 10);
      for (let i = 0; i < candidates.length && items.length < limit; i += chunk) {
        const slice = candidates.slice(i, i + chunk);
        const articles = await readByIds(db.collection<NewsDoc>(COLLECTIONS.news), slice.map(newsId));
        const stored = await readByIds(labels, [...new Set([...articles.values()].map(textHashOf))]);
        const t = now();
        const taken = new Set(items.map((q) => q.textHash));
        const excluded = (h: string) => taken.has(h) || stored.has(h) || recent.has(h, t);
        items.push(...pickQueue(slice, (c) => articles.get(newsId(c)), excluded, limit - items.length));
      }
      return { items, scanned: scored.length };
    },

    async submit(body) {
      const labelledAt = new Date(now()).toISOString();
      const check = checkLabelRequest(body, labelledAt);
      if (!check.ok) throw new ApiError(400, check.code, check.message);
      try {
        await publish([check.record]);
      } catch (err) {
        if (err instanceof AppError && err.code === 'E_LABELS_UNAVAILABLE') throw new ApiError(503, err.code, err.message);
        throw err;
      }
      recent.add(check.textHash, now());
      return { status: 202, body: { accepted: true, textHash: check.textHash, labelledAt } };
    },
  };
}

type NewsDoc = { _id: string; title: string; summary?: string };

/** `_id` of an article's copy in the news collection (newsKey). */
const newsId = (c: Candidate) => `${c.articleId}|${c.symbol}`;
