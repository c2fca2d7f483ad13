import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { mulberry32 } from '@stock-mlops/ml/datasets/random';
import { SENTIMENT_LABELS, SentimentModel, trainSentiment, type SentimentLabel } from '@stock-mlops/ml/models/sentiment_analyzer';
import { SentimentFeaturizer } from '@stock-mlops/ml/models/sentiment_analyzer_features';
import {
  fitSoftmaxRegression,
  fitTemperature,
  lbfgs,
  linearLogits,
  meanNll,
  nbLogCountRatios,
  softmaxRows,
  tfidfRows,
  type SparseRows,
} from '@stock-mlops/ml/models/sentiment_analyzer_linear';
import { expectedCalibrationError } from '@stock-mlops/ml/models/sentiment_analyzer_metrics';
import { fitNaiveBayes, predictNaiveBayes } from '@stock-mlops/ml/models/naive_bayes';
import { flattenClassification } from '@stock-mlops/ml/ml_service';
import { classificationReport } from '@stock-mlops/ml/models/sentiment_analyzer_metrics';
import { fiqaToLabelled, replaceMarkedSection, DOC_END, DOC_START } from '../../../bench/models.bench.ts';

const t = suite('sentiment linear member, calibration and baselines', { timeoutMs: 240_000 });

const close = (a: number, b: number, tol: number, what = ''): void => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b} (tol ${tol})`);

/** Dense rows → CSR. */
function csr(dense: number[][]): SparseRows {
  const indptr = [0];
  const indices: number[] = [];
  const values: number[] = [];
  for (const row of dense) {
    row.forEach((v, j) => {
      if (v !== 0) (indices.push(j), values.push(v));
    });
    indptr.push(indices.length);
  }
  return { n: dense.length, indptr: Int32Array.from(indptr), indices: Int32Array.from(indices), values: Float32Array.from(values) };
}

t('lbfgs finds the minimum of an ill-conditioned quadratic', () => {
  const target = [3, -2, 0.5, 10];
  const scale = [1, 100, 0.01, 5];
  const f = (x: Float64Array, g: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < x.length; i++) {
      const d = (x[i] as number) - (target[i] as number);
      s += (scale[i] as number) * d * d;
      g[i] = 2 * (scale[i] as number) * d;
    }
    return s;
  };
  const r = lbfgs(f, new Float64Array(4), { maxIterations: 200, tolerance: 1e-14 });
  target.forEach((v, i) => close(r.x[i] as number, v, 1e-3, `x${i}`));
  assert.ok(r.value < 1e-8);
});

t('softmax regression: converged (zero gradient), weights 2 = duplicated row, L2 shrinks the weights', () => {
  const rng = mulberry32(5);
  const dense = Array.from({ length: 60 }, () => Array.from({ length: 6 }, () => (rng() < 0.5 ? 0 : rng())));
  const y = dense.map((r) => ((r[0] as number) > (r[1] as number) ? 0 : (r[2] as number) > 0.3 ? 1 : 2));
  const rows = csr(dense);
  const fit = fitSoftmaxRegression(rows, y, 6, 3, { l2: 1e-3, maxIterations: 500, tolerance: 1e-12 });
  // Objective at the optimum is below every small perturbation of any single weight.
  const objective = (w: Float64Array, b: Float64Array): number => {
    const p = softmaxRows(linearLogits(rows, { dim: 6, k: 3, weights: w, bias: b }), 3);
    let l2 = 0;
    for (const v of w) l2 += v * v;
    return meanNll(p, y, 3) + 1e-3 * l2;
  };
  close(objective(fit.params.weights, fit.params.bias), fit.objective, 1e-9, 'objective');
  for (let j = 0; j < 18; j += 5) {
    for (const eps of [1e-3, -1e-3]) {
      const w = Float64Array.from(fit.params.weights);
      w[j] = (w[j] as number) + eps;
      assert.ok(objective(w, fit.params.bias) > fit.objective - 1e-12, `perturbing weight ${j} by ${eps} lowers the objective`);
    }
  }
  // Weighted fit ≡ fit with the first row duplicated.
  const weights = y.map((_, i) => (i === 0 ? 2 : 1));
  const a = fitSoftmaxRegression(rows, y, 6, 3, { l2: 1e-3, sampleWeights: weights, maxIterations: 500, tolerance: 1e-12 });
  const b = fitSoftmaxRegression(csr([dense[0] as number[], ...dense]), [y[0] as number, ...y], 6, 3, { l2: 1e-3, maxIterations: 500, tolerance: 1e-12 });
  a.params.weights.forEach((w, j) => close(w, b.params.weights[j] as number, 1e-3, `w${j}`));
  const norm = (w: Float64Array): number => Math.sqrt(w.reduce((s, v) => s + v * v, 0));
  const strong = fitSoftmaxRegression(rows, y, 6, 3, { l2: 1e-1, maxIterations: 500 });
  assert.ok(norm(strong.params.weights) < norm(fit.params.weights) / 2);
});

t('fitTemperature recovers the temperature labels were drawn with', () => {
  const rng = mulberry32(11);
  const n = 6000;
  const logits = new Float64Array(n * 3).map(() => (rng() - 0.5) * 8);
  const truth = softmaxRows(logits, 3, 2);
  const y = Array.from({ length: n }, (_, i) => {
    const u = rng();
    return u < (truth[i * 3] as number) ? 0 : u < (truth[i * 3] as number) + (truth[i * 3 + 1] as number) ? 1 : 2;
  });
  close(fitTemperature(logits, y, 3), 2, 0.15, 'temperature');
});

t('expectedCalibrationError matches a hand computation', () => {
  // Two in bin (0.6, 0.667], conf 0.65, one right: |0.5 − 0.65|; two in the top bin, conf 0.95 and 1, both right.
  const probs = [0.65, 0.2, 0.15, 0.1, 0.65, 0.25, 0.95, 0.05, 0, 0, 0, 1];
  const y = [0, 0, 0, 2];
  const expected = (2 / 4) * Math.abs(0.5 - 0.65) + (2 / 4) * Math.abs(1 - 0.975);
  close(expectedCalibrationError(probs, y, 3, 15), expected, 1e-12);
  close(expectedCalibrationError([1, 0, 0, 0, 1, 0], [0, 1], 3), 0, 1e-12);
  assert.throws(() => expectedCalibrationError([1, 0], [0], 3));
});

t('naive Bayes matches the multinomial formula with Laplace smoothing', () => {
  const m = fitNaiveBayes(['good good', 'bad'], [0, 1], 2, { maxN: 1, alpha: 1 });
  // Vocabulary {good, bad}: P(good|0) = 3/4, P(good|1) = 1/3; priors 1/2.
  const p = predictNaiveBayes(m, ['good', 'unseen words only']);
  close(p[0] as number, 0.75 / (0.75 + 1 / 3), 1e-12);
  close(p[2] as number, 0.5, 1e-12);
  const bigram = fitNaiveBayes(['not good', 'good'], [1, 0], 2);
  assert.ok(bigram.logLikelihood.has('not good'));
});

const TOY: Record<SentimentLabel, string[]> = {
  positive: ['shares rose on strong earnings', 'profit beats expectations', 'stock rallies after upgrade', 'record revenue growth lifts shares', 'strong profit lifts stock'],
  negative: ['shares fell after weak guidance', 'loss widens on lower sales', 'stock plunges after downgrade', 'revenue misses estimates', 'weak sales hit stock'],
  neutral: ['company to hold annual meeting', 'board names new director', 'firm files quarterly report', 'call scheduled for monday', 'company names new auditor'],
};

t('an lbfgs bag member serves exactly the linear model it fitted (temperature folded in), also after a round trip', async () => {
  const texts: string[] = [];
  const labels: SentimentLabel[] = [];
  for (const l of SENTIMENT_LABELS) for (const s of TOY[l]) for (let r = 0; r < 3; r++) (texts.push(`${s} ${r}`), labels.push(l));
  const result = await trainSentiment({
    texts,
    labels,
    members: [{ kind: 'bag', solver: 'lbfgs', l2Grid: [1e-2, 1e-3], calibrate: true }],
    features: { bag: { minFrequency: 1 } },
    validation: { texts: TOY.positive.map((s) => `${s} x`).concat(TOY.negative.map((s) => `${s} x`)), labels: [...Array(5).fill('positive'), ...Array(5).fill('negative')] },
    refit: false,
    seed: 3,
  });
  const choice = result.choices[0];
  assert.ok(choice && choice.l2 !== undefined && [1e-2, 1e-3].includes(choice.l2), 'an l2 from the grid was chosen');
  assert.ok(choice?.temperature !== undefined && choice.temperature > 0);
  assert.ok(result.metrics && Number.isFinite(result.metrics.ece));
  // Refit the same linear problem in JS and compare with what tfjs serves.
  const { featurizer, idf } = SentimentFeaturizer.fit(texts, result.model.config.features);
  const weights = labels.map(() => 1);
  const fit = fitSoftmaxRegression(tfidfRows(featurizer.encode(texts), idf!), labels.map((l) => SENTIMENT_LABELS.indexOf(l)), idf!.length, 3, {
    l2: choice!.l2!,
    sampleWeights: weights,
  });
  const probe = ['profit rose', 'stock plunges', 'board meeting'];
  const expected = softmaxRows(linearLogits(tfidfRows(featurizer.encode(probe), idf!), fit.params), 3, choice!.temperature);
  const served = await result.model.predict(probe);
  served.forEach((p, i) => SENTIMENT_LABELS.forEach((l, c) => close(p.probs[l], expected[i * 3 + c] as number, 2e-3, `${probe[i]} ${l}`)));
  assert.is(served[0]?.label, 'positive');
  assert.is(served[1]?.label, 'negative');
  const restored = await SentimentModel.deserialize(await result.model.serialize());
  const again = await restored.predict(probe);
  again.forEach((p, i) => SENTIMENT_LABELS.forEach((l) => close(p.probs[l], served[i]!.probs[l], 1e-6)));
  restored.dispose();
  result.model.dispose();
});

t('an nbScale lbfgs bag member serves the NB-scaled linear model it fitted (ratios folded into the table), identical after a round trip', async () => {
  const texts: string[] = [];
  const labels: SentimentLabel[] = [];
  for (const l of SENTIMENT_LABELS) for (const s of TOY[l]) for (let r = 0; r < 3; r++) (texts.push(`${s} ${r}`), labels.push(l));
  const result = await trainSentiment({
    texts,
    labels,
    members: [{ kind: 'bag', solver: 'lbfgs', l2Grid: [1e-2, 1e-3], calibrate: true, nbScale: true, nbAlpha: 0.5 }],
    features: { bag: { minFrequency: 1 } },
    validation: { texts: TOY.positive.map((s) => `${s} x`).concat(TOY.negative.map((s) => `${s} x`)), labels: [...Array(5).fill('positive'), ...Array(5).fill('negative')] },
    refit: false,
    seed: 3,
  });
  const choice = result.choices[0]!;
  const { featurizer, idf } = SentimentFeaturizer.fit(texts, result.model.config.features);
  const rows = tfidfRows(featurizer.encode(texts), idf!);
  const y = labels.map((l) => SENTIMENT_LABELS.indexOf(l));
  const scale = nbLogCountRatios(rows, y, idf!.length, 3, 0.5);
  const fit = fitSoftmaxRegression(rows, y, idf!.length, 3, { l2: choice.l2!, sampleWeights: labels.map(() => 1), scale });
  const plain = fitSoftmaxRegression(rows, y, idf!.length, 3, { l2: choice.l2!, sampleWeights: labels.map(() => 1) });
  const probe = ['profit rose', 'stock plunges', 'board meeting'];
  const probeRows = tfidfRows(featurizer.encode(probe), idf!);
  const expected = softmaxRows(linearLogits(probeRows, fit.params), 3, choice.temperature);
  const scaledLogits = linearLogits(probeRows, fit.params);
  const plainLogits = linearLogits(probeRows, plain.params);
  const gap = Math.max(...scaledLogits.map((v, q) => Math.abs(v - (plainLogits[q] as number))));
  assert.ok(gap > 1e-2, `the NB scaling changes the model (max logit gap ${gap})`);
  const served = await result.model.predict(probe);
  served.forEach((p, i) => SENTIMENT_LABELS.forEach((l, c) => close(p.probs[l], expected[i * 3 + c] as number, 2e-3, `${probe[i]} ${l}`)));
  assert.is(served[1]?.label, 'negative');
  const restored = await SentimentModel.deserialize(await result.model.serialize());
  const again = await restored.predict(probe);
  again.forEach((p, i) => SENTIMENT_LABELS.forEach((l) => assert.is(p.probs[l], served[i]!.probs[l], `${probe[i]} ${l} after a round trip`)));
  assert.is(restored.config.members[0]?.kind === 'bag' && restored.config.members[0].nbScale, true, 'the artifact records nbScale');
  restored.dispose();
  result.model.dispose();
});

t('nbLogCountRatios: one-vs-rest NB log-count ratios of binarised rows, by hand', () => {
  // Presence: doc0 (class 0) {0, 1}; doc1 (class 1) {1, 2}; doc2 (class 2) {2} (any value > 0 counts once).
  const rows = csr([
    [0.3, 0.9, 0],
    [0, 2, 0.1],
    [0, 0, 0.5],
  ]);
  const r = nbLogCountRatios(rows, [0, 1, 2], 3, 3, 1);
  // class 0: p = 1 + [1,1,0] = [2,2,1] (sum 5), q = 1 + [0,1,2] = [1,2,3] (sum 6)
  // class 1: p = [1,2,2] (5), q = [2,2,2] (6); class 2: p = [1,1,2] (4), q = [2,3,2] (7)
  const expected = [
    [Math.log(12 / 5), Math.log(3 / 5), Math.log(7 / 8)],
    [Math.log(6 / 5), Math.log(6 / 5), Math.log(7 / 12)],
    [Math.log(2 / 5), Math.log(6 / 5), Math.log(7 / 4)],
  ];
  expected.forEach((row, j) => row.forEach((v, c) => close(r[j * 3 + c] as number, v, 1e-12, `r[${j}][${c}]`)));
  // alpha = 2: class 0, feature 0: p = (2 + 1) / (6 + 2) ... q = 2 / (3·2 + 3)
  close(nbLogCountRatios(rows, [0, 1, 2], 3, 3, 2)[0] as number, Math.log((3 / 8) / (2 / 9)), 1e-12, 'alpha 2');
});

t('softmax regression with a scale: same model as the features scaled beforehand (class-independent scale)', () => {
  const rng = mulberry32(9);
  const dense = Array.from({ length: 50 }, () => Array.from({ length: 5 }, () => (rng() < 0.4 ? 0 : rng())));
  const y = dense.map((r) => ((r[0] as number) > (r[1] as number) ? 0 : (r[3] as number) > 0.4 ? 1 : 2));
  const s = [0.5, 2, 1.5, -1, 0.8];
  const scale = Float64Array.from({ length: 15 }, (_, q) => s[Math.floor(q / 3)] as number);
  const opts = { l2: 1e-2, maxIterations: 500, tolerance: 1e-12 };
  const scaled = fitSoftmaxRegression(csr(dense), y, 5, 3, { ...opts, scale });
  const pre = fitSoftmaxRegression(csr(dense.map((r) => r.map((v, j) => v * (s[j] as number)))), y, 5, 3, opts);
  // Same penalty on θ, so θ agree, and the returned (scaled) weights reproduce the logits.
  scaled.raw.weights.forEach((v, q) => close(v, pre.params.weights[q] as number, 1e-4, `θ${q}`));
  const a = linearLogits(csr(dense), scaled.params);
  const b = linearLogits(csr(dense.map((r) => r.map((v, j) => v * (s[j] as number)))), pre.params);
  a.forEach((v, q) => close(v, b[q] as number, 1e-4, `logit ${q}`));
  close(scaled.objective, pre.objective, 1e-9, 'objective');
});

t('models bench: FiQA thresholds and the docs section replaced between its markers only', () => {
  const d = fiqaToLabelled({
    a: { sentence: 'x', info: [{ sentiment_score: '-0.3' }] },
    b: { sentence: 'y', info: [{ sentiment_score: '0.05' }, { sentiment_score: '-0.01' }] },
    c: { sentence: 'z', info: [{ sentiment_score: 0.4 }] },
  });
  assert.equal(d.labels, ['negative', 'neutral', 'positive']);
  const doc = '# Models\n\nintro\n\n# Price model\n\nprice text\n';
  const once = replaceMarkedSection(doc, 'table v1');
  assert.ok(once.includes(`${DOC_START}\ntable v1\n${DOC_END}`));
  assert.ok(once.indexOf(DOC_START) < once.indexOf('# Price model'));
  const twice = replaceMarkedSection(once, 'table v2');
  assert.not.ok(twice.includes('table v1'));
  assert.is(twice.replace('table v2', 'table v1'), once);
  assert.ok(twice.endsWith('price text\n') && twice.startsWith('# Models\n\nintro\n'));
});

t('the registry metrics carry the ECE when the report has one', () => {
  const r = classificationReport([0, 1, 2], [0, 1, 1], ['negative', 'neutral', 'positive']);
  assert.is(flattenClassification({ ...r, ece: 0.125 }).ece, 0.125);
  assert.is(flattenClassification(r).ece, undefined);
  assert.is(flattenClassification({ ...r, ece: Number.NaN }).ece, undefined);
});

t.run();
