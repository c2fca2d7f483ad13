/**
 * Dashboard over a seeded database and a stand-in prediction stream: the JSON API (contents,
 * ordering, limits, input validation, bearer token, static files) and the page in headless
 * Chromium (rendering, escaping of untrusted text, live frames through the dashboard's
 * same-origin /ws proxy, synthetic badges, monitoring, reconnection). The real MongoDB-wire
 * server is used; only the predictor's WebSocket is played by the test, so that outages and
 * frames are under its control. The full pipeline is in dashboard.test.ts.
 */
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { MongoClient } from 'mongodb';
import { suite } from '../harness/index.ts';
import { countCanvasPixels, launchBrowser, requireChromium, startDashboard, type TestBrowser } from '../support/browser.ts';
import { csvBars, prediction } from '../support/dashboard_seed.ts';
import { encode, makeEnvelope, resolveTopics } from '@stock-mlops/contracts';
import { freePort, kafkaClient, mongoClient, reportingFailures, startStack, waitFor, type RunningStack } from '../support/stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TOKEN = 'test-token-0123456789abcdef';
const BARS = 260;

interface Ctx {
  stack?: RunningStack;
  mongo?: MongoClient;
  browser?: TestBrowser;
  stream?: FakeStream;
  url: string;
  opsPort: number;
  wsPort: number;
  msftBars: Array<Record<string, unknown> & { ts: string; close: number }>;
}
const ctx: Ctx = { url: '', opsPort: 0, wsPort: 0, msftBars: [] };
const t = suite('e2e: dashboard API and page over seeded data', { timeoutMs: 60_000 });

/** The predictor's WebSocket protocol, played by the test. */
class FakeStream {
  readonly clients = new Set<WebSocket>();
  readonly received: unknown[] = [];
  private constructor(private readonly wss: WebSocketServer) {
    wss.on('connection', (ws) => {
      this.clients.add(ws);
      ws.send(JSON.stringify({ type: 'welcome', protocol: 1, heartbeatMs: 1_000 }));
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString()) as { op: string; symbols: string[] };
        this.received.push(m);
        if (m.op === 'subscribe') {
          ws.send(JSON.stringify({ type: 'subscribed', symbols: m.symbols }));
          ws.send(JSON.stringify({ type: 'snapshot', symbol: 'AAPL', prediction: prediction('AAPL', '2017-09-01T00:00:00.000Z', 164.05, 0.0123) }));
        }
      });
      ws.on('close', () => this.clients.delete(ws));
    });
    const hb = setInterval(() => this.broadcast({ type: 'heartbeat', ts: new Date().toISOString() }), 1_000);
    wss.on('close', () => clearInterval(hb));
  }
  static async listen(port: number): Promise<FakeStream> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws' });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return new FakeStream(wss);
  }
  broadcast(msg: unknown): void {
    for (const c of this.clients) c.send(JSON.stringify(msg));
  }
  async close(): Promise<void> {
    for (const c of this.clients) c.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }
}

async function seed(): Promise<void> {
  const db = ctx.mongo!.db(ctx.stack!.db);
  const msft = csvBars('MSFT', BARS);
  const aapl = csvBars('AAPL', BARS);
  ctx.msftBars = msft;
  // A second interval must not leak into the daily chart.
  const weekly = { ...msft.at(-1)!, _id: 'MSFT|1wk|x', interval: '1wk', close: 1 };
  await db.collection('bars').insertMany([...msft, ...aapl, weekly] as never[]);
  // Predictions of the next close for every MSFT bar but the last: a small, alternating move.
  const preds = msft.slice(0, -1).map((b, i) => ({ _id: `MSFT|${b.ts}`, ...prediction('MSFT', b.ts, b.close, i % 3 === 0 ? -0.004 : 0.006) }));
  await db.collection('price_predictions').insertMany(preds as never[]);
  const lastMsft = msft.at(-1)!;
  await db.collection('latest_state').insertMany([
    { _id: 'MSFT', symbol: 'MSFT', bar: lastMsft, barTs: lastMsft.ts, prediction: (({ _id, ...p }) => p)(preds.at(-1)!), updatedAt: new Date().toISOString() },
    { _id: 'AAPL', symbol: 'AAPL', bar: aapl.at(-1), barTs: aapl.at(-1)!.ts, updatedAt: new Date().toISOString() },
  ] as never[]);
  const version = (name: string, v: number, status: string, createdAt: string, metrics: Record<string, number>, params: Record<string, unknown> = { arch: 'lstm', epochs: 20 }) => ({
    name,
    version: v,
    task: name === 'price' ? 'price' : 'sentiment',
    status,
    statusReason: status === 'production' ? 'beats production and baselines' : status === 'archived' ? `replaced by v${v + 1}` : 'registered',
    metrics,
    params,
    featureSchemaHash: 'abcdef0123456789',
    normalization: { featureMean: [1, 2], featureStd: [1, 1] },
    reference: { big: Array.from({ length: 500 }, (_, i) => i) },
    dataWindow: { from: '2012-09-04T00:00:00.000Z', to: '2017-06-30T00:00:00.000Z', rows: 1180 },
    lineage: {},
    gitSha: 'abc1234',
    createdAt,
    artifactBytes: 123_456,
  });
  await db.collection('model_versions').insertMany([
    // v1: the zero-return baseline served until v2 passed the gate.
    version('price', 1, 'archived', '2026-01-01T10:00:00.000Z', { rmse: 0.0149, mae: 0.0112, directionalAccuracy: 0.512 }, { baseline: 'zero-return', arch: 'mlp', lookback: 20 }),
    version('price', 2, 'production', '2026-01-02T10:00:00.000Z', { rmse: 0.0139, mae: 0.0101, directionalAccuracy: 0.547, backtest_sharpe: 0.81, baseline_zero_rmse: 0.0149 }),
    version('sentiment', 1, 'candidate', '2026-01-03T10:00:00.000Z', { accuracy: 0.78, macroF1: 0.71 }),
  ] as never[]);
  await db.collection('model_aliases').insertOne({ _id: 'price:production', name: 'price', alias: 'production', version: 2, history: [1], updatedAt: '2026-01-02T10:00:00.000Z', reason: 'promoted' } as never);
  const article = (id: string, symbol: string, title: string, publishedAt: string) => ({
    _id: `${id}|${symbol}`,
    id,
    symbol,
    title,
    url: `https://example.com/news/${id}`,
    publishedAt,
    summary: 'x'.repeat(400),
    source: 'Example Wire',
    tickers: [symbol],
    language: 'en',
    eventId: `n-${id}`,
  });
  await db.collection('news').insertMany([
    article('article-0001', 'MSFT', 'Microsoft beats estimates as cloud revenue grows', '2017-08-30T14:00:00.000Z'),
    article('article-0002', 'AAPL', '<img src=x onerror="window.__xss=1">Apple & suppliers <b>ramp</b> production', '2017-08-31T09:30:00.000Z'),
    article('article-0003', 'MSFT', 'Older headline about Microsoft', '2017-08-01T09:30:00.000Z'),
  ] as never[]);
  const sentiment = (articleId: string, symbol: string, label: string, v: number) => ({
    _id: `${articleId}|${symbol}|sentiment|${v}`,
    articleId,
    symbol,
    publishedAt: '2017-08-30T14:00:00.000Z',
    label,
    probs: { negative: label === 'negative' ? 0.8 : 0.1, neutral: 0.1, positive: label === 'positive' ? 0.8 : 0.1 },
    score: label === 'positive' ? 0.7 : -0.7,
    model: { name: 'sentiment', version: v },
    latencyMs: 1,
  });
  await db.collection('sentiment_predictions').insertMany([sentiment('article-0001', 'MSFT', 'negative', 1), sentiment('article-0001', 'MSFT', 'positive', 2)] as never[]);
}

const api = (p: string, init: RequestInit = {}) =>
  fetch(`${ctx.url}${p}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers as Record<string, string> | undefined) } });
async function json(p: string): Promise<{ status: number; body: any }> {
  const r = await api(p);
  return { status: r.status, body: await r.json() };
}

t.before(async () => {
  requireChromium();
  mkdirSync(path.join(ROOT, 'artifacts/screenshots'), { recursive: true });
  ctx.wsPort = await freePort();
  ctx.stream = await FakeStream.listen(ctx.wsPort);
  ctx.stack = startStack({ services: [] });
  ctx.mongo = await mongoClient();
  await seed();
  // No {host} in the URL: the page streams through the dashboard's own /ws (the default).
  const stack = ctx.stack;
  const d = await reportingFailures(stack, () => startDashboard(stack, { DASHBOARD_TOKEN: TOKEN, PREDICTOR_WS_URL: `ws://127.0.0.1:${ctx.wsPort}/ws` }));
  ctx.url = d.url;
  ctx.opsPort = d.opsPort;
});

t('serves the page, the chart library and the stream settings; nothing outside the allow-list', async () => {
  const page = await fetch(`${ctx.url}/`);
  assert.is(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  assert.match(await page.text(), /<script type="module" src="\/app.js">/);
  const lib = await fetch(`${ctx.url}/vendor/lightweight-charts.mjs`);
  assert.is(lib.status, 200);
  assert.match(lib.headers.get('content-type') ?? '', /text\/javascript/);
  assert.match(await lib.text(), /createChart/);
  const etag = (await fetch(`${ctx.url}/app.js`)).headers.get('etag')!;
  assert.is((await fetch(`${ctx.url}/app.js`, { headers: { 'if-none-match': etag } })).status, 304, 'unchanged asset → 304');
  const head = await fetch(`${ctx.url}/`, { method: 'HEAD' });
  assert.is(head.status, 200);
  assert.is((await head.text()).length, 0);
  for (const p of ['/../package.json', '/%2e%2e/package.json', '/src/main.ts', '/node_modules/lightweight-charts/package.json', '/public/index.html']) {
    const r = await fetch(`${ctx.url}${p}`);
    assert.is(r.status, 404, `${p} → 404`);
    assert.is(((await r.json()) as { error: { code: string } }).error.code, 'E_NOT_FOUND');
  }
  const cfg = await json('/api/config');
  assert.equal(cfg.body, { wsUrl: '/ws' }, 'the page streams from its own origin');
});

t('API: a bearer token is required when DASHBOARD_TOKEN is set; the dashboard is read-only', async () => {
  const none = await fetch(`${ctx.url}/api/models`);
  assert.is(none.status, 401);
  assert.is(((await none.json()) as { error: { code: string } }).error.code, 'E_UNAUTHORIZED');
  const wrong = await fetch(`${ctx.url}/api/models`, { headers: { authorization: 'Bearer wrong-token-0123456789abcdef' } });
  assert.is(wrong.status, 401);
  const post = await api('/api/models', { method: 'POST', body: '{}' });
  assert.is(post.status, 405);
  assert.is(((await post.json()) as { error: { code: string } }).error.code, 'E_METHOD_NOT_ALLOWED');
  const missing = await json('/api/nothing');
  assert.is(missing.status, 404);
  assert.is(missing.body.error.code, 'E_NOT_FOUND');
});

t('API: bars, predictions and symbols come back newest-capped, oldest first, for the right symbol and interval', async () => {
  const bars = await json('/api/bars?symbol=MSFT&limit=50');
  assert.is(bars.status, 200);
  assert.is(bars.body.bars.length, 50);
  assert.equal(Object.keys(bars.body.bars[0]).sort(), ['close', 'high', 'low', 'open', 'ts', 'volume']);
  assert.equal(bars.body.bars.map((b: { ts: string }) => b.ts), ctx.msftBars.slice(-50).map((b) => b.ts), 'the newest 50 daily bars, ascending');
  assert.is(bars.body.bars.at(-1).close, ctx.msftBars.at(-1)!.close);
  const all = await json('/api/bars?symbol=MSFT&limit=5000');
  assert.is(all.body.bars.length, BARS, 'only the 1d interval by default');
  const weekly = await json('/api/bars?symbol=MSFT&interval=1wk');
  assert.is(weekly.body.bars.length, 1);
  const preds = await json('/api/predictions?symbol=MSFT&limit=10');
  assert.is(preds.body.predictions.length, 10);
  const asOf = preds.body.predictions.map((p: { asOf: string }) => p.asOf);
  assert.equal(asOf, [...asOf].sort());
  assert.is(asOf.at(-1), ctx.msftBars.at(-2)!.ts);
  assert.is((await json('/api/predictions?symbol=AAPL')).body.predictions.length, 0);
  const symbols = await json('/api/symbols');
  assert.equal(symbols.body.symbols.map((s: { symbol: string }) => s.symbol), ['AAPL', 'MSFT']);
  assert.is(symbols.body.symbols[1].lastClose, ctx.msftBars.at(-1)!.close);
  assert.is(symbols.body.symbols[1].prediction.model.version, 2);
});

t('API: invalid input → 400 with code E_BAD_REQUEST, naming the parameter', async () => {
  const cases: Array<[string, RegExp]> = [
    ['/api/bars', /symbol/],
    ['/api/bars?symbol=msft', /symbol/],
    ['/api/bars?symbol=MSFT%20OR%201', /symbol/],
    ['/api/bars?symbol[$ne]=x', /symbol|\$ne/],
    ['/api/bars?symbol=MSFT&symbol=AAPL', /symbol/],
    ['/api/bars?symbol=MSFT&limit=0', /limit/],
    ['/api/bars?symbol=MSFT&limit=abc', /limit/],
    ['/api/bars?symbol=MSFT&limit=100000', /limit/],
    ['/api/bars?symbol=MSFT&interval=2d', /interval/],
    ['/api/predictions?symbol=', /symbol/],
    ['/api/news?symbol=$where', /symbol/],
    ['/api/models?limit=-1', /limit/],
    ['/api/monitoring?foo=1', /foo/],
    ['/api/config?x=1', /x/],
  ];
  for (const [p, re] of cases) {
    const r = await json(p);
    assert.is(r.status, 400, `${p} → 400`);
    assert.is(r.body.error.code, 'E_BAD_REQUEST', p);
    assert.match(r.body.error.message, re, `${p}: ${r.body.error.message}`);
  }
});

t('API: registry without heavy fields, news newest first with the newest sentiment, monitoring empty until written', async () => {
  const models = await json('/api/models');
  assert.equal(models.body.versions.map((v: { name: string; version: number }) => `${v.name}@${v.version}`), ['sentiment@1', 'price@2', 'price@1']);
  assert.ok(models.body.versions.every((v: Record<string, unknown>) => !('reference' in v) && !('normalization' in v) && !('_id' in v)), 'heavy and internal fields left out');
  assert.equal(models.body.aliases.map((a: { alias: string; version: number }) => `${a.alias}:${a.version}`), ['production:2']);
  const news = await json('/api/news?limit=2');
  assert.equal(news.body.news.map((n: { id: string }) => n.id), ['article-0002', 'article-0001']);
  assert.is(news.body.news[1].sentiment.label, 'positive', 'sentiment of the newest model version');
  assert.is(news.body.news[1].sentiment.model.version, 2);
  assert.is(news.body.news[0].sentiment, null);
  assert.ok(news.body.news[0].summary.length <= 280, 'summaries are shortened');
  const msftNews = await json('/api/news?symbol=MSFT');
  assert.equal(msftNews.body.news.map((n: { id: string }) => n.id), ['article-0001', 'article-0003']);
  const mon = await json('/api/monitoring');
  assert.equal(mon.body, { reports: [], alerts: [] });
});

t('page: renders chart, registry, news (escaped) and stream status; the token leaves the address bar', async () => {
  ctx.browser = await launchBrowser();
  const { page } = ctx.browser;
  await page.goto(`${ctx.url}/#token=${TOKEN}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  assert.not.match(page.url(), /token/, 'token removed from the URL');
  assert.is(await page.locator('#notice').isHidden(), true, `no API error notice (${await page.textContent('#notice')})`);
  await page.waitForSelector('#conn-status[data-state="open"]', { timeout: 10_000 });
  assert.ok(ctx.stream!.received.some((m) => JSON.stringify(m) === JSON.stringify({ op: 'subscribe', symbols: ['*'], id: 'dashboard' })), 'subscribed to every symbol');
  assert.match((await page.textContent('#footer-ws'))!, new RegExp(`stream ws://127\\.0\\.0\\.1:${new URL(ctx.url).port}/ws\\?token=\\*\\*\\*`), 'through the dashboard\'s own origin');
  assert.is(await page.textContent('#chart-symbol'), 'AAPL', 'first symbol selected');
  // The AAPL snapshot frame shows up in the symbol list.
  await page.waitForFunction(() => document.querySelector('[data-symbol="AAPL"] .chg')?.textContent?.includes('+1.23%'), undefined, { timeout: 5_000 });
  await page.click('[data-symbol="MSFT"]');
  await page.waitForFunction(() => document.querySelector('#chart-symbol')?.textContent === 'MSFT' && /259 predictions/.test(document.querySelector('#chart-sub')?.textContent ?? ''), undefined, { timeout: 10_000 });
  assert.match(page.url(), /#symbol=MSFT/);
  assert.match((await page.textContent('#chart-sub'))!, new RegExp(`${BARS} bars to ${ctx.msftBars.at(-1)!.ts.slice(0, 10)}`));
  // Every seeded prediction is older than the last bar: none predicts the bar after it.
  assert.is((await page.textContent('#fig-pred'))!.trim(), '—', 'no predicted close for a bar other than the next one');
  assert.match((await page.getAttribute('#fig-pred', 'title'))!, /no prediction made as of the last bar/);
  assert.is(await page.getAttribute('#fig-close', 'data-ts'), ctx.msftBars.at(-1)!.ts);
  // Direction hit rate of the seeded predictions against the seeded bars, computed here too.
  let hits = 0;
  let calls = 0;
  ctx.msftBars.slice(0, -1).forEach((b, i) => {
    const predicted = Math.sign(i % 3 === 0 ? -1 : 1);
    const realised = Math.sign(ctx.msftBars[i + 1]!.close - b.close);
    if (realised !== 0) {
      calls++;
      if (predicted === realised) hits++;
    }
  });
  assert.is(await page.textContent('#fig-hit'), `${((hits / calls) * 100).toFixed(1)}%`);
  await page.waitForTimeout(300);
  const up = await countCanvasPixels(page, '#chart', [0x22, 0xc5, 0x5e]);
  const predicted = await countCanvasPixels(page, '#chart', [0xf5, 0xa5, 0x24]);
  assert.ok(up > 300, `candles drawn (${up} green pixels)`);
  assert.ok(predicted > 100, `prediction line drawn (${predicted} amber pixels)`);
  // Registry.
  assert.is(await page.locator('#models li[data-model="price"][data-status="production"]').getAttribute('data-version'), '2');
  assert.match((await page.textContent('#serving-model'))!, /price v2/);
  assert.is((await page.textContent('#models li[data-model="price"][data-version="1"] .badge.baseline'))!.trim(), 'baseline: zero-return', 'the baseline version is marked');
  assert.is(await page.locator('#models li[data-model="price"][data-version="2"] .badge.baseline').count(), 0, 'a trained version is not');
  // News: untrusted text stays text.
  const newsText = (await page.textContent('#news-list'))!;
  assert.match(newsText, /<img src=x onerror="window.__xss=1">Apple & suppliers <b>ramp<\/b> production/);
  assert.is(await page.locator('#news-list img, #news-list b:not(.badge b)').count(), 0, 'no markup injected');
  assert.is(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
  assert.match((await page.textContent('[data-article-id="article-0001"] .badge'))!, /positive/);
  // Monitoring: empty state until the monitor writes something.
  assert.is(await page.getAttribute('#monitoring-state', 'data-state'), 'none');
  assert.match((await page.textContent('#monitoring'))!, /No monitoring reports yet/);
  assert.equal(ctx.browser.pageErrors, []);
  assert.equal(ctx.browser.consoleErrors, []);
});

t('page: live prediction frames update the counter, the feed, the figures and the chart', async () => {
  const { page } = ctx.browser!;
  const last = ctx.msftBars.at(-1)!;
  const before = await countCanvasPixels(page, '#chart', [0x38, 0xbd, 0xf8]);
  const frames = [0.011, -0.002, 0.021].map((r, i) => prediction('MSFT', last.ts, last.close, r, 2 + (i === 2 ? 1 : 0)));
  frames.unshift(prediction('AAPL', '2017-09-01T00:00:00.000Z', 164.05, -0.01));
  for (const f of frames) ctx.stream!.broadcast({ type: 'prediction', data: f });
  await page.waitForFunction(() => document.querySelector('#live-count')?.textContent === '4', undefined, { timeout: 5_000 });
  const lastFrame = frames.at(-1)!;
  assert.is(await page.getAttribute('#last-prediction', 'data-as-of'), lastFrame.asOf);
  assert.is(Number(await page.getAttribute('#last-prediction', 'data-price')), lastFrame.predictedPrice);
  assert.match((await page.textContent('#serving-model'))!, /price v3/, 'a new model version seen on the stream');
  assert.is(await page.locator('#feed-rows tr').count(), 4);
  assert.is(await page.getAttribute('#feed-rows tr:first-child', 'data-symbol'), 'MSFT');
  assert.match((await page.textContent('#fig-pred'))!, new RegExp(lastFrame.predictedPrice.toFixed(2).replace('.', '\\.')));
  assert.match((await page.textContent('#fig-pred'))!, /\+2\.10%/);
  assert.is(await page.getAttribute('#fig-pred', 'data-as-of'), last.ts, 'the predicted close is the one made as of the last bar shown');
  assert.is(await page.getAttribute('#fig-pred', 'data-symbol'), 'MSFT');
  // A newer prediction of another symbol leaves the figure alone.
  ctx.stream!.broadcast({ type: 'prediction', data: prediction('AAPL', '2017-12-01T00:00:00.000Z', 21, 0.0024) });
  await page.waitForFunction(() => document.querySelector('#live-count')?.textContent === '5', undefined, { timeout: 5_000 });
  assert.is(await page.getAttribute('#fig-pred', 'data-as-of'), last.ts);
  assert.match((await page.textContent('#fig-pred'))!, /\+2\.10%/);
  await page.waitForTimeout(300);
  const after = await countCanvasPixels(page, '#chart', [0x38, 0xbd, 0xf8]);
  assert.ok(after > before + 10, `live marker drawn (${before} → ${after} sky-blue pixels)`);
  assert.is(await page.locator('#feed-rows .badge.synthetic, #last-prediction .badge.synthetic, #fig-pred .badge.synthetic').count(), 0, 'market predictions carry no synthetic badge');
});

t('page: a synthetic prediction frame shows a "synthetic" badge in the live table and the last prediction', async () => {
  const { page } = ctx.browser!;
  const frame = { ...prediction('AAPL', '2017-12-04T00:00:00.000Z', 21, 0.001), synthetic: true };
  ctx.stream!.broadcast({ type: 'prediction', data: frame });
  await page.waitForFunction(() => document.querySelector('#live-count')?.textContent === '6', undefined, { timeout: 5_000 });
  assert.is(await page.getAttribute('#feed-rows tr:first-child', 'data-synthetic'), 'true');
  assert.is((await page.textContent('#feed-rows tr:first-child .badge.synthetic'))!.trim(), 'synthetic');
  assert.is(await page.locator('#feed-rows .badge.synthetic').count(), 1, 'only the synthetic row');
  assert.is(await page.getAttribute('#last-prediction', 'data-synthetic'), 'true');
  assert.is(await page.locator('#last-prediction .badge.synthetic').count(), 1);
  // The next market frame is not labelled, and the last-prediction label goes away.
  ctx.stream!.broadcast({ type: 'prediction', data: prediction('AAPL', '2017-12-05T00:00:00.000Z', 21, 0.002) });
  await page.waitForFunction(() => document.querySelector('#live-count')?.textContent === '7', undefined, { timeout: 5_000 });
  assert.is(await page.getAttribute('#last-prediction', 'data-synthetic'), null);
  assert.is(await page.locator('#feed-rows tr:first-child .badge.synthetic').count(), 0);
});

t('monitoring: the latest report per task is assembled from the monitor\'s rows; alerts newest first; the page shows drift', async () => {
  const { page } = ctx.browser!;
  const db = ctx.mongo!.db(ctx.stack!.db);
  // Documents in the monitor's form (services/monitor/src/store.ts): one per row of a report.
  const base = (id: string, ms: number) => ({ reportId: id, task: 'price', evaluatedAtMs: ms });
  const t0 = Date.parse('2026-01-05T00:00:00.000Z');
  await db.collection('monitoring_reports').insertMany([
    { _id: 'r1|summary', ...base('r1', t0 - 60_000), row: 'summary', evaluatedAt: '2026-01-04T23:59:00.000Z', modelName: 'price', modelVersion: 2, action: 'none', fd_drifted: 0, fd_evaluated: 3 },
    { _id: 'r2|summary', ...base('r2', t0), row: 'summary', evaluatedAt: '2026-01-05T00:00:00.000Z', modelName: 'price', modelVersion: 2, trainedThrough: '2017-06-30', referenceProblem: '', action: 'retrain_requested', incidentId: 'inc-1', pendingPredictions: 4, breachKinds: ['feature_drift'], fd_n: 120, fd_evaluated: 3, fd_drifted: 1, fd_driftedShare: 0.33, fd_psiMax: 0.31, fd_psiMaxFeature: 'rsi_14', pd_psi: 0.05, pd_n: 120 },
    { _id: 'r2|breach|0', ...base('r2', t0), row: 'breach', kind: 'feature_drift', reason: 'feature drift: 1/3 features with PSI > 0.2 (max 0.31 rsi_14)', evidenceNames: ['featurePsiMax', 'featuresDrifted'], evidenceValues: [0.31, 1] },
    { _id: 'r2|performance|serving', ...base('r2', t0), row: 'performance', scope: 'serving', modelName: 'price', modelVersion: 2, symbol: '', n: 57, mae: 0.93, rmse: 1.2, directionalAccuracy: 0.526 },
    { _id: 'r2|feature|sma_ratio', ...base('r2', t0), row: 'feature', name: 'sma_ratio', psi: 0.12, ksStatistic: 0.2, drifted: false },
    { _id: 'r2|feature|rsi_14', ...base('r2', t0), row: 'feature', name: 'rsi_14', psi: 0.31, ksStatistic: 0.4, drifted: true },
    { _id: 'r2|feature|volume_z', ...base('r2', t0), row: 'feature', name: 'volume_z', psi: 0.02, ksStatistic: 0.05, drifted: false },
  ] as never[]);
  await db.collection('alerts').insertMany([
    { _id: 'inc-0', incidentId: 'inc-0', task: 'price', kind: 'retrain_requested', modelName: 'price', modelVersion: 1, reason: 'older incident', breaches: ['performance'], evidenceNames: [], evidenceValues: [], openedAt: '2026-01-01T00:00:00.000Z', openedAtMs: t0 - 4 * 86_400_000, status: 'closed', closedAt: '2026-01-02T00:00:00.000Z', closeReason: 'serving version changed', occurrences: 1, lastSeenAt: '2026-01-01T00:00:00.000Z' },
    { _id: 'inc-1', incidentId: 'inc-1', task: 'price', kind: 'retrain_requested', modelName: 'price', modelVersion: 2, reason: 'feature drift on rsi_14', breaches: ['feature_drift'], evidenceNames: ['featurePsiMax'], evidenceValues: [0.31], openedAt: '2026-01-05T00:00:00.000Z', openedAtMs: t0, status: 'open', occurrences: 3, lastSeenAt: '2026-01-05T00:00:00.000Z' },
  ] as never[]);
  const mon = await json('/api/monitoring');
  assert.is(mon.body.reports.length, 1, 'one report per task');
  const r = mon.body.reports[0];
  assert.is(r.reportId, 'r2', 'the latest report');
  assert.equal(r.model, { name: 'price', version: 2 });
  assert.is(r.featureDrift.psiMaxFeature, 'rsi_14');
  assert.is(r.predictionDrift.psi, 0.05);
  assert.equal(r.features.map((f: { name: string }) => f.name), ['rsi_14', 'sma_ratio', 'volume_z'], 'largest PSI first');
  assert.equal(r.breaches, [{ kind: 'feature_drift', reason: 'feature drift: 1/3 features with PSI > 0.2 (max 0.31 rsi_14)', evidence: { featurePsiMax: 0.31, featuresDrifted: 1 } }]);
  assert.is(r.performance.n, 57);
  assert.equal(mon.body.alerts.map((a: { id: string; status: string }) => `${a.id}:${a.status}`), ['inc-1:open', 'inc-0:closed']);
  assert.equal(mon.body.alerts[0].evidence, { featurePsiMax: 0.31 });
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  assert.is(await page.getAttribute('#monitoring-state', 'data-state'), 'alert');
  const text = (await page.textContent('#monitoring'))!;
  assert.match(text, /retrain requested/);
  assert.match(text, /rsi_14/);
  assert.match(text, /1\/3 features/);
  assert.match(text, /feature drift on rsi_14/);
  assert.is(await page.locator('#monitoring .bar i.down').count(), 1, 'one feature past the 0.25 PSI line');
  assert.is(await page.locator('#monitoring .alerts li.open').count(), 1);
  await page.screenshot({ path: path.join(ROOT, 'artifacts/screenshots/dashboard-seeded.png'), fullPage: true });
});

t('page: shows the outage and reconnects with backoff when the stream comes back', async () => {
  const { page, consoleErrors, pageErrors } = ctx.browser!;
  await page.waitForSelector('#conn-status[data-state="open"]', { timeout: 10_000 });
  const errorsBefore = consoleErrors.length;
  await ctx.stream!.close();
  // State and countdown read together in the page: the first retry comes 250-500 ms later and
  // sets the state back to connecting, so a second round trip from here may miss it under load.
  await page.waitForFunction(() => {
    const el = document.querySelector('#conn-status');
    return el?.getAttribute('data-state') === 'reconnecting' && /reconnecting in \d+s/.test(el.textContent ?? '');
  }, undefined, { timeout: 5_000 });
  await page.waitForTimeout(2_000);
  ctx.stream = await FakeStream.listen(ctx.wsPort);
  await page.waitForSelector('#conn-status[data-state="open"]', { timeout: 15_000 });
  ctx.stream.broadcast({ type: 'prediction', data: prediction('AAPL', '2017-09-01T00:00:00.000Z', 164.05, 0.03) });
  await page.waitForFunction(() => document.querySelector('#live-count')?.textContent === '1', undefined, { timeout: 5_000 });
  assert.equal(pageErrors, []);
  assert.ok(consoleErrors.slice(errorsBefore).every((e) => /WebSocket connection/.test(e)), `only connection errors during the outage: ${consoleErrors.join(' | ')}`);
});

t('ops port exposes request metrics', async () => {
  const m = await (await fetch(`http://127.0.0.1:${ctx.opsPort}/metrics`)).text();
  assert.match(m, /stockmlops_dashboard_request_seconds_count\{[^}]*route="\/api\/bars"[^}]*status="200"/);
  assert.match(m, /stockmlops_dashboard_request_seconds_count\{[^}]*route="\/api\/bars"[^}]*status="400"/);
});

t('API: bars and predictions produced to the topics after start are served, without a query per request', async () => {
  const topics = resolveTopics(ctx.stack!.prefix);
  const ts = '2017-12-29T00:00:00.000Z';
  const bar = { symbol: 'MSFT', interval: '1d' as const, ts, open: 85.6, high: 85.9, low: 85.1, close: 85.54, volume: 18_700_000, adjFactor: 1, zeroVolume: false, outlier: false };
  const p = { ...prediction('MSFT', ts, 85.54, 0.001), interval: '1d' as const };
  const producer = kafkaClient('dashboard-seeded').producer();
  await producer.connect();
  try {
    await producer.send({ topic: topics.cleanPrices, messages: [encode('cleanPrices', makeEnvelope('cleanPrices', { data: bar, source: 'dashboard-seeded', idParts: ['MSFT', '1d', ts] }))] });
    await producer.send({ topic: topics.pricePredictions, messages: [encode('pricePredictions', makeEnvelope('pricePredictions', { data: p, source: 'dashboard-seeded', idParts: ['MSFT', ts] }))] });
  } finally {
    await producer.disconnect();
  }
  const bars = await waitFor('the produced bar in /api/bars', async () => {
    const r = await json('/api/bars?symbol=MSFT&limit=3');
    return r.body.bars.at(-1)?.ts === ts ? r.body.bars : undefined;
  }, 20_000);
  assert.equal(bars.map((b: { ts: string }) => b.ts), [...ctx.msftBars.slice(-2).map((b) => b.ts), ts], 'stored history and the stream, in order');
  assert.equal(bars.at(-1), { ts, open: 85.6, high: 85.9, low: 85.1, close: 85.54, volume: 18_700_000 });
  const preds = await waitFor('the produced prediction in /api/predictions', async () => {
    const r = await json('/api/predictions?symbol=MSFT&limit=2');
    return r.body.predictions.at(-1)?.asOf === ts ? r.body.predictions : undefined;
  }, 20_000);
  assert.is(preds.at(-1).predictedPrice, p.predictedPrice);
  const symbols = await json('/api/symbols');
  const msft = symbols.body.symbols.find((s: { symbol: string }) => s.symbol === 'MSFT');
  assert.equal([msft.barTs, msft.lastClose, msft.prediction.asOf], [ts, 85.54, ts], 'the symbol list follows the stream too');
});

t('synthetic bars and predictions from the topics: the API keeps the mark, the chart shows the badge, violet candles and the badged next close', async () => {
  const topics = resolveTopics(ctx.stack!.prefix);
  const ts = '2018-01-02T00:00:00.000Z';
  const bar = { symbol: 'MSFT', interval: '1d' as const, ts, open: 86.1, high: 86.3, low: 85.5, close: 85.95, volume: 17_000_000, adjFactor: 1, zeroVolume: false, outlier: false, synthetic: true };
  const p = { ...prediction('MSFT', ts, 85.95, 0.004), interval: '1d' as const, synthetic: true as const };
  const producer = kafkaClient('dashboard-seeded-synthetic').producer();
  await producer.connect();
  try {
    await producer.send({ topic: topics.cleanPrices, messages: [encode('cleanPrices', makeEnvelope('cleanPrices', { data: bar, source: 'synthetic', idParts: ['MSFT', '1d', ts] }))] });
    await producer.send({ topic: topics.pricePredictions, messages: [encode('pricePredictions', makeEnvelope('pricePredictions', { data: p, source: 'predictor', idParts: ['MSFT', ts] }))] });
  } finally {
    await producer.disconnect();
  }
  const bars = await waitFor('the synthetic bar in /api/bars', async () => {
    const r = await json('/api/bars?symbol=MSFT&limit=2');
    return r.body.bars.at(-1)?.ts === ts ? r.body.bars : undefined;
  }, 20_000);
  assert.equal(bars.at(-1), { ts, open: 86.1, high: 86.3, low: 85.5, close: 85.95, volume: 17_000_000, synthetic: true });
  assert.ok(!('synthetic' in bars[0]), 'the market bar before it has no field');
  const preds = await waitFor('the synthetic prediction in /api/predictions', async () => {
    const r = await json('/api/predictions?symbol=MSFT&limit=1');
    return r.body.predictions.at(-1)?.asOf === ts ? r.body.predictions : undefined;
  }, 20_000);
  assert.is(preds.at(-1).synthetic, true);
  const { page } = ctx.browser!;
  await page.goto(`${ctx.url}/#symbol=MSFT`);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  await page.waitForFunction(() => document.querySelector('#chart-symbol')?.textContent === 'MSFT' && !document.querySelector('#chart-synthetic')?.hasAttribute('hidden'), undefined, { timeout: 10_000 });
  assert.is(await page.locator('#chart-synthetic').isVisible(), true, 'the chart is labelled synthetic');
  assert.match((await page.getAttribute('#chart-synthetic', 'title'))!, /bars from 2018-01-02.* are generated/);
  assert.is(await page.getAttribute('#fig-pred', 'data-synthetic'), 'true', 'the next close is predicted from a synthetic bar');
  assert.is(await page.locator('#fig-pred .badge.synthetic').count(), 1);
  await page.waitForTimeout(300);
  const violet = await countCanvasPixels(page, '#chart', [0xa7, 0x8b, 0xfa]);
  assert.ok(violet > 20, `the synthetic candle and marker drawn in violet (${violet} pixels)`);
  await page.click('[data-symbol="AAPL"]');
  await page.waitForFunction(() => document.querySelector('#fig-close')?.getAttribute('data-symbol') === 'AAPL', undefined, { timeout: 10_000 });
  assert.is(await page.locator('#chart-synthetic').isHidden(), true, 'no badge over market bars only');
});

t.after(async () => {
  await ctx.browser?.close();
  await ctx.stream?.close();
  await ctx.stack?.stop();
  if (ctx.mongo && ctx.stack) await ctx.mongo.db(ctx.stack.db).dropDatabase().catch(() => undefined);
  await ctx.mongo?.close();
});

t.run();
