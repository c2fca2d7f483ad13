/**
 * Browser checks of a running dashboard against the predictor's stream it shows, reusable on
 * any deployment (`npm start`, a test stack): given the dashboard URL and the predictor's
 * WebSocket URL, it opens the page in headless Chromium and a WebSocket client side by side and
 * checks that
 * - the page's "Predictions received" counter grows in step with the prediction frames the
 *   client receives over the same period (within the frames that arrive around the two sample
 *   instants, since the page applies frames in 250 ms batches),
 * - the live table has rows, and its newest row is a prediction the client received,
 * - the "Next close (predicted)" figure belongs to the symbol and the last bar on the chart (the
 *   prediction made as of that bar, in its price scale: its lastClose is that bar's close) and is
 *   a prediction the stream or the API carries,
 * - the predicted line is drawn, and the page logged no errors.
 * Failures throw with what the page and the stream showed. Nothing here asserts on time.
 */
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { countCanvasPixels, launchBrowser, type TestBrowser } from './browser.ts';
import { waitFor } from './stack.ts';

export interface DashboardCheckOptions {
  /** e.g. http://127.0.0.1:8080/ */
  dashboardUrl: string;
  /** e.g. ws://127.0.0.1:8081/ws */
  wsUrl: string;
  /** DASHBOARD_TOKEN, when the dashboard requires one. */
  token?: string;
  /** PREDICTOR_WS_TOKEN / WS_TOKEN, when the stream requires one. */
  wsToken?: string;
  /** Prediction frames the client must see while both are connected (default 20). */
  minFrames?: number;
  /** Bound of each wait (default 120 s). */
  timeoutMs?: number;
  /** Save a screenshot of the page here. */
  screenshot?: string;
}

export interface DashboardCheckReport {
  /** Prediction frames over the compared period: the client's and the page counter's increase. */
  wsFrames: number;
  pageCount: number;
  feedRows: number;
  symbol: string;
  lastBar: { ts: string; close: number };
  predicted: { asOf: string; price: number; lastClose: number; version: number };
  predictedPixels: number;
  /** Wall time of one /api/bars call of the chart's size, for the record (not asserted). */
  barsApiMs: number;
}

interface Pred {
  symbol: string;
  asOf: string;
  predictedPrice: number;
  lastClose: number;
  model: { name: string; version: number };
}

const num = (s: string | null | undefined) => Number((s ?? '').replace(/,/g, ''));

export async function checkDashboard(opts: DashboardCheckOptions): Promise<DashboardCheckReport> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const minFrames = opts.minFrames ?? 20;
  const base = opts.dashboardUrl.replace(/\/+$/, '');
  const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  const api = async (p: string) => {
    const r = await fetch(`${base}${p}`, { headers });
    assert.is(r.status, 200, `GET ${p} → ${r.status}`);
    return (await r.json()) as any;
  };

  // The reference client: every prediction frame with its arrival time.
  const frames: Array<{ at: number; p: Pred }> = [];
  const wsUrl = new URL(opts.wsUrl);
  if (opts.wsToken) wsUrl.searchParams.set('token', opts.wsToken);
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
  const subscribed = new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', symbols: ['*'] })));
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as { type: string; data?: Pred };
      if (f.type === 'subscribed') resolve();
      if (f.type === 'prediction' && f.data) frames.push({ at: Date.now(), p: f.data });
    });
  });
  let browser: TestBrowser | undefined;
  try {
    await subscribed;
    browser = await launchBrowser();
    const { page } = browser;
    const pageCount = async () => num(await page.textContent('#live-count'));
    await page.goto(`${base}/${opts.token ? `#token=${opts.token}` : ''}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: timeoutMs });
    await page.waitForSelector('#conn-status[data-state="open"]', { timeout: timeoutMs });

    // 1. The counter follows the stream. Samples of (client frames, page counter) every 250 ms
    //    until the client saw `minFrames` more, and then until the page caught up.
    const first = { at: Date.now(), ws: frames.length, page: await pageCount() };
    await waitFor(`${minFrames} prediction frames on the stream (the client had ${frames.length})`, () => (frames.length - first.ws >= minFrames ? true : undefined), timeoutMs, 250);
    const slackAround = (t: number) => frames.filter((f) => Math.abs(f.at - t) <= 1_000).length;
    let last = { at: Date.now(), ws: frames.length, page: await pageCount() };
    // Frames in flight around the two samples may be counted by one side and not yet by the other,
    // but never more than a tenth of what was carried (at least 5), and the page must have moved:
    // a counter stuck at 0 during a burst of thousands once passed an unbounded slack.
    const inStep = () => {
      const carried = last.ws - first.ws;
      const slack = Math.min(slackAround(first.at) + slackAround(last.at) + 2, Math.max(5, Math.ceil(carried / 10)));
      return last.page > first.page && Math.abs(last.page - first.page - carried) <= slack;
    };
    await waitFor(
      'the page counter in step with the stream',
      async () => {
        last = { at: Date.now(), ws: frames.length, page: await pageCount() };
        return inStep() ? true : undefined;
      },
      15_000,
      250,
    ).catch(() => {
      throw new assert.Assertion({
        message: `"Predictions received" rose by ${last.page - first.page} while the stream carried ${last.ws - first.ws} prediction frames (page ${first.page} → ${last.page})`,
        generated: false,
        operator: 'inStep',
        expects: last.ws - first.ws,
        actual: last.page - first.page,
      });
    });

    // 2. The live table shows what the stream carries.
    const feedRows = await page.locator('#feed-rows tr').count();
    assert.ok(feedRows > 0, 'the live table has rows');
    assert.is(await page.locator('#feed-empty').isHidden(), true, '"Waiting for live predictions…" is gone');
    const lastShown = { symbol: await page.getAttribute('#last-prediction', 'data-symbol'), asOf: await page.getAttribute('#last-prediction', 'data-as-of') };
    assert.ok(
      frames.some((f) => f.p.symbol === lastShown.symbol && f.p.asOf === lastShown.asOf),
      `the last prediction shown (${lastShown.symbol} as of ${lastShown.asOf}) is one the stream carried`,
    );

    // 3. The predicted close belongs to the symbol and the last bar shown.
    const symbol = (await page.textContent('#chart-symbol'))!.trim();
    let shown = { barTs: '', close: NaN, symbol: '', asOf: '', price: NaN, lastClose: NaN, version: 0 };
    const readFigures = async () => {
      const f = await page.evaluate(() => ({ close: { ...document.getElementById('fig-close')!.dataset }, pred: { ...document.getElementById('fig-pred')!.dataset } }));
      shown = {
        barTs: f.close.ts ?? '',
        close: Number(f.close.close),
        symbol: f.pred.symbol ?? '',
        asOf: f.pred.asOf ?? '',
        price: Number(f.pred.price),
        lastClose: Number(f.pred.lastClose),
        version: Number(f.pred.version),
      };
      return shown.barTs && shown.asOf ? true : undefined;
    };
    await waitFor('a predicted close for the last bar on the chart', readFigures, timeoutMs, 500).catch(async () => {
      throw new Error(`no "Next close (predicted)" for ${symbol}'s last bar ${shown.barTs} (figure: ${await page.textContent('#fig-pred')}, title: ${await page.getAttribute('#fig-pred', 'title')})`);
    });
    assert.is(shown.symbol, symbol, 'the predicted close is for the symbol shown');
    assert.is(shown.asOf, shown.barTs, 'the predicted close was made as of the last bar shown (it predicts the next one)');
    assert.ok(Math.abs(shown.lastClose / shown.close - 1) < 1e-6, `same price scale: the prediction's last close ${shown.lastClose} is the bar's close ${shown.close}`);
    const started = Date.now();
    const bars = await api(`/api/bars?symbol=${encodeURIComponent(symbol)}&limit=1500`);
    const barsApiMs = Date.now() - started;
    const apiLast = bars.bars.at(-1) as { ts: string; close: number } | undefined;
    assert.ok(apiLast && apiLast.ts >= shown.barTs, `the API's newest ${symbol} bar (${apiLast?.ts}) is the one shown (${shown.barTs}) or newer`);
    const shownBar = (bars.bars as Array<{ ts: string; close: number }>).find((b) => b.ts === shown.barTs);
    assert.is(shownBar?.close, shown.close, 'the last close shown is the stored bar\'s close');
    const preds = (await api(`/api/predictions?symbol=${encodeURIComponent(symbol)}&limit=50`)).predictions as Pred[];
    const carried = [...frames.map((f) => f.p), ...preds].filter((p) => p.symbol === symbol && p.asOf === shown.asOf && p.model.version === shown.version);
    assert.ok(carried.length > 0, `the predicted close is one the stream or the API carries (${symbol} as of ${shown.asOf}, v${shown.version})`);
    assert.ok(carried.some((p) => p.predictedPrice === shown.price), `the predicted price ${shown.price} is the carried one (${carried.map((p) => p.predictedPrice).join(', ')})`);

    // 4. The predicted line is drawn, and nothing went wrong on the page.
    //    Market-data predictions are amber, those of synthetic bars fuchsia (the chart shows the
    //    newest 140 bars: a minute or two after the replay the synthetic continuation fills it).
    //    Right after the first model is served, the predictor is still working through the
    //    history, so the predictions of the bars on the chart may not exist yet: wait for them
    //    (bounded), then count.
    //    A fresh page view (reloaded every 15 s meanwhile) reads the chart's predictions from the API.
    let predictedPixels = 0;
    let lastReload = Date.now();
    await waitFor(
      'the predicted line on the chart',
      async () => {
        predictedPixels = (await countCanvasPixels(page, '#chart', [0xf5, 0xa5, 0x24])) + (await countCanvasPixels(page, '#chart', [0xe8, 0x79, 0xf9]));
        if (predictedPixels > 50) return true;
        if (Date.now() - lastReload > 15_000) {
          lastReload = Date.now();
          await page.reload();
          await page.waitForSelector('body[data-ready="true"]', { timeout: timeoutMs });
          await page.waitForTimeout(1_000);
        }
        return undefined;
      },
      timeoutMs,
      1_000,
    ).catch(() => undefined);
    assert.ok(predictedPixels > 50, `the predicted line is drawn (${predictedPixels} amber or fuchsia pixels)`);
    assert.equal(browser.pageErrors, [], 'no page errors');
    assert.equal(browser.consoleErrors.filter((e) => !/WebSocket connection to .* failed/.test(e)), [], 'no console errors');
    if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
    return {
      wsFrames: last.ws - first.ws,
      pageCount: last.page - first.page,
      feedRows,
      symbol,
      lastBar: { ts: shown.barTs, close: shown.close },
      predicted: { asOf: shown.asOf, price: shown.price, lastClose: shown.lastClose, version: shown.version },
      predictedPixels,
      barsApiMs,
    };
  } finally {
    ws.terminate();
    await browser?.close();
  }
}
