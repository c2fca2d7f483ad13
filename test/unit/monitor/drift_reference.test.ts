/**
 * The monitor's drift numbers against an independent computation (numpy / scipy in
 * test/python/drift_reference.py) on shared real data: per-feature PSI and KS of live feature
 * windows against a reference stored the way the trainer stores it (referenceStats with a
 * 200-value subsample), PSI/KS of predicted returns, and sentiment label drift.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { FEATURE_SCHEMA, type FeatureRow } from '@stock-mlops/transform';
import { suite } from '../../harness/index.ts';
import { createComparator, keywordSentiment, loadTwitterSentiment } from '../../support/evaluation_reference.ts';
import { evaluateFeatureDrift, evaluateLabelDrift, evaluateNumericDrift, modelInfoFromRegistry } from '@stock-mlops/monitor';
import { categoricalReference } from '@stock-mlops/ml/evaluation/drift';
import { fakePredict, realFeatures, registryDoc, repoRoot } from '../../support/monitor.ts';

const t = suite('monitor: PSI / KS against numpy and scipy', { timeoutMs: 120_000 });

interface NumericRef {
  psi: number;
  ks_statistic: number;
  ks_p_value: number;
  ks_full: number;
  reference_mean: number;
  current_mean: number;
}

function reference(request: unknown): { numeric: Record<string, NumericRef>; categorical: Record<string, { psi: number; chi_square: number; p_value: number }> } {
  const python = process.env.PYTHON ?? 'python3';
  const proc = spawnSync(python, [path.join(repoRoot, 'test/python/drift_reference.py')], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const hint = 'needs Python 3 with numpy and scipy: pip install -r test/python/requirements.txt';
  if (proc.error && (proc.error as NodeJS.ErrnoException).code !== 'EPIPE') throw new Error(`cannot run ${python} (${proc.error.message}); ${hint}`);
  if (proc.status !== 0) throw new Error(`drift_reference.py exited with ${String(proc.status)}: ${proc.stderr.trim()}\n${hint}`);
  return JSON.parse(proc.stdout);
}

const names = [...FEATURE_SCHEMA.names];
const column = (rows: readonly FeatureRow[], i: number) => rows.map((r) => r.vector[i]!);
const window = (symbol: string, from: string, to: string) => realFeatures(symbol).filter((r) => r.ts >= from && r.ts < to);

// Reference: AAPL 2012–2013 (502 rows, so the stored KS subsample of 200 is a real subsample).
const refRows = window('AAPL', '2012-01-01', '2014-01-01');
const refPredictions = refRows.map((r) => fakePredict(r.vector));
const info = modelInfoFromRegistry(registryDoc(1, refRows, refPredictions, { trainedThrough: '2013-12-31T00:00:00.000Z' }));
const windows: Record<string, FeatureRow[]> = {
  'aapl-next-half-year': window('AAPL', '2014-01-01', '2014-07-01'),
  'aapl-2008-crash': window('AAPL', '2008-09-01', '2009-01-01'),
  'nvda-2011': window('NVDA', '2011-01-01', '2012-01-01'),
  'goog-short': window('GOOG', '2015-03-01', '2015-04-15'),
};

t('feature, prediction and label drift match numpy/scipy on real data', () => {
  const cmp = createComparator(1e-9);
  const request = {
    bins: 10,
    epsilon: 1e-4,
    sampleSize: 200,
    numeric: [
      ...Object.entries(windows).flatMap(([id, rows]) =>
        names.map((name, i) => ({ id: `${id}|${name}`, reference: column(refRows, i), current: column(rows, i) })),
      ),
      ...Object.entries(windows).map(([id, rows]) => ({ id: `${id}|predictions`, reference: refPredictions, current: rows.map((r) => fakePredict(r.vector)) })),
    ],
    categorical: [] as Array<{ id: string; labels: string[]; reference: string[]; current: string[] }>,
  };
  const tweets = loadTwitterSentiment();
  const labels = ['negative', 'neutral', 'positive'];
  const refLabels = tweets.label.slice(0, 2000);
  const currents: Record<string, string[]> = {
    'true-labels-later': tweets.label.slice(2000, 2600),
    'keyword-model': tweets.text.slice(2000, 2600).map(keywordSentiment),
  };
  for (const [id, current] of Object.entries(currents)) request.categorical.push({ id, labels, reference: refLabels, current });
  const ref = reference(request);

  let maxGap = 0;
  for (const [id, rows] of Object.entries(windows)) {
    const d = evaluateFeatureDrift(info.price!, rows.map((r) => ({ names, values: r.vector })), 0.25);
    assert.is(d.evaluated, names.length);
    for (const f of d.features) {
      const r = ref.numeric[`${id}|${f.name}`]!;
      cmp.check(`${id} ${f.name} psi`, f.psi, r.psi);
      cmp.check(`${id} ${f.name} ks`, f.ksStatistic, r.ks_statistic);
      cmp.check(`${id} ${f.name} ks p`, f.ksPValue, r.ks_p_value);
      cmp.check(`${id} ${f.name} current mean`, f.currentMean, r.current_mean);
      // The stored 200-value subsample approximates KS against the full reference.
      maxGap = Math.max(maxGap, Math.abs(f.ksStatistic - r.ks_full));
    }
    const p = evaluateNumericDrift(info.price!.predictions, rows.map((r) => fakePredict(r.vector)));
    const r = ref.numeric[`${id}|predictions`]!;
    cmp.check(`${id} prediction psi`, p.psi, r.psi);
    cmp.check(`${id} prediction ks`, p.ksStatistic, r.ks_statistic);
    cmp.check(`${id} prediction ks p`, p.ksPValue, r.ks_p_value);
    cmp.check(`${id} prediction reference mean`, p.referenceMean, r.reference_mean);
  }
  assert.ok(maxGap <= 1 / 200 + 1e-12, `subsample KS within 1/sampleSize of the full-reference KS (gap ${maxGap})`);
  for (const [id, current] of Object.entries(currents)) {
    const d = evaluateLabelDrift(categoricalReference(refLabels, { labels }), current);
    const r = ref.categorical[id]!;
    cmp.check(`${id} label psi`, d.psi, r.psi);
    cmp.check(`${id} chi-square`, d.chiSquare, r.chi_square);
    cmp.check(`${id} chi-square p`, d.pValue, r.p_value);
  }
  const worst = cmp.worst();
  console.log(`  ${request.numeric.length} numeric and ${request.categorical.length} label comparisons; worst relative deviation ${worst.deviation.toExponential(2)} (${worst.label}); KS subsample gap ≤ ${maxGap.toFixed(4)}`);
});

t('the crash drifts far more features than the next half-year (sanity of the scale)', () => {
  const share = (rows: FeatureRow[]) => evaluateFeatureDrift(info.price!, rows.map((r) => ({ names, values: r.vector })), 0.25).driftedShare;
  assert.ok(share(windows['aapl-2008-crash']!) > share(windows['aapl-next-half-year']!));
});

t.run();
