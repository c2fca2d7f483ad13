/**
 * The dashboard's labelling panel on the real broker and database: over seeded news and sentiment
 * predictions with known probabilities, the queue offers the headlines the model is least sure
 * about first (lowest margin, newest model version, each text once, stored labels left out); a
 * click in headless Chromium publishes a label that arrives on the labels topic (keyed by the text
 * hash, valid against the contract, with the labeller typed in the page), and the labelled items
 * leave the queue at once in the page and on the server, before any loader stored them.
 * POST /api/labels refuses a request without the token and bad bodies with coded 400s.
 */
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { MongoClient } from 'mongodb';
import { decode, resolveTopics, sentimentTextHash, type SentimentLabelRecord } from '@stock-mlops/contracts';
import { ensureTopics } from '@stock-mlops/platform';
import { SENTIMENT_LABELS_COLLECTION } from '@stock-mlops/load';
import { suite } from '../harness/index.ts';
import { launchBrowser, requireChromium, startDashboard, type TestBrowser } from '../support/browser.ts';
import { collect, kafkaClient, mongoClient, reportingFailures, startStack, waitFor, type RunningStack } from '../support/stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TOKEN = 'labels-dashboard-token-0123456789';
const t = suite('e2e: dashboard labelling panel', { timeoutMs: 90_000 });

interface Ctx {
  stack?: RunningStack;
  mongo?: MongoClient;
  browser?: TestBrowser;
  labels?: Awaited<ReturnType<typeof collect>>;
  url: string;
}
const ctx: Ctx = { url: '' };

/** Seeded articles: id → title, summary, symbols, and the newest model version's probabilities (negative, neutral, positive). */
const ARTICLES = {
  'article-coin': { title: 'Chipmaker guides flat as orders wobble', summary: 'Analysts split on the outlook', symbols: ['NVDA'], probs: [0.45, 0.12, 0.43] },
  'article-near': { title: 'Retailer holds its dividend', summary: '', symbols: ['WMT'], probs: [0.2, 0.42, 0.38] },
  // Stored under two symbols: offered once.
  'article-two': { title: 'Apple and Microsoft sign a cloud deal', summary: 'Terms were not disclosed', symbols: ['AAPL', 'MSFT'], probs: [0.1, 0.35, 0.55] },
  // Its v1 was a coin toss, its v2 is fairly sure: ranked by v2.
  'article-relearned': { title: 'Bank beats estimates', summary: 'Record quarter', symbols: ['JPM'], probs: [0.05, 0.25, 0.7] },
  'article-sure': { title: 'Airline files for bankruptcy', summary: '', symbols: ['AAL'], probs: [0.93, 0.05, 0.02] },
  // Unsure, but its text was labelled already (stored in sentiment_labels): never offered.
  'article-labelled': { title: 'Oil major keeps output steady', summary: '', symbols: ['XOM'], probs: [0.33, 0.34, 0.33] },
} as const;
type ArticleId = keyof typeof ARTICLES;
const EXPECTED: ArticleId[] = ['article-coin', 'article-near', 'article-two', 'article-relearned', 'article-sure'];
const textOf = (id: ArticleId) => (ARTICLES[id].summary ? `${ARTICLES[id].title}. ${ARTICLES[id].summary}` : ARTICLES[id].title);

async function seed(): Promise<void> {
  const db = ctx.mongo!.db(ctx.stack!.db);
  const news = [];
  const sentiment = [];
  let minute = 0;
  for (const [id, a] of Object.entries(ARTICLES) as Array<[ArticleId, (typeof ARTICLES)[ArticleId]]>) {
    const publishedAt = new Date(Date.UTC(2026, 11, 7, 9, minute++)).toISOString();
    for (const symbol of a.symbols) {
      news.push({ _id: `${id}|${symbol}`, id, symbol, title: a.title, url: `https://example.com/${id}`, publishedAt, summary: a.summary, source: 'Example Wire', tickers: a.symbols, language: 'en', eventId: `n-${id}-${symbol}` });
      const [negative, neutral, positive] = a.probs;
      const label = negative >= neutral && negative >= positive ? 'negative' : neutral >= positive ? 'neutral' : 'positive';
      const prediction = (version: number, probs: { negative: number; neutral: number; positive: number }) => ({
        _id: `${id}|${symbol}|sentiment|${version}`,
        articleId: id,
        symbol,
        publishedAt,
        label,
        probs,
        score: probs.positive - probs.negative,
        model: { name: 'sentiment', version },
        latencyMs: 1,
      });
      sentiment.push(prediction(2, { negative, neutral, positive }));
      if (id === 'article-relearned') sentiment.push(prediction(1, { negative: 0.34, neutral: 0.33, positive: 0.33 }));
    }
  }
  // An article nobody scored is not offered either.
  news.push({ _id: 'article-unscored|IBM', id: 'article-unscored', symbol: 'IBM', title: 'IBM hosts an event', url: 'https://example.com/u', publishedAt: '2026-12-07T10:00:00.000Z', summary: '', source: 'Example Wire', tickers: ['IBM'], language: 'en', eventId: 'n-u' });
  await db.collection('news').insertMany(news as never[]);
  await db.collection('sentiment_predictions').insertMany(sentiment as never[]);
  const labelled = textOf('article-labelled');
  await db.collection(SENTIMENT_LABELS_COLLECTION).insertOne({ _id: sentimentTextHash(labelled), text: labelled, label: 'neutral', labeller: 'ann', labelledAt: '2026-12-07T08:00:00.000Z', eventId: 'e-1', partition: 0, offset: 0, labels: 1, conflicts: 0 } as never);
}

const auth = { authorization: `Bearer ${TOKEN}` };
async function queue(): Promise<Array<{ articleId: string; text: string; textHash: string; symbol: string; predicted: { margin: number; model: { version: number } } }>> {
  const r = await fetch(`${ctx.url}/api/labels/queue?limit=10`, { headers: auth });
  assert.is(r.status, 200);
  return ((await r.json()) as { items: never[] }).items;
}
const post = (body: string, headers: Record<string, string> = { ...auth, 'content-type': 'application/json' }) => fetch(`${ctx.url}/api/labels`, { method: 'POST', headers, body });
const errorOf = async (r: Response) => `${r.status} ${((await r.json()) as { error: { code: string } }).error.code}`;

t.before(async () => {
  requireChromium();
  ctx.stack = startStack({ services: [] });
  const stack = ctx.stack;
  await ensureTopics(kafkaClient('labels-dashboard-admin'), stack.prefix);
  ctx.mongo = await mongoClient();
  await seed();
  ctx.labels = await collect([resolveTopics(stack.prefix).sentimentLabels], 'labels-dashboard');
  const d = await reportingFailures(stack, () => startDashboard(stack, { DASHBOARD_TOKEN: TOKEN }));
  ctx.url = d.url;
});

t('the queue: lowest margin first, newest model version, each text once, labelled and unscored texts left out; the token is required', async () => {
  assert.is((await fetch(`${ctx.url}/api/labels/queue`)).status, 401);
  const items = await queue();
  assert.equal(items.map((i) => i.articleId), EXPECTED);
  const margins = items.map((i) => i.predicted.margin);
  assert.equal(margins, [...margins].sort((a, b) => a - b), 'ascending margins');
  assert.ok(Math.abs(margins[0]! - 0.02) < 1e-9, `the coin toss first (${margins[0]})`);
  const relearned = items.find((i) => i.articleId === 'article-relearned')!;
  assert.is(relearned.predicted.model.version, 2);
  assert.ok(Math.abs(relearned.predicted.margin - 0.45) < 1e-9);
  for (const i of items) {
    assert.is(i.text, textOf(i.articleId as ArticleId), 'the text the model scored');
    assert.is(i.textHash, sentimentTextHash(i.text));
  }
  const limited = await fetch(`${ctx.url}/api/labels/queue?limit=2`, { headers: auth });
  assert.equal(((await limited.json()) as { items: Array<{ articleId: string }> }).items.map((i) => i.articleId), EXPECTED.slice(0, 2));
  assert.is(await errorOf(await fetch(`${ctx.url}/api/labels/queue?limit=0`, { headers: auth })), '400 E_BAD_REQUEST');
});

t('POST /api/labels: 401 without the token, coded 4xx for bad requests, nothing published', async () => {
  const good = JSON.stringify({ text: 'Refused headline', label: 'positive' });
  const none = await post(good, { 'content-type': 'application/json' });
  assert.is(await errorOf(none), '401 E_UNAUTHORIZED');
  assert.is(await errorOf(await post(good, { authorization: 'Bearer wrong-token-0123456789abcdef', 'content-type': 'application/json' })), '401 E_UNAUTHORIZED');
  assert.is(await errorOf(await post('{"text":')), '400 E_BAD_JSON');
  assert.is(await errorOf(await post(good, { ...auth, 'content-type': 'text/plain' })), '415 E_UNSUPPORTED_MEDIA_TYPE');
  assert.is(await errorOf(await post(JSON.stringify({ text: 'x'.repeat(20_000), label: 'positive' }))), '413 E_PAYLOAD_TOO_LARGE');
  const bad = await post(JSON.stringify({ text: 'A headline', label: 'bullish' }));
  assert.is(bad.status, 400);
  const body = (await bad.json()) as { error: { code: string; message: string } };
  assert.is(body.error.code, 'E_BAD_REQUEST');
  assert.match(body.error.message, /^label: /);
  assert.is(await errorOf(await post(JSON.stringify({ label: 'neutral' }))), '400 E_BAD_REQUEST');
  assert.is(await errorOf(await fetch(`${ctx.url}/api/labels`, { headers: auth })), '405 E_METHOD_NOT_ALLOWED');
  assert.is(await errorOf(await fetch(`${ctx.url}/api/models`, { method: 'POST', headers: auth, body: '{}' })), '405 E_METHOD_NOT_ALLOWED', 'the rest of the API stays read-only');
});

t('page: clicking labels publishes them to the topic with the labeller typed in; labelled items leave the queue', async () => {
  ctx.browser = await launchBrowser();
  const { page, pageErrors } = ctx.browser;
  await page.goto(`${ctx.url}/#token=${TOKEN}`);
  await page.waitForSelector('#label-queue[data-loaded="true"]', { timeout: 20_000 });
  const shown = () => page.$$eval('#label-queue li', (lis) => lis.map((li) => (li as HTMLElement).dataset.articleId));
  assert.equal(await shown(), EXPECTED, 'the page shows the queue in its order');
  mkdirSync(path.join(ROOT, 'artifacts/screenshots'), { recursive: true });
  await page.locator('section.labels').screenshot({ path: path.join(ROOT, 'artifacts/screenshots/dashboard-labels.png') });
  assert.is(await page.inputValue('#labeller'), 'dashboard', 'the default labeller');
  await page.fill('#labeller', 'ann');
  await page.dispatchEvent('#labeller', 'change');

  await page.click('#label-queue li[data-article-id="article-coin"] button[data-label="negative"]');
  await page.click('#label-queue li[data-article-id="article-two"] button[data-label="positive"]');
  assert.equal(await shown(), ['article-near', 'article-relearned', 'article-sure'], 'clicked items leave the list at once');
  await page.waitForFunction(() => document.querySelector('#label-count')?.textContent === '2 labelled here', undefined, { timeout: 10_000 });

  const arrived = await waitFor('two labels on the topic', () => (ctx.labels!.messages.length >= 2 ? ctx.labels!.messages : undefined), 20_000);
  assert.is(arrived.length, 2, 'one record per click, none from the refused requests');
  const records = arrived.map(({ m }) => {
    const d = decode('sentimentLabels', m.value);
    assert.ok(d.ok, d.ok ? '' : `valid against the contract: ${d.reason}`);
    const record = d.envelope.data as SentimentLabelRecord;
    assert.is(m.key?.toString(), sentimentTextHash(record.text), 'keyed by the text hash');
    assert.is(d.envelope.source, 'dashboard');
    assert.ok(Math.abs(Date.parse(record.labelledAt) - Date.now()) < 10 * 60_000, `labelled now (${record.labelledAt})`);
    return { ...record, labelledAt: 'now' };
  });
  records.sort((a, b) => a.text.localeCompare(b.text));
  assert.equal(records, [
    { text: textOf('article-two'), label: 'positive', labeller: 'ann', labelledAt: 'now', articleId: 'article-two', symbol: 'AAPL' },
    { text: textOf('article-coin'), label: 'negative', labeller: 'ann', labelledAt: 'now', articleId: 'article-coin', symbol: 'NVDA' },
  ]);

  // No loader runs here: the server leaves out what this dashboard just published.
  assert.is(await ctx.mongo!.db(ctx.stack!.db).collection(SENTIMENT_LABELS_COLLECTION).countDocuments(), 1);
  assert.equal((await queue()).map((i) => i.articleId), ['article-near', 'article-relearned', 'article-sure']);
  await page.reload();
  await page.waitForSelector('#label-queue[data-loaded="true"]', { timeout: 20_000 });
  assert.equal(await shown(), ['article-near', 'article-relearned', 'article-sure'], 'still gone after a reload');
  assert.is(await page.inputValue('#labeller'), 'ann', 'the labeller is remembered');
  assert.equal(pageErrors, []);
});

t.after(async () => {
  await ctx.browser?.close();
  await ctx.labels?.stop();
  await ctx.stack?.stop();
  if (ctx.mongo && ctx.stack) await ctx.mongo.db(ctx.stack.db).dropDatabase().catch(() => undefined);
  await ctx.mongo?.close();
});

t.run();
