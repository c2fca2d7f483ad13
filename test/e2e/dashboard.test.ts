/**
 * End to end in headless Chromium: the real services (extractor, transformer, loader, trainer,
 * predictor, dashboard) on the real broker and database. The page loads before any prediction
 * exists, then shows the first predictions arriving over the predictor's WebSocket, a bar
 * produced after the page opened (and its prediction) on the chart, the registry, news, and a
 * predictor restart as an outage it recovers from. Saves docs/screenshots/dashboard.png.
 */
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import type { MongoClient } from 'mongodb';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encode, makeEnvelope, resolveTopics } from '@stock-mlops/contracts';
import { suite } from '../harness/index.ts';
import { countCanvasPixels, launchBrowser, requireChromium, startDashboard, type TestBrowser } from '../support/browser.ts';
import { freePort, kafkaClient, mongoClient, waitFor, withStack, type RunningStack } from '../support/stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** The same bound as the walking skeleton: first predictions within 4 minutes on 2 cores. */
const FIRST_PREDICTION_MS = 240_000;
const NEW_BAR_TS = '2017-09-05T00:00:00.000Z';

const ctx: { browser?: TestBrowser } = {};
const t = suite('e2e: dashboard over the running system, in headless Chromium', { timeoutMs: 330_000 });

/** Real headlines from the bundled Yahoo search fixture (data/fixtures, MIT). */
function fixtureNews() {
  const doc = JSON.parse(readFileSync(path.join(ROOT, 'data/fixtures/yahoo_v1_search_AAPL_quotes_and_news.json'), 'utf8')) as {
    news: Array<{ uuid: string; title: string; publisher: string; link: string; providerPublishTime: number; relatedTickers: string[] | null }>;
  };
  return doc.news
    .filter((n) => n.relatedTickers?.length)
    .map((n) => ({ id: n.uuid, url: n.link, title: n.title, source: n.publisher, publishedAt: new Date(n.providerPublishTime * 1000).toISOString(), summary: '', tickers: n.relatedTickers!, language: 'en' }));
}

t('the page shows live predictions, new bars, the registry and news, and survives a predictor restart', async () => {
  requireChromium();
  const dir = mkdtempSync(path.join(tmpdir(), 'stock-mlops-dashboard-'));
  copyFileSync(path.join(ROOT, 'data/prices/MSFT.csv'), path.join(dir, 'MSFT.csv'));
  const csvRows = readFileSync(path.join(dir, 'MSFT.csv'), 'utf8').trim().split('\n').length - 1;
  const wsPort = await freePort();
  const started = Date.now();
  const mongo = await mongoClient();
  try {
    await withStack({
      services: ['extractor', 'transformer', 'loader', 'trainer', 'predictor'],
      env: { EXTRACT_REPLAY_PATH: dir, EXTRACT_POLL_MS: '500' },
      perService: {
        predictor: { GRPC_PORT: String(await freePort()), WS_PORT: String(wsPort), MODEL_POLL_MS: '2000' },
        // Fast training: this test is about what the page shows, not about model quality.
        trainer: {
          TRAIN_MIN_FEATURE_ROWS: '500',
          TRAIN_SETTLE_MS: '3000',
          TRAIN_OVERRIDES: 'model.epochs=4,model.arch=mlp,gate.baselineMargin=-1,gate.minIcT=0',
          TRAIN_SENTIMENT_CONFIG: path.join(ROOT, 'config/training/sentiment-smoke.json'),
        },
      },
      onFailure: (failed) => reportState(failed, mongo),
    }, async (stack, defer) => {
      const topics = resolveTopics(stack.prefix);
      const [dash, browser] = await Promise.all([startDashboard(stack, { PREDICTOR_WS_URL: `ws://127.0.0.1:${wsPort}/ws` }), launchBrowser()]);
      ctx.browser = browser;
      defer(() => browser.close());
      const { page } = browser;

      // The page works before anything is predicted.
      await page.goto(dash.url);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
      assert.is(await page.title(), 'stock-mlops · live dashboard');
      assert.is(await page.textContent('#live-count'), '0');
      assert.is(await page.getAttribute('#monitoring-state', 'data-state'), 'none', 'no monitor in this stack: empty state');

      await page.waitForSelector('#conn-status[data-state="open"]', { timeout: 120_000 });
      await page.waitForFunction(() => Number(document.querySelector('#live-count')?.textContent?.replace(/,/g, '')) > 0, undefined, {
        timeout: FIRST_PREDICTION_MS - (Date.now() - started),
        polling: 250,
      });
      console.log(`  first live prediction on the page after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      await page.waitForFunction(() => document.querySelector('#chart-symbol')?.textContent === 'MSFT', undefined, { timeout: 30_000 });
      await page.waitForFunction((n) => new RegExp(`^${n.toLocaleString('en-US')} bars`).test(document.querySelector('#chart-sub')?.textContent ?? ''), csvRows > 1500 ? 1500 : csvRows, { timeout: 60_000 });

      // A bar produced after the page opened: its prediction arrives live and lands on the chart.
      const producer = kafkaClient('dashboard-e2e').producer();
      await producer.connect();
      const bar = makeEnvelope('rawPrices', {
        data: { symbol: 'MSFT', interval: '1d', ts: NEW_BAR_TS, open: 73.34, high: 73.89, low: 72.98, close: 73.61, volume: 21_000_000 },
        source: 'dashboard-e2e',
        idParts: ['MSFT', '1d', NEW_BAR_TS],
      });
      const news = fixtureNews();
      await producer.send({ topic: topics.rawPrices, messages: [encode('rawPrices', bar)] });
      await producer.send({
        topic: topics.rawNews,
        messages: news.map((n) => encode('rawNews', makeEnvelope('rawNews', { data: n, source: 'dashboard-e2e', idParts: [n.id] }))),
      });
      await producer.disconnect();
      await page.waitForSelector(`#last-prediction[data-as-of="${NEW_BAR_TS}"]`, { timeout: 60_000 });
      const shownPrice = Number(await page.getAttribute('#last-prediction', 'data-price'));
      const stored = await waitFor(
        'the new bar\'s prediction in MongoDB',
        async () => (await mongo.db(stack.db).collection('price_predictions').findOne({ symbol: 'MSFT', asOf: NEW_BAR_TS })) ?? undefined,
        30_000,
        500,
      );
      assert.is(shownPrice, stored.predictedPrice, 'the page shows the prediction the system stored');
      assert.match((await page.textContent('#feed-rows tr:first-child'))!, /MSFT\s*2017-09-05/);
      await page.waitForFunction(() => /bars to 2017-09-05/.test(document.querySelector('#chart-sub')?.textContent ?? ''), undefined, { timeout: 45_000 });

      // Registry as stored.
      const production = await mongo.db(stack.db).collection('model_aliases').findOne({ name: 'price', alias: 'production' });
      assert.ok(production, 'a production price model');
      assert.is(await page.locator('#models li[data-model="price"][data-status="production"]').getAttribute('data-version'), String(production.version));
      // News through transformer and loader, shown by the page's periodic refresh.
      await page.waitForFunction((title) => document.querySelector('#news-list')?.textContent?.includes(title), news[0]!.title, { timeout: 45_000 });

      // The chart is drawn: candles of both colours, the prediction line and the live marker.
      const pixels = {
        up: await countCanvasPixels(page, '#chart', [0x22, 0xc5, 0x5e]),
        down: await countCanvasPixels(page, '#chart', [0xf4, 0x3f, 0x5e]),
        predicted: await countCanvasPixels(page, '#chart', [0xf5, 0xa5, 0x24]),
        live: await countCanvasPixels(page, '#chart', [0x38, 0xbd, 0xf8]),
      };
      assert.ok(pixels.up > 300 && pixels.down > 300 && pixels.predicted > 100 && pixels.live > 10, `chart drawn: ${JSON.stringify(pixels)}`);
      assert.equal(browser.pageErrors, []);
      // Chromium logs refused connections while the predictor was still starting; nothing else may appear.
      assert.equal(browser.consoleErrors.filter((e) => !/WebSocket connection to .* failed/.test(e)), []);

      mkdirSync(path.join(ROOT, 'docs/screenshots'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'docs/screenshots/dashboard.png'), fullPage: true });
      if (process.env.CI) {
        mkdirSync(path.join(ROOT, 'artifacts/screenshots'), { recursive: true });
        copyFileSync(path.join(ROOT, 'docs/screenshots/dashboard.png'), path.join(ROOT, 'artifacts/screenshots/dashboard.png'));
      }

      // Predictor crash: the page shows the outage and reconnects to the restarted process.
      const before = Number((await page.textContent('#live-count'))!.replace(/,/g, ''));
      stack.sup.kill('predictor');
      await page.waitForSelector('#conn-status[data-state="reconnecting"]', { timeout: 30_000 });
      await page.waitForSelector('#conn-status[data-state="open"]', { timeout: 120_000 });
      assert.is(Number((await page.textContent('#live-count'))!.replace(/,/g, '')), before, 'the count survives the reconnect');
      assert.equal(browser.pageErrors, []);
      console.log(`  total ${((Date.now() - started) / 1000).toFixed(1)} s`);
    });
  } finally {
    await mongo.close();
  }
});

/** Where the pipeline and the page stood when the test failed. */
async function reportState(stack: RunningStack, mongo: MongoClient): Promise<void> {
  const db = mongo.db(stack.db);
  const counts: Record<string, number> = {};
  for (const c of ['bars', 'features', 'price_predictions', 'model_versions', 'news']) counts[c] = await db.collection(c).estimatedDocumentCount({ maxTimeMS: 5_000 }).catch(() => -1);
  const page = ctx.browser?.page;
  const shown = page
    ? { status: await page.getAttribute('#conn-status', 'data-state'), liveCount: await page.textContent('#live-count'), chart: await page.textContent('#chart-sub'), notice: await page.textContent('#notice') }
    : {};
  console.error(`state at failure: ${JSON.stringify({ db: stack.db, counts, page: shown, consoleErrors: ctx.browser?.consoleErrors.slice(-5) })}`);
}

t.run();
