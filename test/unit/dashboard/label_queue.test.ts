import * as assert from 'uvu/assert';
import type { Db } from 'mongodb';
import { AppError, SentimentLabelRecord, sentimentTextHash } from '@stock-mlops/contracts';
import { ApiError } from '../../../services/dashboard/src/api.ts';
import { createLabelDesk } from '../../../services/dashboard/src/label_desk.ts';
import { labelText, margin, pickQueue, rankByMargin, RecentLabels, type ScoredArticle } from '../../../services/dashboard/src/label_queue.ts';
import { checkLabelRequest, DEFAULT_DASHBOARD_LABELLER } from '../../../services/dashboard/src/label_request.ts';
import { suite } from '../../harness/index.ts';

const t = suite('dashboard: labelling queue (margin ranking, exclusion) and label requests');
const AT = '2026-12-07T17:00:00.000Z';

const scored = (articleId: string, probs: [number, number, number], opts: { version?: number; symbol?: string; publishedAt?: string } = {}): ScoredArticle => {
  const [negative, neutral, positive] = probs;
  const label = negative >= neutral && negative >= positive ? 'negative' : neutral >= positive ? 'neutral' : 'positive';
  return { articleId, symbol: opts.symbol ?? 'AAPL', publishedAt: opts.publishedAt ?? '2026-12-07T10:00:00.000Z', label, probs: { negative, neutral, positive }, model: { name: 'sentiment', version: opts.version ?? 1 } };
};

t('margin is the gap between the two most probable classes, whatever their order', () => {
  assert.ok(Math.abs(margin({ negative: 0.1, neutral: 0.3, positive: 0.6 }) - 0.3) < 1e-12);
  assert.ok(Math.abs(margin({ negative: 0.45, neutral: 0.1, positive: 0.45 })) < 1e-12);
  assert.ok(Math.abs(margin({ negative: 0.05, neutral: 0.9, positive: 0.05 }) - 0.85) < 1e-12);
});

t('candidates: lowest margin first, one per article (its newest model version), ties to the newer article', () => {
  const ranked = rankByMargin([
    scored('sure', [0.05, 0.05, 0.9]),
    scored('coin', [0.48, 0.04, 0.48]),
    // v1 was unsure, v2 (the newest opinion) is sure: ranked by v2.
    scored('relearned', [0.34, 0.33, 0.33], { version: 1 }),
    scored('relearned', [0.8, 0.15, 0.05], { version: 2 }),
    scored('mid-old', [0.2, 0.5, 0.3], { publishedAt: '2026-12-06T10:00:00.000Z' }),
    scored('mid-new', [0.2, 0.5, 0.3], { publishedAt: '2026-12-07T11:00:00.000Z' }),
    // The same article under another symbol is one candidate: the copy of the first symbol.
    scored('coin', [0.48, 0.04, 0.48], { symbol: 'AAA' }),
  ]);
  assert.equal(ranked.map((c) => c.articleId), ['coin', 'mid-new', 'mid-old', 'relearned', 'sure']);
  assert.is(ranked.find((c) => c.articleId === 'relearned')!.model.version, 2);
  assert.is(ranked[0]!.symbol, 'AAA', 'the first symbol\'s copy stands for the article');
});

t('the labelled text is what the model scored (title. summary), or the title when that is too long for a label', () => {
  assert.is(labelText({ title: 'Apple beats', summary: 'Revenue up 10%' }), 'Apple beats. Revenue up 10%');
  assert.is(labelText({ title: ' Apple beats ' }), 'Apple beats');
  assert.is(labelText({ title: 'Apple beats', summary: 'x'.repeat(2_500) }), 'Apple beats');
});

t('the queue skips unknown articles, excluded (labelled) texts and repeated texts, and stops at the limit', () => {
  const ranked = rankByMargin([scored('a', [0.4, 0.3, 0.3]), scored('b', [0.4, 0.35, 0.25]), scored('c', [0.5, 0.3, 0.2]), scored('d', [0.6, 0.3, 0.1]), scored('e', [0.7, 0.2, 0.1]), scored('gone', [0.34, 0.33, 0.33])]);
  const titles: Record<string, string> = { a: 'Alpha', b: 'Beta', c: 'Alpha', d: 'Delta', e: 'Echo' };
  const labelled = new Set([sentimentTextHash('Beta')]);
  const q = pickQueue(ranked, (c) => (titles[c.articleId] ? { title: titles[c.articleId]! } : undefined), (h) => labelled.has(h), 2);
  assert.equal(q.map((i) => i.articleId), ['a', 'd'], '"gone" has no article, b is labelled, c repeats a\'s text, e is past the limit');
  assert.equal(q[0], {
    articleId: 'a',
    symbol: 'AAPL',
    publishedAt: '2026-12-07T10:00:00.000Z',
    title: 'Alpha',
    text: 'Alpha',
    textHash: sentimentTextHash('Alpha'),
    predicted: { label: 'negative', probs: { negative: 0.4, neutral: 0.3, positive: 0.3 }, margin: ranked.find((c) => c.articleId === 'a')!.margin, model: { name: 'sentiment', version: 1 } },
  });
  assert.equal(pickQueue(ranked, () => ({ title: 'x' }), () => false, 0), []);
});

t('recently published labels are remembered for their time to live, at most `max` of them', () => {
  const r = new RecentLabels(1_000, 2);
  r.add('h1', 0);
  assert.ok(r.has('h1', 999));
  assert.not.ok(r.has('h1', 1_000), 'expired');
  r.add('a', 0);
  r.add('b', 0);
  r.add('c', 0);
  assert.equal(['a', 'b', 'c'].map((h) => r.has(h, 1)), [false, true, true], 'the oldest goes first');
});

t('a label request becomes a valid label record of this time; the labeller defaults to "dashboard"', () => {
  const c = checkLabelRequest({ text: '  Apple  beats estimates ', label: 'positive', labeller: ' ', articleId: 'article-1', symbol: 'AAPL' }, AT);
  assert.equal(c, {
    ok: true,
    textHash: sentimentTextHash('Apple beats estimates'),
    record: { text: 'Apple  beats estimates', label: 'positive', labeller: DEFAULT_DASHBOARD_LABELLER, labelledAt: AT, articleId: 'article-1', symbol: 'AAPL' },
  });
  assert.ok(c.ok && SentimentLabelRecord.safeParse(c.record).success);
  const named = checkLabelRequest({ text: 'Shares fall', label: 'negative', labeller: 'ann' }, AT);
  assert.equal(named.ok && named.record, { text: 'Shares fall', label: 'negative', labeller: 'ann', labelledAt: AT });
});

t('bad label requests are refused with E_BAD_REQUEST naming the field', () => {
  const why = (body: unknown) => {
    const c = checkLabelRequest(body, AT);
    assert.is(c.ok, false);
    return c.ok ? '' : `${c.code} ${c.message}`;
  };
  assert.match(why({ label: 'positive' }), /^E_BAD_REQUEST text: /);
  assert.match(why({ text: '   ', label: 'positive' }), /^E_BAD_REQUEST text: /);
  assert.match(why({ text: 'x'.repeat(2_001), label: 'positive' }), /^E_BAD_REQUEST text: /);
  assert.match(why({ text: 'ok', label: 'bullish' }), /^E_BAD_REQUEST label: /);
  assert.match(why({ text: 'ok', label: 'neutral', labeller: 'x'.repeat(101) }), /^E_BAD_REQUEST labeller: /);
  assert.match(why({ text: 'ok', label: 'neutral', symbol: 'not a symbol!' }), /^E_BAD_REQUEST symbol: /);
  assert.match(why({ text: 'ok', label: 'neutral', labelledAt: AT }), /^E_BAD_REQUEST labelledAt: /, 'the time is the dashboard\'s');
  assert.match(why(['ok', 'neutral']), /^E_BAD_REQUEST body: /);
  assert.match(why(null), /^E_BAD_REQUEST body: /);
});

t('submit publishes the record and answers 202; a bad body is a 400 and an unavailable broker a 503, neither published', async () => {
  const published: SentimentLabelRecord[][] = [];
  let fail = false;
  const recent = new RecentLabels();
  // submit touches no collection: the database is never asked.
  const db = { collection: () => ({}) } as unknown as Db;
  const desk = createLabelDesk({
    db,
    recent,
    now: () => Date.parse(AT),
    publish: async (records) => {
      if (fail) throw new AppError('E_LABELS_UNAVAILABLE', 'labels could not be published; retry later', { retriable: true });
      published.push([...records]);
    },
  });
  const ok = await desk.submit({ text: 'Shares fall', label: 'negative', labeller: 'ann' });
  assert.equal(ok, { status: 202, body: { accepted: true, textHash: sentimentTextHash('Shares fall'), labelledAt: AT } });
  assert.equal(published, [[{ text: 'Shares fall', label: 'negative', labeller: 'ann', labelledAt: AT }]]);
  assert.ok(recent.has(sentimentTextHash('Shares fall'), Date.parse(AT)), 'kept out of the queue until the loader has it');
  const err = async (body: unknown) => {
    try {
      await desk.submit(body);
    } catch (e) {
      assert.instance(e, ApiError);
      return `${(e as ApiError).status} ${(e as ApiError).code}`;
    }
    return 'accepted';
  };
  assert.is(await err({ text: 'x', label: 'meh' }), '400 E_BAD_REQUEST');
  fail = true;
  assert.is(await err({ text: 'Shares rise', label: 'positive' }), '503 E_LABELS_UNAVAILABLE');
  assert.is(published.length, 1);
  assert.not.ok(recent.has(sentimentTextHash('Shares rise'), Date.parse(AT)), 'an unpublished label stays in the queue');
});

t.run();
