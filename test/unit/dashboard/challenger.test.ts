import * as assert from 'uvu/assert';
import { reportToDocs, type MonitoringReport, type PairedComparison } from '@stock-mlops/monitor';
import { challengerView, comparisonView, type ChallengerQueries, type DecisionView } from '../../../services/dashboard/src/challenger.ts';
import { ChartStore } from '../../../services/dashboard/src/chart_store.ts';
import { suite } from '../../harness/index.ts';

const t = suite('dashboard/challenger');

const pred = (symbol: string, day: number, version: number) => ({
  symbol,
  interval: '1d',
  asOf: new Date(Date.UTC(2020, 0, 1 + day)).toISOString(),
  horizon: 1,
  lastClose: 100 + day,
  predictedReturn: 0.01 * version,
  predictedPrice: (100 + day) * (1 + 0.01 * version),
  model: { name: 'price', version },
  latencyMs: 1,
});

function comparison(symbol: string, n: number): PairedComparison {
  const nums = ['productionMae', 'productionRmse', 'productionDirectionalAccuracy', 'productionIc', 'productionRankIc', 'challengerMae', 'challengerRmse', 'challengerDirectionalAccuracy', 'challengerIc', 'challengerRankIc', 'zeroMae', 'zeroRmse', 'maeRatio', 'rmseRatio', 'productionMaeVsZero', 'productionRmseVsZero', 'challengerMaeVsZero', 'challengerRmseVsZero', 'icDifference', 'meanLossDifference', 'dmStatistic', 'dmHlnStatistic', 'dmPValue', 'dmPValueTwoSided'];
  return { ...Object.fromEntries(nums.map((k, i) => [k, (i + 1) / 7])), modelName: 'price', productionVersion: 1, challengerVersion: 2, symbol, n, from: 'a', to: 'b', loss: 'squared', horizon: 1 } as PairedComparison;
}

function report(challenger: MonitoringReport['challenger']): MonitoringReport {
  return {
    reportId: 'r1', task: 'price', evaluatedAt: '2026-01-01T00:00:00.000Z', evaluatedAtMs: Date.parse('2026-01-01T00:00:00.000Z'), model: { name: 'price', version: 1 },
    trainedThrough: '', watermark: '', referenceProblem: '', performance: undefined, symbols: [], otherVersions: [], featureDrift: undefined, predictionDrift: undefined,
    sentimentDrift: undefined, breaches: [], action: 'none', incidentId: '', pendingPredictions: 0, challenger, promotionAction: 'waiting', promotionReason: '3 of 200 paired outcomes',
  };
}

function queries(o: { challenger: number | null; docs?: ReturnType<typeof reportToDocs>; decision?: DecisionView | null }): ChallengerQueries {
  return {
    eachShadowPrediction: async () => 0,
    aliases: async () => ({ production: { name: 'price', version: 1 }, challenger: o.challenger === null ? null : { name: 'price', version: o.challenger } }),
    latestComparison: async () => o.docs,
    latestDecision: async () => o.decision ?? null,
  };
}

t('the comparison of the latest report: the symbol\'s row, all symbols, NaN where the monitor stored none; null without a challenger', () => {
  const withNaN = { ...comparison('AAPL', 12), dmPValue: Number.NaN };
  const docs = reportToDocs(report({ overall: comparison('', 30), symbols: [withNaN, comparison('MSFT', 18)] }));
  const v = comparisonView(docs, 'AAPL')!;
  assert.equal([v.reportId, v.promotionAction, v.promotionReason, v.overall?.n, v.symbol?.n, v.symbol?.symbol], ['r1', 'waiting', '3 of 200 paired outcomes', 30, 12, 'AAPL']);
  assert.is(v.symbol!.maeRatio, comparison('AAPL', 12).maeRatio);
  assert.ok(Number.isNaN(v.symbol!.dmPValue), 'a non-finite metric is not stored and reads back as NaN (null in JSON)');
  assert.is(comparisonView(docs, 'SPY')!.symbol, null, 'a symbol without paired outcomes');
  assert.is(comparisonView(reportToDocs(report(undefined)), 'AAPL'), null);
  assert.is(comparisonView(undefined, 'AAPL'), null);
});

t('only the current challenger\'s shadow predictions of the symbol, newest `limit`, oldest first; none without a challenger', async () => {
  const shadow = new ChartStore();
  shadow.addPredictions([...Array.from({ length: 6 }, (_, i) => pred('AAPL', i, 2)), pred('AAPL', 6, 3), pred('MSFT', 1, 2)]);
  const decision: DecisionView = { kind: 'challenger_kept', action: 'keep', production: { name: 'price', version: 1 }, challenger: { name: 'price', version: 3 }, reason: 'keep', evidence: { dmPValue: 0.4 }, decidedAt: '2026-01-01T00:00:00.000Z' };
  const v = await challengerView({ queries: queries({ challenger: 2, decision }), shadow }, 'AAPL', 4, true);
  assert.equal(v.predictions.map((p) => [p.asOf.slice(0, 10), p.model.version]), [['2020-01-03', 2], ['2020-01-04', 2], ['2020-01-05', 2], ['2020-01-06', 2]]);
  assert.equal([v.symbol, v.model, v.challenger, v.comparison, v.decision, v.historyComplete], ['AAPL', 'price', { name: 'price', version: 2 }, null, decision, true]);
  const three = await challengerView({ queries: queries({ challenger: 3 }), shadow }, 'AAPL', 500, false);
  assert.equal(three.predictions.map((p) => p.model.version), [3]);
  const none = await challengerView({ queries: queries({ challenger: null, decision }), shadow }, 'AAPL', 500, true);
  assert.equal([none.challenger, none.predictions, none.decision], [null, [], decision], 'no line without a challenger; the last decision stays');
});

t.run();
