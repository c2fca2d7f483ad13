/**
 * Champion versus challenger in the monitor core, on real data (AAPL and MSFT daily closes):
 * shadow predictions join with outcomes like production ones, the report compares both over the
 * same events only, and the live promotion policy decides on the paired test (thresholds,
 * minimum paired outcomes, cool-down, off by default). The service's env parsing is checked too.
 */
import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { dieboldMariano } from '@stock-mlops/ml/evaluation/paired_tests';
import {
  DEFAULT_SETTINGS,
  MonitorCore,
  decidePromotion,
  initialPromotionState,
  modelInfoFromRegistry,
  reportFromDocs,
  reportToDocs,
  rollingPerformance,
  type MonitorSettings,
  type Outcome,
  type PairedComparison,
} from '@stock-mlops/monitor';
import { MonitorEnv, settingsFrom } from '../../../services/monitor/src/config.ts';
import { bar, prediction, realFeatures, registryDoc, settings } from '../../support/monitor.ts';

const t = suite('monitor: champion versus challenger');

const rowsOf = (symbol: string) => realFeatures(symbol).filter((r) => r.ts >= '2013-01-01' && r.ts < '2014-01-01');
const data = { AAPL: rowsOf('AAPL'), MSFT: rowsOf('MSFT') };
const trainedThrough = '2012-12-31T00:00:00.000Z';
/** The realized next-day return of row i (what a perfect forecaster would say). */
const nextReturn = (rows: typeof data.AAPL, i: number) => rows[i + 1]!.close / rows[i]!.close - 1;
/** Production: a weak rule; the challenger: half the realized return plus a little noise (clearly better). */
const weak = (i: number) => 0.002 * Math.sin(i / 3);
const strong = (rows: typeof data.AAPL, i: number) => 0.5 * nextReturn(rows, i) + 0.0005 * Math.cos(i);

function coreWith(s: MonitorSettings): MonitorCore {
  const core = new MonitorCore(s);
  for (const v of [1, 2]) core.setModelInfo(modelInfoFromRegistry(registryDoc(v, data.AAPL.slice(0, 50), [0.001, 0.002], { trainedThrough })));
  core.setServing('price', { name: 'price', version: 1 });
  core.setChallenger({ name: 'price', version: 2 });
  return core;
}

/** Production predicts every row, the challenger (shadow) only `shadowEvery`-th ones; bars last. */
function feed(core: MonitorCore, opts: { challenger: (rows: typeof data.AAPL, i: number) => number; shadowEvery?: number; rows?: number }) {
  for (const [symbol, rows] of Object.entries(data)) {
    const n = Math.min(rows.length - 1, opts.rows ?? rows.length - 1);
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      core.observePrediction(prediction({ symbol, asOf: r.ts, lastClose: r.close, predictedReturn: weak(i), version: 1 }));
      if (i % (opts.shadowEvery ?? 1) === 0) core.observePrediction(prediction({ symbol, asOf: r.ts, lastClose: r.close, predictedReturn: opts.challenger(rows, i), version: 2 }));
    }
    for (let i = 0; i <= n; i++) core.observeBar(bar(symbol, rows[i]!.ts, rows[i]!.close));
  }
}

t('shadow predictions join like production ones and are compared over the same events only', () => {
  const core = coreWith(settings({ perfWindow: 500 }));
  feed(core, { challenger: strong, shadowEvery: 2, rows: 120 });
  const { report } = core.evaluate('price', Date.parse('2014-01-02T00:00:00Z'));
  const c = report.challenger!;
  assert.ok(c, 'a comparison with a challenger');
  assert.is(report.performance!.n, 240, 'production: every row of both symbols');
  assert.is(report.otherVersions.find((v) => v.modelVersion === 2)!.n, 120, 'the challenger joined on its own version');
  assert.is(c.overall.n, 120, 'only the events both predicted');
  assert.equal(c.symbols.map((x) => [x.symbol, x.n]), [['AAPL', 60], ['MSFT', 60]]);
  // Each side equals the rolling metrics over exactly the paired events.
  const prod = core.performance.outcomes({ name: 'price', version: 1 }).filter((o) => data.AAPL.indexOf(data.AAPL.find((r) => r.ts === o.asOf)!) % 2 === 0 && o.symbol === 'AAPL');
  const aapl = c.symbols[0]!;
  const expected = rollingPerformance({ name: 'price', version: 1 }, 'AAPL', prod);
  assert.is(aapl.productionMae, expected.mae);
  assert.is(aapl.productionIc, expected.ic);
  const chall = core.performance.outcomes({ name: 'price', version: 2 }).filter((o) => o.symbol === 'AAPL');
  const dm = dieboldMariano({ actual: chall.map((o) => o.realizedReturn), production: prod.map((o) => o.predictedReturn), challenger: chall.map((o) => o.predictedReturn) });
  assert.ok(Math.abs(aapl.dmStatistic - dm.statistic) < 1e-12, `dm ${aapl.dmStatistic} vs ${dm.statistic}`);
  assert.ok(Math.abs(aapl.maeRatio - aapl.challengerMae / aapl.productionMae) < 1e-15);
  assert.ok(aapl.maeRatio < 0.8 && aapl.rmseRatio < 0.8, `ratios ${aapl.maeRatio} ${aapl.rmseRatio}`);
  assert.ok(aapl.challengerMaeVsZero < 1 && aapl.productionMaeVsZero >= 0.95, `vs zero ${aapl.challengerMaeVsZero} ${aapl.productionMaeVsZero}`);
  assert.ok(aapl.challengerIc > 0.5 && aapl.icDifference > 0.4);
  assert.ok(c.overall.dmPValue < 0.05 && c.overall.meanLossDifference > 0, `p ${c.overall.dmPValue}`);
  // Round trip through the stored documents.
  const back = reportFromDocs(reportToDocs(report))!;
  assert.equal(back.challenger!.overall.dmPValue, c.overall.dmPValue);
  assert.equal(back.challenger!.symbols.map((x) => x.symbol), ['AAPL', 'MSFT']);
  assert.is(back.challenger!.overall.loss, 'squared');
  assert.is(back.promotionAction, 'off');
});

t('without a challenger there is no comparison; a challenger equal to production is not compared', () => {
  const core = coreWith(settings());
  core.setChallenger(undefined);
  feed(core, { challenger: strong, rows: 20 });
  assert.is(core.evaluate('price', 1).report.challenger, undefined);
  core.setChallenger({ name: 'price', version: 1 });
  assert.is(core.evaluate('price', 2).report.challenger, undefined);
});

t('live promotion is off by default: no decision however strong the evidence', () => {
  assert.is(DEFAULT_SETTINGS.promotionEnabled, false);
  const core = coreWith(settings({ perfWindow: 500 }));
  feed(core, { challenger: strong });
  const { report, promotion } = core.evaluate('price', Date.parse('2014-01-02T00:00:00Z'));
  assert.ok(report.challenger!.overall.n >= 400 && report.challenger!.overall.dmPValue < 1e-6);
  assert.is(promotion!.action, 'off');
  assert.equal(promotion!.state, promotion!.previous);
});

t('a clearly better challenger is promoted after N paired outcomes, with its evidence; then the cool-down holds', () => {
  const s = settings({ perfWindow: 500, promotionEnabled: true, promotionMinOutcomes: 200, promotionCooldownMs: 3_600_000 });
  const core = coreWith(s);
  feed(core, { challenger: strong, rows: 90 });
  const early = core.evaluate('price', 1_000).promotion!;
  assert.is(early.action, 'waiting', '180 paired outcomes < 200');
  assert.match(early.reason, /180 of 200/);
  feed(core, { challenger: strong, rows: 120 });
  const d = core.evaluate('price', 2_000).promotion!;
  assert.is(d.action, 'promote');
  assert.equal(d.challenger, { name: 'price', version: 2 });
  assert.equal(d.production, { name: 'price', version: 1 });
  assert.is(d.evidence.pairedOutcomes, 240);
  assert.ok(d.evidence.dmPValue! < 0.05 && d.evidence.rmseRatio! < 1);
  assert.is(d.evidence.maxPValue, 0.05);
  assert.is(d.state.lastDecisionAtMs, 2_000);
  assert.is(d.state.decisions, 1);
  // Within the cool-down nothing is decided, even on new data.
  feed(core, { challenger: strong, rows: 130 });
  assert.is(core.evaluate('price', 2_000 + 3_599_999).promotion!.action, 'cooldown');
  feed(core, { challenger: strong, rows: 140 });
  assert.is(core.evaluate('price', 2_000 + 3_600_000).promotion!.action, 'promote');
});

t('a worse (or merely equal) challenger is kept after a full window; the threshold is the configured p-value', () => {
  const s = settings({ perfWindow: 500, promotionEnabled: true, promotionMinOutcomes: 100 });
  const worse = coreWith(s);
  feed(worse, { challenger: (_rows, i) => weak(i) + 0.01 * Math.sin(i * 7), rows: 100 });
  const kept = worse.evaluate('price', 1).promotion!;
  assert.is(kept.action, 'keep');
  assert.ok(kept.evidence.dmPValue! > 0.5 && kept.evidence.rmseRatio! > 1);
  assert.match(kept.reason, /keep price: challenger v2 vs production v1 over 200 paired outcomes/);

  // The same comparison decided under two thresholds either side of its p-value.
  const comparison = { ...worse.evaluate('price', 2).report.challenger!.overall, dmPValue: 0.03 } as PairedComparison;
  const at = (maxP: number) => decidePromotion(initialPromotionState('price'), comparison, 0, { ...s, promotionMaxPValue: maxP }).action;
  assert.is(at(0.05), 'promote');
  assert.is(at(0.01), 'keep');
  assert.is(at(0.03), 'keep', 'strictly below the threshold');
  assert.is(decidePromotion(initialPromotionState('price'), { ...comparison, dmPValue: Number.NaN }, 0, s).action, 'keep', 'an undefined test never promotes');
  assert.is(decidePromotion(initialPromotionState('price'), undefined, 0, s).action, 'no_challenger');
});

t('the env: promotion off by default, validated values, N at most the window (E_CONFIG)', () => {
  const base = settingsFrom(MonitorEnv.parse({}));
  assert.is(base.promotionEnabled, false);
  assert.is(base.promotionLoss, 'squared');
  assert.is(base.promotionMaxPValue, 0.05);
  assert.is(base.promotionMinOutcomes, 200);
  assert.ok(base.promotionMinOutcomes <= base.perfWindow);
  const on = settingsFrom(MonitorEnv.parse({ MONITOR_PROMOTION: 'on', MONITOR_PROMOTION_METRIC: 'dm_absolute', MONITOR_PROMOTION_MAX_P: '0.01', MONITOR_PROMOTION_MIN_OUTCOMES: '60', MONITOR_PROMOTION_COOLDOWN_MS: '5000' }));
  assert.equal([on.promotionEnabled, on.promotionLoss, on.promotionMaxPValue, on.promotionMinOutcomes, on.promotionCooldownMs], [true, 'absolute', 0.01, 60, 5000]);
  for (const bad of [{ MONITOR_PROMOTION: 'yes' }, { MONITOR_PROMOTION_MAX_P: '1' }, { MONITOR_PROMOTION_MAX_P: '0' }, { MONITOR_PROMOTION_METRIC: 'ic' }, { MONITOR_PROMOTION_MIN_OUTCOMES: '2' }]) {
    assert.is(MonitorEnv.safeParse(bad).success, false, JSON.stringify(bad));
  }
  try {
    settingsFrom(MonitorEnv.parse({ MONITOR_PROMOTION_MIN_OUTCOMES: '300', MONITOR_PERF_WINDOW: '250' }));
    assert.unreachable('N above the window');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'E_CONFIG');
  }
});

t('outcomes pair on (symbol, interval, as-of, horizon), not on arrival order', () => {
  const o = (symbol: string, asOf: string, version: number, horizon = 1): Outcome => ({
    key: `${symbol}|1d|${asOf}|price|${version}|${horizon}`,
    symbol,
    interval: '1d',
    asOf,
    asOfMs: Date.parse(asOf),
    horizon,
    lastClose: 100,
    predictedReturn: 0.01 * version,
    realizedReturn: 0.005,
    realizedTs: asOf,
    model: { name: 'price', version },
  });
  const core = coreWith(settings());
  const prod = [o('AAPL', '2014-01-03T00:00:00.000Z', 1), o('AAPL', '2014-01-02T00:00:00.000Z', 1), o('MSFT', '2014-01-02T00:00:00.000Z', 1, 5)];
  const chall = [o('MSFT', '2014-01-02T00:00:00.000Z', 2), o('AAPL', '2014-01-02T00:00:00.000Z', 2), o('AAPL', '2014-01-03T00:00:00.000Z', 2)];
  for (const x of [...prod, ...chall]) core.restoreOutcome(x);
  const c = core.evaluate('price', 1).report.challenger!;
  assert.is(c.overall.n, 2, 'the MSFT forecasts differ in horizon');
  assert.equal([c.overall.from, c.overall.to], ['2014-01-02T00:00:00.000Z', '2014-01-03T00:00:00.000Z']);
});

t.run();
