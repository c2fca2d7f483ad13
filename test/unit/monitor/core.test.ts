/**
 * The monitor core on real data (AAPL daily bars through the production feature code): live
 * data drawn from the reference's own distribution raises nothing; the autumn-2008 crash,
 * replayed after it, raises one retrain request with its evidence, however often it is
 * evaluated; a promotion resolves the incident and the new version is tracked.
 */
import * as assert from 'uvu/assert';
import type { FeatureRow } from '@stock-mlops/transform';
import { priceMetrics } from '@stock-mlops/ml/evaluation/metrics';
import { suite } from '../../harness/index.ts';
import { MonitorCore, modelInfoFromRegistry, reportFromDocs, reportToDocs } from '@stock-mlops/monitor';
import { loadTwitterSentiment } from '../../support/evaluation_reference.ts';
import { bar, fakePredict, prediction, realFeatures, registryDoc, settings, toFeatureVector } from '../../support/monitor.ts';

const t = suite('monitor: core on real data');

const aapl = realFeatures('AAPL');
const between = (a: string, b: string) => aapl.filter((r) => r.ts >= a && r.ts < b);
const period = between('2012-01-01', '2014-01-01');
// Every sixth row of the period, spread over all of it, is held out as live data from the
// reference's own distribution (a contiguous stretch would drift: daily features are slow).
const reference = period.filter((_, i) => i % 6 !== 3);
const trainedThrough = reference[reference.length - 1]!.ts;
const calm = between('2014-01-01', '2014-06-01');
/** Rows re-dated to consecutive trading days after `last` (the monitor reads event time only). */
function redate(rows: readonly FeatureRow[], last: string): FeatureRow[] {
  let t0 = Date.parse(last);
  return rows.map((r) => {
    do t0 += 86_400_000;
    while ([0, 6].includes(new Date(t0).getUTCDay()));
    return { ...r, ts: new Date(t0).toISOString() };
  });
}
const heldOut = redate(period.filter((_, i) => i % 6 === 3), trainedThrough);
/** The autumn-2008 crash, re-dated to trading days after `last`. */
const crashAfter = (last: string) => redate(between('2008-09-01', '2009-01-01'), last);
// Drift windows of 80 vectors: the crash (85 bars) fills one entirely.
const s = settings({ minDriftSamples: 50, minOutcomes: 50, driftWindow: 80, cooldownMs: 3_600_000 });

function feed(core: MonitorCore, rows: readonly FeatureRow[], version: number): void {
  for (const r of rows) {
    // Features and their prediction first, the bar later: the order the stream gives.
    core.observeFeatures(toFeatureVector(r));
    core.observePrediction(prediction({ symbol: 'AAPL', asOf: r.ts, lastClose: r.close, predictedReturn: fakePredict(r.vector, version), version }), 'abcdef0123456789');
    core.observeBar(bar('AAPL', r.ts, r.close));
  }
}

function newCore(): MonitorCore {
  const core = new MonitorCore(s);
  core.setModelInfo(modelInfoFromRegistry(registryDoc(1, reference, reference.map((r) => fakePredict(r.vector, 1)), { trainedThrough, mape: 0.012 })));
  core.setServing('price', { name: 'price', version: 1 });
  return core;
}

t('realized performance joins each prediction with the next bar and matches the offline metrics; in-sample rows do not count', () => {
  const core = newCore();
  feed(core, reference.slice(-30), 1); // before the cut-off: in-sample
  feed(core, calm, 1);
  const { report } = core.evaluate('price', Date.parse('2014-06-02T00:00:00Z'));
  const expected = priceMetrics({
    lastClose: calm.slice(0, -1).map((r) => r.close),
    realizedReturn: calm.slice(0, -1).map((r, i) => calm[i + 1]!.close / r.close - 1),
    predictedReturn: calm.slice(0, -1).map((r) => fakePredict(r.vector, 1)),
  });
  const p = report.performance!;
  assert.is(p.n, calm.length - 1, 'every calm prediction but the last (its next bar is not there) is resolved');
  for (const k of ['mae', 'rmse', 'mape', 'directionalAccuracy', 'ic', 'rankIc'] as const) {
    assert.ok(Math.abs(p[k] - expected[k]) <= 1e-12 * Math.max(1, Math.abs(expected[k])), `${k}: ${p[k]} vs ${expected[k]}`);
  }
  assert.is(report.symbols.length, 1);
  assert.is(report.symbols[0]!.n, p.n);
  assert.is(report.pendingPredictions, 1);
});

t('in-distribution data raises nothing; the crash raises exactly one retrain request with evidence; promotion resolves it', () => {
  const core = newCore();
  feed(core, heldOut, 1);
  const quiet = core.evaluate('price', 1_000);
  assert.ok(quiet.report.featureDrift!.n >= 50);
  assert.ok(quiet.report.featureDrift!.driftedShare < 0.2, `held-out share ${quiet.report.featureDrift!.driftedShare}`);
  assert.ok(quiet.report.predictionDrift!.psi < s.predictionPsi, `prediction PSI ${quiet.report.predictionDrift!.psi}`);
  assert.equal(quiet.report.breaches, []);
  assert.is(quiet.decision?.action, 'none');

  const crash = crashAfter(heldOut[heldOut.length - 1]!.ts);
  feed(core, crash, 1);
  const actions: string[] = [];
  const requests = [];
  for (let i = 0; i < 10; i++) {
    const e = core.evaluate('price', 2_000 + i * 1_000);
    actions.push(e.decision!.action);
    if (e.decision?.request) requests.push(e.decision.request);
  }
  assert.is(requests.length, 1, `one request (actions: ${actions.join(',')})`);
  assert.equal(actions.slice(1), new Array(9).fill('deduplicated'));
  const req = requests[0]!;
  assert.ok(req.breaches.includes('feature_drift'), JSON.stringify(req));
  assert.ok(req.evidence.featureDriftShare! >= s.featureDriftShare, `share ${req.evidence.featureDriftShare}`);
  assert.ok(req.evidence.featurePsiMax! > 1);
  assert.is(req.evidence.modelVersion, 1);
  assert.match(req.reason, /feature drift: \d+\/65 features/);

  // v2 is trained on data through the crash; the predictor now serves it.
  const v2Through = crash[crash.length - 1]!.ts;
  core.setModelInfo(modelInfoFromRegistry(registryDoc(2, crash, crash.map((r) => fakePredict(r.vector, 2)), { trainedThrough: v2Through })));
  const closed = core.onModelEvent({ kind: 'promoted', model: { name: 'price', version: 2 }, task: 'price', alias: 'production' });
  assert.is(closed?.incidentId, req.incidentId);
  const more = crashAfter(v2Through).slice(0, 60);
  feed(core, more, 2);
  const after = core.evaluate('price', 20_000);
  assert.equal(after.report.model, { name: 'price', version: 2 });
  assert.is(after.report.performance!.n, more.length - 1);
  assert.ok(after.report.otherVersions.some((p) => p.modelVersion === 1 && p.n > 0), `v1 is still reported: ${JSON.stringify(after.report.otherVersions)}`);
  assert.is(after.decision!.action === 'retrain_requested', false, 'no second request within the cool-down');
});

t('a report survives its MongoDB form (flat documents, no NaN)', () => {
  const core = newCore();
  feed(core, heldOut.slice(0, 3), 1);
  feed(core, crashAfter(heldOut[2]!.ts), 1);
  const { report } = core.evaluate('price', 5_000);
  const docs = reportToDocs(report);
  for (const d of docs) {
    for (const [k, v] of Object.entries(d)) {
      assert.ok(!k.includes('.') && !k.startsWith('$'), `key ${k}`);
      if (typeof v === 'number') assert.ok(Number.isFinite(v), `${k} is finite`);
      if (Array.isArray(v)) assert.ok(v.every((x) => x === null || typeof x !== 'object'), `${k} holds scalars only`);
      else assert.ok(v === null || typeof v !== 'object', `${k} is flat`);
    }
  }
  assert.equal(reportFromDocs(docs), report);
});

t('placeholder bars are skipped; registry documents with a broken reference are reported, not trusted', () => {
  const core = newCore();
  assert.equal(core.observeBar(bar('AAPL', '2014-01-02T00:00:00.000Z', 10, true)), []);
  const broken = modelInfoFromRegistry({ ...registryDoc(3, reference, [0, 0], { trainedThrough }), reference: { names: ['x'], features: {}, predictions: { n: 1 } } });
  assert.is(broken.price, undefined);
  assert.match(broken.referenceProblem!, /malformed price reference/);
  assert.match(modelInfoFromRegistry({ name: 'price', version: 4, task: 'price', reference: null }).referenceProblem!, /no stored reference/);
});

t('sentiment: without a stored reference the first predictions are the baseline; a label shift requests a sentiment retrain', () => {
  const tweets = loadTwitterSentiment();
  const core = new MonitorCore(settings({ sentimentBaseline: 200, driftWindow: 150, minDriftSamples: 100 }));
  const model = { name: 'sentiment', version: 1 };
  core.setModelInfo(modelInfoFromRegistry({ name: 'sentiment', version: 1, task: 'sentiment', reference: null }));
  let t0 = Date.parse('2020-01-01T00:00:00Z');
  const feed = (labels: readonly string[]) =>
    labels.forEach((label, i) => core.observeSentiment({ articleId: `a${t0}-${i}`, symbol: 'AAPL', publishedAt: new Date((t0 += 60_000)).toISOString(), label: label as never, model }));
  // The dataset is grouped by label: every 20th tweet is a fair sample of its distribution.
  const spread = (offset: number, n: number) => tweets.label.filter((_, i) => i % 20 === offset).slice(0, n);
  feed(spread(0, 200));
  assert.is(core.evaluate('sentiment', 1).report.sentimentDrift, undefined, 'only the baseline so far');
  feed(spread(10, 150));
  const same = core.evaluate('sentiment', 2);
  assert.equal(same.report.model, model, 'the version making the predictions is watched');
  assert.ok(same.report.sentimentDrift!.psi < 0.25, `same distribution: PSI ${same.report.sentimentDrift!.psi}`);
  assert.match(same.report.referenceProblem, /first predictions are its baseline/);
  assert.is(same.decision?.action, 'none');
  // The news flow turns one-sided: a contiguous, mostly positive stretch of the same dataset.
  feed(tweets.label.slice(200, 350));
  const shifted = core.evaluate('sentiment', 3);
  assert.ok(shifted.report.sentimentDrift!.psi > 0.25, `PSI ${shifted.report.sentimentDrift!.psi}`);
  assert.is(shifted.decision?.action, 'retrain_requested');
  assert.ok(shifted.decision!.request!.incidentId.startsWith('sentiment-sentiment-v1-'));
  assert.ok(shifted.decision!.request!.evidence.sentimentPsi! > 0.25);
});

t.run();
