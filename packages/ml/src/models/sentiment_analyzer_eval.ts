/**
 * Reproducible evaluation of the sentiment analyzer on the shared datasets.
 *
 *   npx tsx packages/ml/src/models/sentiment_analyzer_eval.ts \
 *     --dataset phrasebank|twitter [--seed 42] [--test-fraction 0.2] [--val-fraction 0.15] \
 *     [--config '{"epochs":30}'] [--json out.json]
 *
 * The chosen dataset's train80 file is split (stratified, seeded) into train / test; the
 * training part is split again into fit / validation for early stopping. Only the validation
 * split is used for model selection; the test split is scored once at the end. Nothing is
 * written unless `--json` is given. The data is read from SHARED_DATA_DIR (default
 * ../shared/data next to the repository) and never copied.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSentimentCsv, trainSentiment, SENTIMENT_LABELS, type LabelledTexts, type SentimentConfigOverrides } from './sentiment_analyzer.ts';
import { classificationReport, majorityBaseline, stratifiedSplit, type ClassificationReport } from './sentiment_analyzer_metrics.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const sharedDataDir = (): string => process.env.SHARED_DATA_DIR ?? path.resolve(repoRoot, '../shared/data');

export const SENTIMENT_DATASETS = {
  phrasebank: {
    file: 'sentiment/financial_phrasebank_50agree.train80.csv',
    textColumn: 'sentence',
    labelColumn: 'label',
    labelMap: 'negative=negative,neutral=neutral,positive=positive',
  },
  twitter: {
    file: 'sentiment/twitter_financial_news_sentiment.train80.csv',
    textColumn: 'text',
    labelColumn: 'label',
    labelMap: '0=negative,1=positive,2=neutral',
  },
} as const;
export type SentimentDatasetName = keyof typeof SENTIMENT_DATASETS;

export function loadSharedSentimentDataset(name: SentimentDatasetName): Promise<LabelledTexts> {
  const d = SENTIMENT_DATASETS[name];
  return loadSentimentCsv(path.join(sharedDataDir(), d.file), d);
}

export function pick(data: LabelledTexts, idx: readonly number[]): LabelledTexts {
  return { texts: idx.map((i) => data.texts[i] as string), labels: idx.map((i) => data.labels[i] as (typeof data.labels)[number]) };
}

function formatReport(name: string, r: ClassificationReport): string {
  const lines = [`${name}: n=${r.count} accuracy=${r.accuracy.toFixed(4)} macroF1=${r.macroF1.toFixed(4)}`];
  for (const l of r.labels) {
    const c = r.perClass[l];
    if (c) lines.push(`  ${l.padEnd(9)} P=${c.precision.toFixed(3)} R=${c.recall.toFixed(3)} F1=${c.f1.toFixed(3)} n=${c.support}`);
  }
  lines.push(`  confusion (rows=true ${r.labels.join('/')}): ${JSON.stringify(r.confusion)}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dataset: { type: 'string', default: 'phrasebank' },
      seed: { type: 'string', default: '42' },
      'test-fraction': { type: 'string', default: '0.2' },
      'val-fraction': { type: 'string', default: '0.15' },
      config: { type: 'string', default: '{}' },
      json: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const dataset = values.dataset as SentimentDatasetName;
  if (!(dataset in SENTIMENT_DATASETS)) throw new Error(`unknown dataset ${dataset}`);
  const seed = Number(values.seed);
  const overrides = JSON.parse(values.config) as SentimentConfigOverrides;

  const data = await loadSharedSentimentDataset(dataset);
  const split = stratifiedSplit(data.labels, Number(values['test-fraction']), seed);
  const train = pick(data, split.train);
  const test = pick(data, split.test);

  const result = await trainSentiment({
    ...overrides,
    ...train,
    seed,
    validationSplit: Number(values['val-fraction']),
    onEpoch: (e) => {
      if (values.quiet) return;
      const val = e.valLoss === null ? '' : ` valLoss=${e.valLoss.toFixed(4)} valAcc=${e.valAccuracy?.toFixed(4)} valF1=${e.valMacroF1?.toFixed(4)}`;
      console.log(`${e.refit ? 'refit ' : ''}member ${e.member} (${e.kind}) epoch ${e.epoch}: loss=${e.loss.toFixed(4)}${val} ${e.seconds.toFixed(1)}s`);
    },
  });
  const predictStart = performance.now();
  const predictions = await result.model.predict(test.texts);
  const predictSeconds = (performance.now() - predictStart) / 1000;
  const yTrue = test.labels.map((l) => SENTIMENT_LABELS.indexOf(l));
  const yPred = predictions.map((p) => SENTIMENT_LABELS.indexOf(p.label));
  const testReport = classificationReport(yTrue, yPred, SENTIMENT_LABELS);
  const baseline = majorityBaseline(
    train.labels.map((l) => SENTIMENT_LABELS.indexOf(l)),
    yTrue,
    SENTIMENT_LABELS,
  );
  const artifact = await result.model.serialize();
  const artifactBytes = artifact.weights.byteLength + Buffer.byteLength(JSON.stringify({ ...artifact, weights: undefined }));

  console.log(`backend=${result.backend} train=${train.texts.length} test=${test.texts.length} bestEpochs=${result.bestEpochs.join(',')}`);
  console.log(`training ${result.trainingSeconds.toFixed(1)} s; predict ${test.texts.length} texts ${predictSeconds.toFixed(2)} s`);
  console.log(`parameters=${result.model.parameterCount} artifact=${(artifactBytes / 1e6).toFixed(2)} MB (weights ${(artifact.weights.byteLength / 1e6).toFixed(2)} MB)`);
  if (result.metrics) console.log(formatReport('validation', result.metrics));
  console.log(formatReport('test', testReport));
  console.log(formatReport('majority baseline (test)', baseline));
  if (values.json) {
    await writeFile(
      values.json,
      JSON.stringify(
        { dataset, seed, backend: result.backend, trainingSeconds: result.trainingSeconds, bestEpochs: result.bestEpochs, artifactBytes, parameters: result.model.parameterCount, validation: result.metrics, test: testReport, baseline, history: result.history, config: result.model.config },
        null,
        2,
      ),
    );
  }
  result.model.dispose();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
