/**
 * The dashboard's champion-versus-challenger panel over a seeded database (the test's own), in
 * headless Chromium: production and shadow predictions in the loader's collections, a monitor
 * report with the challenger comparison in the monitor's own row form (reportToDocs), and
 * promotion decisions as the monitor's promoter stores them. Checks `/api/challenger` (contents,
 * the current challenger's line only, input validation, a shadow prediction arriving on
 * `stock.predictions.shadow.v1` after start), both lines drawn on the chart (canvas pixels of each
 * series' colour, and the panel's point counts), the metrics shown equal the seeded ones, the
 * decision with its evidence and time, a symbol without challenger data, and the empty state once
 * the registry has no challenger.
 */
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { MongoClient } from 'mongodb';
import { encode, makeEnvelope, resolveTopics } from '@stock-mlops/contracts';
import { emptyReport, reportToDocs, type MonitoringReport, type PairedComparison } from '@stock-mlops/monitor';
import type { PromotionDecisionDoc } from '../../services/monitor/src/store.ts';
import { suite } from '../harness/index.ts';
import { countCanvasPixels, launchBrowser, requireChromium, startDashboard, type TestBrowser } from '../support/browser.ts';
import { csvBars, prediction } from '../support/dashboard_seed.ts';
import { freePort, kafkaClient, mongoClient, reportingFailures, startStack, waitFor, type RunningStack } from '../support/stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BARS = 120;
/** Series colours of chart.js (production's predicted close) and challenger.js (the challenger's). */
const AMBER: [number, number, number] = [0xf5, 0xa5, 0x24];
const TEAL: [number, number, number] = [0x2d, 0xd4, 0xbf];

interface Ctx {
  stack?: RunningStack;
  mongo?: MongoClient;
  browser?: TestBrowser;
  url: string;
  aapl: ReturnType<typeof csvBars>;
}
const ctx: Ctx = { url: '', aapl: [] };
const t = suite('e2e: dashboard champion-versus-challenger panel', { timeoutMs: 60_000 });

/** A paired comparison with distinct, non-round numbers (`k` varies them per scope). */
function comparison(symbol: string, n: number, k: number): PairedComparison {
  return {
    modelName: 'price',
    productionVersion: 1,
    challengerVersion: 2,
    symbol,
    n,
    from: '2017-03-01T00:00:00.000Z',
    to: '2017-08-30T00:00:00.000Z',
    productionMae: 1.23456 * k,
    productionRmse: 1.67891 * k,
    productionDirectionalAccuracy: 0.4815,
    productionIc: 0.01234 * k,
    productionRankIc: 0.02345 * k,
    challengerMae: 0.98765 * k,
    challengerRmse: 1.34567 * k,
    challengerDirectionalAccuracy: 0.5623,
    challengerIc: 0.08765 * k,
    challengerRankIc: 0.07654 * k,
    zeroMae: 1.3 * k,
    zeroRmse: 1.7 * k,
    maeRatio: 0.80001 / k,
    rmseRatio: 0.80152 / k,
    productionMaeVsZero: 0.9497,
    productionRmseVsZero: 0.9876,
    challengerMaeVsZero: 0.7597,
    challengerRmseVsZero: 0.7916,
    icDifference: 0.07531 * k,
    loss: 'squared',
    horizon: 1,
    meanLossDifference: 0.000123 * k,
    dmStatistic: 2.4567 * k,
    dmHlnStatistic: 2.3456 * k,
    dmPValue: 0.0123 / k,
    dmPValueTwoSided: 0.0246 / k,
  };
}

function report(reportId: string, evaluatedAt: string, challenger: MonitoringReport['challenger'], promotionAction: string, promotionReason: string): MonitoringReport {
  return emptyReport('price', Date.parse(evaluatedAt), {
    reportId,
    model: { name: 'price', version: 1 },
    trainedThrough: '2017-02-28T00:00:00.000Z',
    watermark: '2017-08-31T00:00:00.000Z',
    challenger,
    promotionAction,
    promotionReason,
  });
}

function decision(kind: PromotionDecisionDoc['kind'], production: number, challenger: number, decidedAt: string, evidence: Record<string, number>): PromotionDecisionDoc {
  const ms = Date.parse(decidedAt);
  return {
    _id: `${kind}|price|${challenger}|${ms}`,
    kind,
    action: kind === 'challenger_promoted' ? 'promote' : 'keep',
    task: 'price',
    modelName: 'price',
    productionVersion: production,
    challengerVersion: challenger,
    reason: `${kind === 'challenger_promoted' ? 'promote' : 'keep'} price: challenger v${challenger} vs production v${production} over ${evidence.pairedOutcomes} paired outcomes`,
    evidenceNames: Object.keys(evidence),
    evidenceValues: Object.values(evidence),
    decidedAt,
    decidedAtMs: ms,
  };
}

const OVERALL = comparison('', 240, 1);
const AAPL = comparison('AAPL', 118, 1.5);
const KEPT_AT = '2026-01-05T12:34:00.000Z';
const KEPT_EVIDENCE = { productionVersion: 1, challengerVersion: 2, pairedOutcomes: 200, minOutcomes: 200, maxPValue: 0.05, dmPValue: 0.0731, rmseRatio: 0.9412, productionIc: 0.011, challengerIc: 0.052 };
/** Shadow predictions of the current challenger (v2) for every AAPL bar but the last; a former challenger's (v3) for five of them. */
const shadowOf = (bars: Ctx['aapl'], version: number, r: (i: number) => number) =>
  bars.map((b, i) => ({ _id: `AAPL|1d|${b.ts}|price|${version}`, ...prediction('AAPL', b.ts, b.close, r(i), version), eventId: `p-AAPL-${b.ts}` }));

async function seed(): Promise<void> {
  const db = ctx.mongo!.db(ctx.stack!.db);
  const aapl = csvBars('AAPL', BARS);
  const msft = csvBars('MSFT', BARS);
  ctx.aapl = aapl;
  await db.collection('bars').insertMany([...aapl, ...msft] as never[]);
  const production = [...aapl, ...msft].filter((b) => b !== aapl.at(-1) && b !== msft.at(-1)).map((b) => ({ _id: `${b.symbol}|1d|${b.ts}|price|1`, ...prediction(b.symbol, b.ts, b.close, 0.004, 1), eventId: `p-${b.symbol}-${b.ts}` }));
  await db.collection('price_predictions').insertMany(production as never[]);
  // The challenger predicts a clearly different path (its line must not hide behind production's).
  const shadow = [...shadowOf(aapl.slice(0, -1), 2, (i) => (i % 2 ? -0.03 : -0.02)), ...shadowOf(aapl.slice(10, 15), 3, () => 0.05)];
  await db.collection('price_predictions_shadow').insertMany(shadow as never[]);
  await db.collection('model_aliases').insertMany([
    { _id: 'price:production', name: 'price', alias: 'production', version: 1, history: [], updatedAt: '2026-01-01T00:00:00.000Z', reason: 'test' },
    { _id: 'price:challenger', name: 'price', alias: 'challenger', version: 2, history: [3], updatedAt: '2026-01-02T00:00:00.000Z', reason: 'test' },
  ] as never[]);
  const docs = [
    // An older report and the newest one: the panel shows the newest.
    ...reportToDocs(report('r-old', '2026-01-04T00:00:00.000Z', { overall: comparison('', 100, 3), symbols: [comparison('AAPL', 50, 3)] }, 'waiting', '100 of 200 paired outcomes')),
    ...reportToDocs(report('r-new', '2026-01-06T00:00:00.000Z', { overall: OVERALL, symbols: [AAPL] }, 'cooldown', 'last decision (keep v2) 41 s ago')),
  ];
  await db.collection('monitoring_reports').insertMany(docs as never[]);
  await db.collection('promotion_decisions').insertMany([
    decision('challenger_kept', 1, 3, '2025-12-20T08:00:00.000Z', { ...KEPT_EVIDENCE, challengerVersion: 3, dmPValue: 0.9 }),
    decision('challenger_kept', 1, 2, KEPT_AT, KEPT_EVIDENCE),
  ] as never[]);
}

async function json(p: string): Promise<{ status: number; body: any }> {
  const r = await fetch(`${ctx.url}${p}`);
  return { status: r.status, body: await r.json() };
}

const FIELDS = ['productionMae', 'productionRmse', 'productionIc', 'productionRankIc', 'productionDirectionalAccuracy', 'challengerMae', 'challengerRmse', 'challengerIc', 'challengerRankIc', 'challengerDirectionalAccuracy', 'n', 'maeRatio', 'rmseRatio', 'dmHlnStatistic', 'dmPValue'] as const;

t.before(async () => {
  requireChromium();
  mkdirSync(path.join(ROOT, 'artifacts/screenshots'), { recursive: true });
  ctx.stack = startStack({ services: [] });
  ctx.mongo = await mongoClient();
  await seed();
  const stack = ctx.stack;
  // Nothing listens on the stream's port: the panel needs no live stream.
  const silent = await freePort();
  const d = await reportingFailures(stack, () => startDashboard(stack, { PREDICTOR_WS_URL: `ws://127.0.0.1:${silent}/ws` }));
  ctx.url = d.url;
});

t('API: the current challenger, its shadow line only, the latest comparison (symbol and overall) and the newest decision', async () => {
  const r = await waitFor('the stored history loaded', async () => {
    const x = await json('/api/challenger?symbol=AAPL&limit=5000');
    return x.body.historyComplete ? x : undefined;
  }, 30_000, 250);
  assert.is(r.status, 200);
  const b = r.body;
  assert.equal([b.symbol, b.model, b.production, b.challenger], ['AAPL', 'price', { name: 'price', version: 1 }, { name: 'price', version: 2 }]);
  assert.is(b.predictions.length, BARS - 1, 'v2 only: the former challenger v3 is left out');
  assert.ok(b.predictions.every((p: { model: { version: number } }) => p.model.version === 2));
  assert.equal(b.predictions.map((p: { asOf: string }) => p.asOf), ctx.aapl.slice(0, -1).map((x) => x.ts), 'oldest first');
  assert.is(b.predictions[1].predictedReturn, -0.03);
  assert.is((await json('/api/challenger?symbol=AAPL&limit=7')).body.predictions.length, 7);
  assert.is(b.comparison.reportId, 'r-new', 'the newest report');
  assert.equal([b.comparison.promotionAction, b.comparison.promotionReason], ['cooldown', 'last decision (keep v2) 41 s ago']);
  for (const k of FIELDS) {
    assert.is(b.comparison.symbol[k], AAPL[k], `AAPL ${k}`);
    assert.is(b.comparison.overall[k], OVERALL[k], `overall ${k}`);
  }
  assert.equal(b.decision, {
    kind: 'challenger_kept',
    action: 'keep',
    production: { name: 'price', version: 1 },
    challenger: { name: 'price', version: 2 },
    reason: 'keep price: challenger v2 vs production v1 over 200 paired outcomes',
    evidence: KEPT_EVIDENCE,
    decidedAt: KEPT_AT,
  });
  const msft = (await json('/api/challenger?symbol=MSFT')).body;
  assert.equal([msft.challenger?.version, msft.predictions.length, msft.comparison.symbol, msft.comparison.overall.n], [2, 0, null, OVERALL.n], 'MSFT: no line, no paired outcome, the overall comparison');
});

t('API: invalid input → 400 with code E_BAD_REQUEST, naming the parameter', async () => {
  const cases: Array<[string, RegExp]> = [
    ['/api/challenger', /symbol/],
    ['/api/challenger?symbol=aapl', /symbol/],
    ['/api/challenger?symbol[$ne]=x', /symbol|\$ne/],
    ['/api/challenger?symbol=AAPL&symbol=MSFT', /symbol/],
    ['/api/challenger?symbol=AAPL&limit=0', /limit/],
    ['/api/challenger?symbol=AAPL&limit=5001', /limit/],
    ['/api/challenger?symbol=AAPL&version=2', /version/],
  ];
  for (const [p, re] of cases) {
    const r = await json(p);
    assert.is(r.status, 400, `${p} → 400`);
    assert.is(r.body.error.code, 'E_BAD_REQUEST', p);
    assert.match(r.body.error.message, re, `${p}: ${r.body.error.message}`);
  }
});

t('API: a shadow prediction produced to stock.predictions.shadow.v1 after start joins the challenger line', async () => {
  const topics = resolveTopics(ctx.stack!.prefix);
  const last = ctx.aapl.at(-1)!;
  const p = { ...prediction('AAPL', last.ts, last.close, -0.025, 2), interval: '1d' as const };
  const producer = kafkaClient('dashboard-challenger').producer();
  await producer.connect();
  try {
    await producer.send({ topic: topics.pricePredictionsShadow, messages: [encode('pricePredictionsShadow', makeEnvelope('pricePredictionsShadow', { data: p, source: 'predictor', idParts: ['AAPL', last.ts] }))] });
  } finally {
    await producer.disconnect();
  }
  const line = await waitFor('the streamed shadow prediction in /api/challenger', async () => {
    const r = await json('/api/challenger?symbol=AAPL&limit=2');
    return r.body.predictions.at(-1)?.asOf === last.ts ? r.body.predictions : undefined;
  }, 20_000, 250);
  assert.equal([line.at(-1).predictedPrice, line.at(-1).model.version, line.length], [p.predictedPrice, 2, 2]);
});

t('page: both lines drawn, the metrics side by side equal the seeded ones, the decision with its evidence and time', async () => {
  ctx.browser = await launchBrowser();
  const { page, pageErrors } = ctx.browser;
  await page.goto(`${ctx.url}/#symbol=AAPL`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  await page.waitForSelector('#challenger[data-state="live"][data-symbol="AAPL"]', { timeout: 10_000 });
  assert.is(await page.textContent('#chart-symbol'), 'AAPL');
  assert.is(await page.getAttribute('#challenger', 'data-challenger-points'), String(BARS), 'every v2 prediction on the chart (the seeded ones and the streamed one)');
  assert.is(await page.getAttribute('#challenger', 'data-production-points'), String(BARS - 1));
  assert.is(await page.locator('#legend-challenger').isVisible(), true, 'the chart legend names the challenger line');
  assert.is((await page.textContent('#challenger-state'))!.trim(), 'challenger v2');
  assert.match((await page.textContent('#challenger .legend'))!, /production price v1.*challenger price v2 \(shadow, not served\)/);
  await page.waitForTimeout(300);
  const amber = await countCanvasPixels(page, '#chart', AMBER);
  const teal = await countCanvasPixels(page, '#chart', TEAL);
  assert.ok(amber > 100, `production's line drawn (${amber} amber pixels)`);
  assert.ok(teal > 100, `the challenger's line drawn (${teal} teal pixels)`);
  // Each figure: the exact seeded value in data-value, four significant digits (a share in %) on screen.
  const shown = (v: number, k: string) => (k === 'n' ? String(v) : k.endsWith('DirectionalAccuracy') ? `${(v * 100).toFixed(1)}%` : String(Number(v.toPrecision(4))));
  for (const [scope, c] of [['symbol', AAPL], ['overall', OVERALL]] as const) {
    for (const k of FIELDS) {
      const el = page.locator(`#challenger [data-scope="${scope}"][data-key="${k}"]`);
      assert.is(await el.getAttribute('data-value'), String(c[k]), `${scope} ${k}`);
      assert.ok((await el.textContent())!.trim().endsWith(shown(c[k], k)), `${scope} ${k}: ${await el.textContent()} shows ${shown(c[k], k)}`);
    }
  }
  assert.match((await page.textContent('#challenger .comparison[data-scope="symbol"] thead'))!, /AAPL.*production v1.*challenger v2/);
  assert.match((await page.textContent('#challenger .report'))!, /policy: cooldown \(last decision \(keep v2\) 41 s ago\)/);
  const decided = page.locator('#challenger .decision');
  assert.equal([await decided.getAttribute('data-action'), await decided.getAttribute('data-decided-at')], ['keep', KEPT_AT]);
  const text = (await decided.textContent())!;
  assert.match(text, /kept/);
  assert.match(text, /challenger v2 kept, production v1 stays/);
  assert.match(text, /2026-01-05 12:34 UTC/);
  assert.match(text, /over 200 paired outcomes/);
  for (const k of ['pairedOutcomes', 'dmPValue', 'maxPValue', 'rmseRatio'] as const) {
    assert.is(await page.getAttribute(`#challenger .decision [data-key="${k}"]`, 'data-value'), String(KEPT_EVIDENCE[k]), `evidence ${k}`);
  }
  await page.screenshot({ path: path.join(ROOT, 'artifacts/screenshots/dashboard-challenger.png'), fullPage: true });
  assert.equal(pageErrors, []);
});

t('page: a symbol without challenger data says so and draws no challenger line', async () => {
  const { page } = ctx.browser!;
  await page.click('[data-symbol="MSFT"]');
  await page.waitForSelector('#challenger[data-state="waiting"][data-symbol="MSFT"]', { timeout: 10_000 });
  assert.match((await page.textContent('#challenger'))!, /No shadow predictions or joined outcomes of challenger v2 for MSFT yet/);
  assert.match((await page.textContent('#challenger'))!, /No joined outcomes for MSFT yet/);
  assert.is(await page.getAttribute('#challenger', 'data-challenger-points'), '0');
  assert.is(await page.locator('#legend-challenger').isHidden(), true);
  assert.is(await page.locator('#challenger .comparison[data-scope="overall"]').count(), 1, 'the overall comparison stays');
  await page.waitForTimeout(300);
  assert.ok((await countCanvasPixels(page, '#chart', AMBER)) > 100, 'production line drawn');
  assert.is(await countCanvasPixels(page, '#chart', TEAL), 0, 'no teal pixel without a challenger line');
});

t('page: without a challenger in the registry the panel shows the empty state and the promotion that ended it', async () => {
  const db = ctx.mongo!.db(ctx.stack!.db);
  // The monitor promoted v2: the registry moves, the decision is stored, the next report compares nothing.
  await db.collection('model_aliases').deleteOne({ _id: 'price:challenger' as never });
  await db.collection('model_aliases').updateOne({ _id: 'price:production' as never }, { $set: { version: 2 } });
  const promotedAt = '2026-01-07T09:15:00.000Z';
  await db.collection('promotion_decisions').insertOne(decision('challenger_promoted', 1, 2, promotedAt, { ...KEPT_EVIDENCE, pairedOutcomes: 260, dmPValue: 0.0042 }) as never);
  await db.collection('monitoring_reports').insertMany(reportToDocs(report('r-after', '2026-01-07T09:16:00.000Z', undefined, 'no_challenger', 'no challenger')) as never[]);
  const api = (await json('/api/challenger?symbol=AAPL')).body;
  assert.equal([api.challenger, api.production, api.predictions, api.comparison, api.decision.action], [null, { name: 'price', version: 2 }, [], null, 'promote']);
  const { page } = ctx.browser!;
  await page.goto(`${ctx.url}/#symbol=AAPL`);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  await page.waitForSelector('#challenger[data-state="none"][data-symbol="AAPL"]', { timeout: 10_000 });
  const text = (await page.textContent('#challenger'))!;
  assert.match(text, /No challenger: price v2 serves alone/);
  assert.is((await page.textContent('#challenger-state'))!.trim(), 'no challenger');
  assert.is(await page.locator('#challenger .comparison').count(), 0);
  assert.equal([await page.getAttribute('#challenger .decision', 'data-action'), await page.getAttribute('#challenger .decision', 'data-decided-at')], ['promote', promotedAt]);
  assert.match(text, /promoted/);
  assert.match(text, /challenger v2 replaced production v1/);
  assert.match(text, /2026-01-07 09:15 UTC/);
  assert.is(await page.getAttribute('#challenger .decision [data-key="dmPValue"]', 'data-value'), '0.0042');
  await page.waitForTimeout(300);
  assert.is(await countCanvasPixels(page, '#chart', TEAL), 0, 'no challenger line');
});

t.after(async () => {
  await ctx.browser?.close();
  await ctx.stack?.stop();
  if (ctx.mongo && ctx.stack) await ctx.mongo.db(ctx.stack.db).dropDatabase().catch(() => undefined);
  await ctx.mongo?.close();
});

t.run();
