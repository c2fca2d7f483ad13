import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import {
  SENTIMENT_LABELS,
  SentimentModel,
  computeClassWeights,
  loadSentimentCsv,
  parseLabelMap,
  resolveSentimentConfig,
  trainSentiment,
  type SentimentLabel,
} from '@stock-mlops/ml/models/sentiment_analyzer';
import { classificationReport, majorityBaseline, stratifiedSample, stratifiedSplit } from '@stock-mlops/ml/models/sentiment_analyzer_metrics';
import { loadSharedSentimentDataset, pick } from '@stock-mlops/ml/models/sentiment_analyzer_eval';

const errorCode = (code: string) => (err: unknown) => (err as { code?: string }).code === code;
const labelIndex = (l: SentimentLabel) => SENTIMENT_LABELS.indexOf(l);

/** Small model so the unit tests stay fast. */
const SMALL = {
  members: [
    { kind: 'cnn' as const, embeddingDim: 32, filters: 32, kernelSizes: [1, 2, 3] },
    { kind: 'bag' as const },
  ],
  refit: false,
};

const TOY: Record<SentimentLabel, string[]> = {
  positive: ['shares rose on strong earnings', 'profit beats expectations', 'stock rallies after upgrade', 'record revenue growth lifts shares'],
  negative: ['shares fell after weak guidance', 'loss widens on lower sales', 'stock plunges after downgrade', 'revenue misses estimates'],
  neutral: ['company to hold annual meeting', 'board names new director', 'firm files quarterly report', 'call scheduled for monday'],
};
const toy = (): { texts: string[]; labels: SentimentLabel[] } => {
  const texts: string[] = [];
  const labels: SentimentLabel[] = [];
  for (const label of SENTIMENT_LABELS) for (const text of TOY[label]) (texts.push(text), labels.push(label));
  return { texts, labels };
};

const t = suite('sentiment analyzer', { timeoutMs: 240_000 });

t('class weights are inverse frequency with mean weight 1 over the samples', () => {
  const labels: SentimentLabel[] = [...Array(6).fill('neutral'), ...Array(3).fill('positive'), 'negative'];
  const w = computeClassWeights(labels);
  assert.ok(Math.abs(w.neutral - 10 / 18) < 1e-12);
  assert.ok(Math.abs(w.positive - 10 / 9) < 1e-12);
  assert.ok(Math.abs(w.negative - 10 / 3) < 1e-12);
  const mean = labels.reduce((s, l) => s + w[l], 0) / labels.length;
  assert.ok(Math.abs(mean - 1) < 1e-12);
  assert.is(computeClassWeights(['positive', 'neutral']).negative, 0);
});

t('label maps parse and reject bad entries', () => {
  assert.equal(parseLabelMap('0=negative, 1=positive,2=Neutral'), { '0': 'negative', '1': 'positive', '2': 'neutral' });
  assert.throws(() => parseLabelMap('0=bearish'), errorCode('E_SENTIMENT_BAD_INPUT'));
  assert.throws(() => parseLabelMap('negative'), errorCode('E_SENTIMENT_BAD_INPUT'));
});

t('config overrides merge into the defaults per member kind', () => {
  const c = resolveSentimentConfig({ epochs: 3, members: [{ kind: 'bag', l2: 0 }], features: { bag: { minFrequency: 1 } } });
  assert.is(c.epochs, 3);
  assert.is(c.members[0]?.kind, 'bag');
  assert.ok((c.members[0] as { learningRate: number }).learningRate > 0);
  assert.is(c.features.bag?.minFrequency, 1);
  assert.is(c.features.bag?.wordNgrams, 2);
  assert.throws(() => resolveSentimentConfig({ members: [] }), errorCode('E_SENTIMENT_BAD_INPUT'));
  assert.throws(() => resolveSentimentConfig({ features: { bag: null } }), errorCode('E_SENTIMENT_BAD_INPUT'));
});

t('metrics match hand-computed values', () => {
  const r = classificationReport([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], ['a', 'b', 'c']);
  assert.is(r.accuracy, 4 / 6);
  assert.equal(r.confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 1]]);
  assert.ok(Math.abs((r.perClass.b?.precision ?? 0) - 2 / 3) < 1e-12);
  assert.ok(Math.abs(r.macroF1 - (0.5 + 0.8 + 2 / 3) / 3) < 1e-12);
  const base = majorityBaseline([1, 1, 0], [0, 1, 1], ['a', 'b']);
  assert.is(base.accuracy, 2 / 3);
});

t('stratified split is seeded and keeps class proportions', () => {
  const labels = [...Array(80).fill('n'), ...Array(20).fill('p')];
  const a = stratifiedSplit(labels, 0.25, 1);
  assert.equal(a, stratifiedSplit(labels, 0.25, 1));
  assert.not.equal(a.test, stratifiedSplit(labels, 0.25, 2).test);
  assert.is(a.test.filter((i) => labels[i] === 'p').length, 5);
  assert.is(a.train.length + a.test.length, 100);
  assert.is(new Set([...a.train, ...a.test]).size, 100);
});

t('loadSentimentCsv maps labels and reports unmapped ones', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sentiment-csv-'));
  try {
    const file = path.join(dir, 'x.csv');
    await writeFile(file, 'text,label\n"$GM: cut, to Hold",0\nrally,1\nmeeting,2\nodd,9\n');
    const data = await loadSentimentCsv(file, { textColumn: 'text', labelColumn: 'label', labelMap: '0=negative,1=positive,2=neutral', skipUnknownLabels: true });
    assert.equal(data, { texts: ['$GM: cut, to Hold', 'rally', 'meeting'], labels: ['negative', 'positive', 'neutral'] });
    let code: string | undefined;
    await loadSentimentCsv(file, { textColumn: 'text', labelColumn: 'label', labelMap: '0=negative,1=positive,2=neutral' }).catch((e: { code?: string }) => {
      code = e.code;
    });
    assert.is(code, 'E_SENTIMENT_UNKNOWN_LABEL');
    // Text labels, in any case, need no map, whatever map is configured for numeric ones.
    const textFile = path.join(dir, 'text.csv');
    await writeFile(textFile, 'text,label\ndown,Negative\nflat,NEUTRAL\nup,positive\n');
    for (const labelMap of [undefined, '0=negative,1=positive,2=neutral']) {
      const t = await loadSentimentCsv(textFile, { textColumn: 'text', labelColumn: 'label', ...(labelMap ? { labelMap } : {}) });
      assert.equal(t.labels, ['negative', 'neutral', 'positive']);
    }
    // An unknown label names the labels the file holds and the flag to pass.
    const odd = path.join(dir, 'odd.csv');
    await writeFile(odd, 'text,label\nup,bullish\ndown,bearish\nup again,bullish\n');
    const err = await loadSentimentCsv(odd, { textColumn: 'text', labelColumn: 'label' }).catch((e: Error & { code?: string }) => e);
    assert.instance(err, Error);
    assert.is((err as { code?: string }).code, 'E_SENTIMENT_UNKNOWN_LABEL');
    assert.match((err as Error).message, /"bullish", "bearish"/);
    assert.match((err as Error).message, /--label-map/);
    code = undefined;
    await loadSentimentCsv(file, { textColumn: 'sentence', labelColumn: 'label' }).catch((e: { code?: string }) => {
      code = e.code;
    });
    assert.is(code, 'E_SENTIMENT_BAD_INPUT');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

t('serialize → deserialize gives identical predictions; training is reproducible', async () => {
  const data = toy();
  const run = () => trainSentiment({ ...data, ...SMALL, epochs: 3, validationSplit: 0, seed: 7 });
  const { model } = await run();
  const { model: again } = await run();
  const probe = ['shares rose after strong earnings', 'loss widens', 'annual meeting', '', '$AAPL 🚀 +5%', '삼성전자 주가 상승'];
  const before = await model.predict(probe);
  assert.equal(await again.predict(probe), before, 'same seed, same model');

  const artifact = await model.serialize();
  assert.is(artifact.format, 'stock-mlops/sentiment-analyzer@1');
  assert.ok(artifact.weights instanceof Uint8Array && artifact.weights.byteLength > 0);
  // Through JSON + a Buffer copy, as a registry storing binary documents would do.
  const { weights, ...json } = artifact;
  const restored = await SentimentModel.deserialize({ ...JSON.parse(JSON.stringify(json)), weights: new Uint8Array(Buffer.from(weights)) });
  const after = await restored.predict(probe);
  assert.equal(after, before);
  for (const p of after) {
    const sum = p.probs.negative + p.probs.neutral + p.probs.positive;
    assert.ok(Math.abs(sum - 1) < 1e-5);
    assert.ok(Math.abs(p.score - (p.probs.positive - p.probs.negative)) < 1e-12);
    assert.ok(SENTIMENT_LABELS.includes(p.label));
  }
  let code: string | undefined;
  await SentimentModel.deserialize({ ...artifact, format: 'other' } as never).catch((e: { code?: string }) => {
    code = e.code;
  });
  assert.is(code, 'E_SENTIMENT_BAD_ARTIFACT');
  restored.dispose();
  model.dispose();
  again.dispose();
  let disposed: string | undefined;
  await model.predict(['x']).catch((e: { code?: string }) => {
    disposed = e.code;
  });
  assert.is(disposed, 'E_SENTIMENT_DISPOSED');
});

t('rejects bad training input with codes', async () => {
  let code: string | undefined;
  await trainSentiment({ texts: ['a'], labels: ['bullish' as SentimentLabel] }).catch((e: { code?: string }) => {
    code = e.code;
  });
  assert.is(code, 'E_SENTIMENT_UNKNOWN_LABEL');
  code = undefined;
  await trainSentiment({ texts: ['a', 'b'], labels: ['positive'] }).catch((e: { code?: string }) => {
    code = e.code;
  });
  assert.is(code, 'E_SENTIMENT_BAD_INPUT');
});

t('learns PhraseBank well above the majority-class baseline (1200 train / 400 test)', async () => {
  const all = await loadSharedSentimentDataset('phrasebank');
  const subset = pick(all, stratifiedSample(all.labels, 1600, 11));
  const split = stratifiedSplit(subset.labels, 0.25, 12);
  const train = pick(subset, split.train);
  const test = pick(subset, split.test);
  // per-class rounding may move a text or two
  assert.ok(Math.abs(train.texts.length - 1200) <= 3 && Math.abs(test.texts.length - 400) <= 3);

  const epochs: number[] = [];
  const result = await trainSentiment({ ...train, ...SMALL, epochs: 6, patience: 1, seed: 3, validationSplit: 0.15, onEpoch: (e) => void epochs.push(e.epoch) });
  try {
    assert.ok(epochs.length >= 2, 'onEpoch called');
    assert.ok(result.metrics !== null && Math.abs(result.metrics.count - 180) <= 3);
    const predictions = await result.model.predict(test.texts);
    const yTrue = test.labels.map(labelIndex);
    const report = classificationReport(yTrue, predictions.map((p) => labelIndex(p.label)), SENTIMENT_LABELS);
    const baseline = majorityBaseline(train.labels.map(labelIndex), yTrue, SENTIMENT_LABELS);
    assert.ok(report.accuracy > baseline.accuracy + 0.05, `accuracy ${report.accuracy} vs majority ${baseline.accuracy}`);
    assert.ok(report.macroF1 > baseline.macroF1 + 0.25, `macro-F1 ${report.macroF1} vs majority ${baseline.macroF1}`);
  } finally {
    result.model.dispose();
  }
});

t.run();
