/**
 * Financial sentiment classifier (negative / neutral / positive) trained from scratch with
 * TensorFlow.js, small enough to train on 2 CPU cores with the wasm backend.
 *
 * Architecture (an ensemble of independently trained members averaged into one tfjs graph):
 * - `cnn`: token ids → embedding → n-gram "convolutions" of several widths (windows + dense,
 *   see sentiment_analyzer_layers.ts for why not conv1d) → ReLU → global max pool → dropout →
 *   softmax;
 * - `bag`: TF-IDF weighted word 1–2-grams + character 3–5-grams (each group L2-normalised on
 *   its own) → linear softmax (a multinomial logistic regression with sparse inputs).
 * Each member is trained with class-weighted cross-entropy, Adam, seeded shuffling and
 * early stopping on the validation set (best weights restored). Members are trained one after
 * another and the final model outputs the mean of their probabilities.
 *
 * Pure ML logic: no I/O except `loadSentimentCsv`, which reads a local file.
 */
import { readFile } from 'node:fs/promises';
import type * as tfTypes from '@tensorflow/tfjs';
import { z } from 'zod';
import { parseCsvTable } from '../../text/csv.ts';
import { initTf, type Tf, type TfBackendName } from '../../tf.ts';
import { sentimentLayers } from './sentiment_analyzer_layers.ts';
import { bagGroups, SentimentFeaturizer, type BagFeatureConfig, type EncodedBatch, type FeatureConfig, type FeaturizerJson } from './sentiment_analyzer_features.ts';
import { mulberry32, seededShuffle } from '../../datasets/random.ts';
import { classificationReport, expectedCalibrationError, stratifiedSplit, type ClassificationReport } from './sentiment_analyzer_metrics.ts';
import { fitSoftmaxRegression, fitTemperature, linearLogits, meanNll, softmaxRows, tfidfRows, type LinearParams } from './sentiment_analyzer_linear.ts';

export const SENTIMENT_LABELS = ['negative', 'neutral', 'positive'] as const;
export type SentimentLabel = (typeof SENTIMENT_LABELS)[number];
export const SENTIMENT_ARTIFACT_FORMAT = 'stock-mlops/sentiment-analyzer@1';

export type SentimentErrorCode =
  | 'E_SENTIMENT_BAD_INPUT'
  | 'E_SENTIMENT_UNKNOWN_LABEL'
  | 'E_SENTIMENT_BAD_ARTIFACT'
  | 'E_SENTIMENT_DISPOSED';

export class SentimentError extends Error {
  readonly code: SentimentErrorCode;
  readonly retriable = false;
  readonly details: Record<string, unknown>;
  constructor(code: SentimentErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'SentimentError';
    this.code = code;
    this.details = details;
  }
}

// ---------------------------------------------------------------------------------------------
// Configuration

export interface CnnMemberConfig {
  kind: 'cnn';
  embeddingDim: number;
  kernelSizes: number[];
  filters: number;
  dropout: number;
  embeddingDropout: number;
  learningRate: number;
}

export interface BagMemberConfig {
  kind: 'bag';
  learningRate: number;
  /** L2 penalty on the feature weights (the only regulariser of a linear model besides early stopping). */
  l2: number;
  /**
   * 'adam' (default): mini-batch Adam with early stopping, like the other members. 'lbfgs': the
   * convex problem solved to convergence, full batch, in plain TypeScript
   * (sentiment_analyzer_linear.ts); `epochs`, `batchSize` and `learningRate` do not apply.
   */
  solver?: 'adam' | 'lbfgs';
  /** lbfgs: candidate L2 penalties; the one with the best validation `monitor` wins (default [l2]). */
  l2Grid?: number[];
  /** lbfgs: temperature scaling of the logits fitted on the validation set. */
  calibrate?: boolean;
  /** lbfgs: iteration cap per fit (default 300). */
  maxIterations?: number;
  /** lbfgs: stop when an iteration lowers the objective by less than this fraction (default 1e-6). */
  tolerance?: number;
}

export type MemberConfig = CnnMemberConfig | BagMemberConfig;

export interface SentimentConfig {
  features: FeatureConfig;
  members: MemberConfig[];
  batchSize: number;
  epochs: number;
  /** Epochs without improvement of `monitor` before a member stops. */
  patience: number;
  monitor: 'loss' | 'accuracy' | 'macroF1';
  /** 'balanced' = inverse class frequency weights (mean weight 1 over the training set). */
  classWeighting: 'balanced' | 'none';
  /**
   * After early stopping has chosen each member's epoch count, train again from scratch on
   * train + validation for that many epochs (more data, same recipe). Doubles training time;
   * the reported validation metrics are those of the model selected before the refit.
   */
  refit: boolean;
}

export const DEFAULT_SENTIMENT_CONFIG: SentimentConfig = {
  features: {
    maxLen: 64,
    vocabMinFrequency: 2,
    vocabMaxSize: 20_000,
    bag: { wordNgrams: 2, charNgrams: [3, 5], minFrequency: 2, maxFeatures: 60_000, maxWordFeaturesPerDoc: 128, maxCharFeaturesPerDoc: 512 },
    tokenizer: {},
  },
  members: [
    { kind: 'cnn', embeddingDim: 64, kernelSizes: [1, 2, 3], filters: 64, dropout: 0.5, embeddingDropout: 0.1, learningRate: 2e-3 },
    { kind: 'bag', learningRate: 5e-3, l2: 2e-5 },
  ],
  batchSize: 32,
  epochs: 20,
  patience: 3,
  monitor: 'loss',
  classWeighting: 'balanced',
  refit: true,
};

const DEFAULT_MEMBERS: { cnn: CnnMemberConfig; bag: BagMemberConfig } = {
  cnn: DEFAULT_SENTIMENT_CONFIG.members[0] as CnnMemberConfig,
  bag: DEFAULT_SENTIMENT_CONFIG.members[1] as BagMemberConfig,
};

export interface SentimentConfigOverrides extends Partial<Omit<SentimentConfig, 'features' | 'members'>> {
  features?: Partial<Omit<FeatureConfig, 'bag'>> & { bag?: Partial<BagFeatureConfig> | null };
  /** Each member is completed with the defaults of its kind. */
  members?: Array<Partial<MemberConfig> & { kind: MemberConfig['kind'] }>;
}

/** Defaults completed with `overrides` (nested objects merged), then checked. */
export function resolveSentimentConfig(overrides: SentimentConfigOverrides = {}): SentimentConfig {
  const d = DEFAULT_SENTIMENT_CONFIG;
  const f = overrides.features ?? {};
  const bag = f.bag === null ? null : d.features.bag && { ...d.features.bag, ...f.bag };
  const pick = <K extends keyof SentimentConfig>(key: K): SentimentConfig[K] => (overrides[key] as SentimentConfig[K] | undefined) ?? d[key];
  const config: SentimentConfig = {
    features: { ...d.features, ...f, bag, tokenizer: { ...d.features.tokenizer, ...f.tokenizer } },
    members: overrides.members ? overrides.members.map((m) => ({ ...DEFAULT_MEMBERS[m.kind], ...m }) as MemberConfig) : d.members,
    batchSize: pick('batchSize'),
    epochs: pick('epochs'),
    patience: pick('patience'),
    monitor: pick('monitor'),
    classWeighting: pick('classWeighting'),
    refit: pick('refit'),
  };
  const bad = (what: string): never => {
    throw new SentimentError('E_SENTIMENT_BAD_INPUT', `invalid sentiment config: ${what}`);
  };
  if (config.members.length === 0) bad('members is empty');
  if (!(config.batchSize >= 1 && config.epochs >= 1 && config.patience >= 0)) bad('batchSize/epochs/patience');
  if (config.features.maxLen < Math.max(1, ...config.members.flatMap((m) => (m.kind === 'cnn' ? m.kernelSizes : [1])))) {
    bad('maxLen shorter than the widest kernel');
  }
  if (config.members.some((m) => m.kind === 'bag') && !config.features.bag) bad('a bag member needs features.bag');
  return config;
}

// ---------------------------------------------------------------------------------------------
// Training

export interface LabelledTexts {
  texts: string[];
  labels: SentimentLabel[];
}

export interface EpochLog {
  member: number;
  kind: MemberConfig['kind'];
  epoch: number;
  loss: number;
  valLoss: number | null;
  valAccuracy: number | null;
  valMacroF1: number | null;
  seconds: number;
  /** True for the final re-training on train + validation (`refit`). */
  refit?: boolean;
}

export interface TrainSentimentOptions extends LabelledTexts, SentimentConfigOverrides {
  seed?: number;
  /** Explicit validation set (wins over `validationSplit`). */
  validation?: LabelledTexts;
  /** Stratified fraction of the training texts held out for early stopping. Default 0.15; 0 = none. */
  validationSplit?: number;
  onEpoch?: (log: EpochLog) => void | Promise<void>;
}

export interface TrainSentimentResult {
  model: SentimentModel;
  history: EpochLog[];
  /** Metrics of the final (ensembled) model on the validation set (plus its top-label ECE), null without one. */
  metrics: (ClassificationReport & { ece: number }) | null;
  /** What each member chose on validation: epochs (iterations for lbfgs), and for lbfgs the L2 penalty and temperature. */
  choices: MemberChoice[];
  /** Best epoch (1-based) per member. */
  bestEpochs: number[];
  trainingSeconds: number;
  backend: TfBackendName;
}

/** Inverse-frequency weights normalised so the mean weight over the samples is 1. */
export function computeClassWeights(labels: readonly SentimentLabel[]): Record<SentimentLabel, number> {
  const counts = Object.fromEntries(SENTIMENT_LABELS.map((l) => [l, 0])) as Record<SentimentLabel, number>;
  for (const l of labels) counts[l] += 1;
  const present = SENTIMENT_LABELS.filter((l) => counts[l] > 0).length;
  const weights = {} as Record<SentimentLabel, number>;
  for (const l of SENTIMENT_LABELS) weights[l] = counts[l] === 0 ? 0 : labels.length / (present * counts[l]);
  return weights;
}

export async function trainSentiment(options: TrainSentimentOptions): Promise<TrainSentimentResult> {
  const started = performance.now();
  const { tf, backend } = await initTf();
  const config = resolveSentimentConfig(options);
  const seed = options.seed ?? 42;
  checkLabelled(options, 'training');

  let train: LabelledTexts = { texts: options.texts, labels: options.labels };
  let validation: LabelledTexts | null = null;
  if (options.validation) {
    checkLabelled(options.validation, 'validation');
    validation = options.validation;
  } else if ((options.validationSplit ?? 0.15) > 0) {
    const split = stratifiedSplit(options.labels, options.validationSplit ?? 0.15, seed + 1);
    const pick = (idx: number[]): LabelledTexts => ({
      texts: idx.map((i) => options.texts[i] as string),
      labels: idx.map((i) => options.labels[i] as SentimentLabel),
    });
    train = pick(split.train);
    validation = pick(split.test);
  }

  const history: EpochLog[] = [];
  const onEpoch = async (log: EpochLog): Promise<void> => {
    history.push(log);
    await options.onEpoch?.(log);
  };
  const selected = await fitNetwork(tf, config, seed, train, validation, null, onEpoch);
  let metrics: (ClassificationReport & { ece: number }) | null = null;
  if (validation) {
    const valX = selected.featurizer.encode(validation.texts);
    const probs = await predictBatched(tf, selected.net.model, selected.net.model.inputNames, valX);
    const yVal = validation.labels.map(labelIndex);
    metrics = {
      ...classificationReport(yVal, argmaxRows(probs, SENTIMENT_LABELS.length), SENTIMENT_LABELS),
      ece: expectedCalibrationError(probs, yVal, SENTIMENT_LABELS.length),
    };
  }

  let final = selected;
  if (config.refit && validation) {
    // Same recipe on train + validation, each member for its selected number of epochs.
    selected.net.model.dispose();
    const all: LabelledTexts = { texts: [...train.texts, ...validation.texts], labels: [...train.labels, ...validation.labels] };
    final = await fitNetwork(tf, config, seed, all, null, selected.choices, async (log) => onEpoch({ ...log, refit: true }));
  }

  const model = new SentimentModel(tf, final.net.model, final.featurizer, config);
  return { model, history, metrics, bestEpochs: selected.choices.map((c) => c.epochs), choices: selected.choices, trainingSeconds: (performance.now() - started) / 1000, backend };
}

export interface MemberChoice {
  /** Best epoch (1-based), or L-BFGS iterations of an lbfgs member. */
  epochs: number;
  /** lbfgs members: the L2 penalty chosen on validation and the temperature dividing the logits. */
  l2?: number;
  temperature?: number;
}

interface FittedNetwork {
  net: Network;
  featurizer: SentimentFeaturizer;
  choices: MemberChoice[];
}

/**
 * Fits vocabularies and trains every member on `train`; with `validation`, each member stops
 * early and keeps its best weights; with `fixed`, member m trains exactly fixed[m].epochs (an
 * lbfgs member: to convergence with the fixed L2 penalty and temperature).
 */
async function fitNetwork(
  tf: Tf,
  config: SentimentConfig,
  seed: number,
  train: LabelledTexts,
  validation: LabelledTexts | null,
  fixed: MemberChoice[] | null,
  onEpoch: (log: EpochLog) => Promise<void>,
): Promise<FittedNetwork> {
  const { featurizer, idf } = SentimentFeaturizer.fit(train.texts, config.features);
  const classWeights = config.classWeighting === 'balanced' ? computeClassWeights(train.labels) : null;
  const data: Omit<MemberData, 'epochs'> = {
    trainX: featurizer.encode(train.texts),
    trainY: train.labels.map(labelIndex),
    sampleWeights: Float32Array.from(train.labels, (l) => (classWeights ? classWeights[l] : 1)),
    valX: validation ? featurizer.encode(validation.texts) : null,
    valY: validation ? validation.labels.map(labelIndex) : null,
    onEpoch,
  };
  const net = buildNetwork(tf, config, featurizer, seed);
  if (idf) net.setIdf(idf);
  const choices: MemberChoice[] = [];
  for (let m = 0; m < net.members.length; m++) {
    const member = net.members[m] as Member;
    if (member.config.kind === 'bag' && member.config.solver === 'lbfgs') {
      choices.push(await trainBagExact(tf, member, member.config, m, config, { ...data, epochs: 0 }, idf as Float32Array, fixed?.[m] ?? null));
      continue;
    }
    const epochs = fixed?.[m]?.epochs ?? config.epochs;
    choices.push({ epochs: await trainMember(tf, member, m, config, seed, { ...data, epochs }) });
  }
  return { net, featurizer, choices };
}

function checkLabelled(data: LabelledTexts, what: string): void {
  if (!Array.isArray(data.texts) || !Array.isArray(data.labels) || data.texts.length !== data.labels.length) {
    throw new SentimentError('E_SENTIMENT_BAD_INPUT', `${what}: texts and labels must be arrays of equal length`);
  }
  if (data.texts.length === 0) throw new SentimentError('E_SENTIMENT_BAD_INPUT', `${what}: no examples`);
  data.labels.forEach((l, i) => {
    if (!SENTIMENT_LABELS.includes(l)) {
      throw new SentimentError('E_SENTIMENT_UNKNOWN_LABEL', `${what}: unknown label ${JSON.stringify(l)} at ${i}`, { index: i });
    }
  });
}

function labelIndex(label: SentimentLabel): number {
  return SENTIMENT_LABELS.indexOf(label);
}

interface Member {
  config: MemberConfig;
  /** Sub-model over the shared inputs this member uses. */
  model: tfTypes.LayersModel;
  inputNames: InputName[];
  /** Weights subject to the L2 penalty. */
  penalised: tfTypes.LayerVariable[];
}

/** `tokens`, or `bag_<group>_ids` / `bag_<group>_counts`. */
type InputName = string;

interface Network {
  model: tfTypes.LayersModel;
  members: Member[];
  setIdf(idf: Float32Array): void;
}

function buildNetwork(tf: Tf, config: SentimentConfig, featurizer: SentimentFeaturizer, seed: number): Network {
  const L = sentimentLayers(tf);
  const { maxLen, bag } = config.features;
  const inputs: Record<InputName, tfTypes.SymbolicTensor> = {
    tokens: tf.input({ shape: [maxLen], dtype: 'int32', name: 'tokens' }),
  };
  const bagInputNames: InputName[] = [];
  for (const group of bag ? bagGroups(bag) : []) {
    const width = group === 'word' ? (bag as BagFeatureConfig).maxWordFeaturesPerDoc : (bag as BagFeatureConfig).maxCharFeaturesPerDoc;
    for (const suffix of ['ids', 'counts'] as const) {
      const name = `bag_${group}_${suffix}`;
      inputs[name] = tf.input({ shape: [width], dtype: suffix === 'ids' ? 'int32' : 'float32', name });
      bagInputNames.push(name);
    }
  }
  let layerSeed = seed * 1000;
  const nextSeed = (): number => ++layerSeed;
  const k = SENTIMENT_LABELS.length;
  const members: Member[] = [];
  const bagLayers: tfTypes.layers.Layer[] = [];

  config.members.forEach((mc, m) => {
    const p = `m${m}_${mc.kind}`;
    if (mc.kind === 'cnn') {
      const embedding = L.embedding({ inputDim: featurizer.vocab.size, outputDim: mc.embeddingDim, seed: nextSeed(), maskZero: true, name: `${p}_embedding` });
      let x = embedding.apply(inputs.tokens as tfTypes.SymbolicTensor) as tfTypes.SymbolicTensor;
      if (mc.embeddingDropout > 0) x = L.dropout({ rate: mc.embeddingDropout, seed: nextSeed(), name: `${p}_embedding_dropout` }).apply(x) as tfTypes.SymbolicTensor;
      const pooled = mc.kernelSizes.map((size) => {
        const windows = L.windows({ kernelSize: size, name: `${p}_windows${size}` }).apply(x);
        const conv = tf.layers
          .dense({ units: mc.filters, activation: 'relu', kernelInitializer: tf.initializers.heUniform({ seed: nextSeed() }), name: `${p}_conv${size}` })
          .apply(windows);
        return tf.layers.globalMaxPooling1d({ name: `${p}_maxpool${size}` }).apply(conv) as tfTypes.SymbolicTensor;
      });
      let h = pooled.length === 1 ? (pooled[0] as tfTypes.SymbolicTensor) : (tf.layers.concatenate({ name: `${p}_concat` }).apply(pooled) as tfTypes.SymbolicTensor);
      if (mc.dropout > 0) h = L.dropout({ rate: mc.dropout, seed: nextSeed(), name: `${p}_dropout` }).apply(h) as tfTypes.SymbolicTensor;
      const out = tf.layers
        .dense({ units: k, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }), name: `${p}_softmax` })
        .apply(h) as tfTypes.SymbolicTensor;
      const model = tf.model({ inputs: [inputs.tokens as tfTypes.SymbolicTensor], outputs: out, name: p });
      members.push({ config: mc, model, inputNames: ['tokens'], penalised: [] });
    } else {
      const bagLayer = L.tfidfBag({ inputDim: featurizer.bagVocab?.size ?? 1, outputDim: k, seed: nextSeed(), name: `${p}_tfidf` });
      bagLayers.push(bagLayer);
      const bagInputs = bagInputNames.map((n) => inputs[n] as tfTypes.SymbolicTensor);
      const logits = bagLayer.apply(bagInputs);
      // Bias + softmax; the kernel starts as identity so the member is exactly multinomial LR.
      const out = tf.layers
        .dense({ units: k, activation: 'softmax', kernelInitializer: tf.initializers.identity({}), name: `${p}_softmax` })
        .apply(logits) as tfTypes.SymbolicTensor;
      const model = tf.model({ inputs: bagInputs, outputs: out, name: p });
      const table = bagLayer.trainableWeights[0];
      members.push({ config: mc, model, inputNames: bagInputNames, penalised: table ? [table] : [] });
    }
  });

  const usedInputs = Object.keys(inputs).filter((name) => members.some((m) => m.inputNames.includes(name)));
  const outputs = members.map((m) => m.model.outputs[0] as tfTypes.SymbolicTensor);
  const combined = outputs.length === 1 ? (outputs[0] as tfTypes.SymbolicTensor) : (tf.layers.average({ name: 'ensemble_mean' }).apply(outputs) as tfTypes.SymbolicTensor);
  const model = tf.model({ inputs: usedInputs.map((n) => inputs[n] as tfTypes.SymbolicTensor), outputs: combined, name: 'sentiment_analyzer' });

  return {
    model,
    members,
    setIdf(idf) {
      for (const layer of bagLayers) {
        const [table, idfVar] = layer.weights;
        if (!table || !idfVar) continue;
        tf.tidy(() => layer.setWeights([table.read(), tf.tensor1d(idf)]));
      }
    },
  };
}

interface MemberData {
  epochs: number;
  trainX: EncodedBatch;
  trainY: number[];
  sampleWeights: Float32Array;
  valX: EncodedBatch | null;
  valY: number[] | null;
  onEpoch: (log: EpochLog) => Promise<void>;
}

/**
 * An lbfgs bag member: multinomial logistic regression on the member's TF-IDF rows solved to
 * convergence for each L2 candidate (strongest first, warm-started), the best on validation kept,
 * optionally temperature-scaled; the weights are then written into the member's layers
 * (table = W / T, softmax kernel = identity, bias = b / T), so serving is unchanged.
 */
async function trainBagExact(
  tf: Tf,
  member: Member,
  mc: BagMemberConfig,
  index: number,
  config: SentimentConfig,
  data: MemberData,
  idf: Float32Array,
  fixed: MemberChoice | null,
): Promise<MemberChoice> {
  const k = SENTIMENT_LABELS.length;
  const dim = idf.length;
  const rows = tfidfRows(data.trainX, idf);
  const fit = (l2: number, init?: LinearParams) =>
    fitSoftmaxRegression(rows, data.trainY, dim, k, { l2, sampleWeights: data.sampleWeights, maxIterations: mc.maxIterations ?? 300, tolerance: mc.tolerance ?? 1e-6, ...(init ? { init } : {}) });
  let chosen: { params: LinearParams; l2: number; temperature: number; iterations: number };
  if (fixed || !data.valX || !data.valY) {
    const l2 = fixed?.l2 ?? mc.l2;
    const t0 = performance.now();
    const r = fit(l2);
    chosen = { params: r.params, l2, temperature: fixed?.temperature ?? 1, iterations: r.iterations };
    await data.onEpoch({ member: index, kind: 'bag', epoch: 1, loss: r.objective, valLoss: null, valAccuracy: null, valMacroF1: null, seconds: (performance.now() - t0) / 1000 });
  } else {
    const valRows = tfidfRows(data.valX, idf);
    const valY = data.valY;
    const grid = [...new Set(mc.l2Grid && mc.l2Grid.length > 0 ? mc.l2Grid : [mc.l2])].sort((a, b) => b - a);
    let best: { score: number; params: LinearParams; l2: number; temperature: number; iterations: number } | null = null;
    let init: LinearParams | undefined;
    for (let g = 0; g < grid.length; g++) {
      const t0 = performance.now();
      const l2 = grid[g] as number;
      const r = fit(l2, init);
      init = r.params;
      const logits = linearLogits(valRows, r.params);
      const temperature = mc.calibrate ? fitTemperature(logits, valY, k) : 1;
      const probs = softmaxRows(logits, k, temperature);
      const valLoss = meanNll(probs, valY, k);
      const report = classificationReport(valY, argmaxRows(Float32Array.from(probs), k), SENTIMENT_LABELS);
      await data.onEpoch({
        member: index,
        kind: 'bag',
        epoch: g + 1,
        loss: r.objective,
        valLoss,
        valAccuracy: report.accuracy,
        valMacroF1: report.macroF1,
        seconds: (performance.now() - t0) / 1000,
      });
      const score = config.monitor === 'loss' ? -valLoss : config.monitor === 'accuracy' ? report.accuracy : report.macroF1;
      if (best === null || score > best.score) best = { score, params: r.params, l2, temperature, iterations: r.iterations };
    }
    chosen = best as NonNullable<typeof best>;
  }
  setLinearWeights(tf, member, chosen.params, chosen.temperature);
  return { epochs: chosen.iterations, l2: chosen.l2, temperature: chosen.temperature };
}

function setLinearWeights(tf: Tf, member: Member, p: LinearParams, temperature: number): void {
  const k = SENTIMENT_LABELS.length;
  for (const layer of member.model.layers) {
    const cls = layer.getClassName();
    if (cls === 'SmlTfidfBag') {
      const [, idfVar] = layer.weights;
      tf.tidy(() => layer.setWeights([tf.tensor2d(Float32Array.from(p.weights, (w) => w / temperature), [p.dim, k]), (idfVar as tfTypes.LayerVariable).read()]));
    } else if (cls === 'Dense') {
      tf.tidy(() => layer.setWeights([tf.eye(k), tf.tensor1d(Float32Array.from(p.bias, (b) => b / temperature))]));
    }
  }
}

async function trainMember(tf: Tf, member: Member, index: number, config: SentimentConfig, seed: number, data: MemberData): Promise<number> {
  const { trainX, trainY, sampleWeights, valX, valY } = data;
  const optimizer = tf.train.adam(member.config.learningRate);
  const rng = mulberry32(seed * 7919 + index);
  const k = SENTIMENT_LABELS.length;
  const l2 = member.config.kind === 'bag' ? member.config.l2 : 0;
  let order = trainY.map((_, i) => i);
  const better = (a: number, b: number): boolean => (config.monitor === 'loss' ? a < b : a > b);
  let best: { score: number; epoch: number; weights: tfTypes.Tensor[] } | null = null;
  let sinceBest = 0;

  try {
    for (let epoch = 1; epoch <= data.epochs; epoch++) {
      const t0 = performance.now();
      order = seededShuffle(order, rng);
      let lossSum = 0;
      let batches = 0;
      for (let start = 0; start < order.length; start += config.batchSize) {
        const idx = order.slice(start, start + config.batchSize);
        const loss = tf.tidy(() => {
          const xs = memberInputs(tf, member, trainX, idx);
          const y = tf.oneHot(tf.tensor1d(idx.map((i) => trainY[i] as number), 'int32'), k);
          const w = tf.tensor1d(idx.map((i) => sampleWeights[i] as number));
          const cost = optimizer.minimize(
            () => {
              const probs = member.model.apply(xs, { training: true }) as tfTypes.Tensor;
              const ce = tf.neg(tf.sum(tf.mul(y, tf.log(tf.clipByValue(probs, 1e-7, 1))), 1));
              let total = tf.div(tf.sum(tf.mul(ce, w)), tf.sum(w)) as tfTypes.Scalar;
              for (const v of member.penalised) total = tf.add(total, tf.mul(l2, tf.sum(tf.square(v.read())))) as tfTypes.Scalar;
              return total;
            },
            true,
            member.model.trainableWeights.map((v) => v.read() as tfTypes.Variable),
          );
          return cost as tfTypes.Scalar;
        });
        lossSum += (await loss.data())[0] as number;
        loss.dispose();
        batches++;
      }

      let valLoss: number | null = null;
      let valAccuracy: number | null = null;
      let valMacroF1: number | null = null;
      if (valX && valY) {
        const probs = await predictMember(tf, member, valX);
        valLoss = crossEntropy(probs, valY, k);
        const report = classificationReport(valY, argmaxRows(probs, k), SENTIMENT_LABELS);
        valAccuracy = report.accuracy;
        valMacroF1 = report.macroF1;
      }
      await data.onEpoch({
        member: index,
        kind: member.config.kind,
        epoch,
        loss: lossSum / Math.max(1, batches),
        valLoss,
        valAccuracy,
        valMacroF1,
        seconds: (performance.now() - t0) / 1000,
      });

      if (valLoss === null) continue;
      const score = config.monitor === 'loss' ? valLoss : config.monitor === 'accuracy' ? (valAccuracy as number) : (valMacroF1 as number);
      if (best === null || better(score, best.score)) {
        best?.weights.forEach((t) => t.dispose());
        best = { score, epoch, weights: member.model.getWeights().map((t) => t.clone()) };
        sinceBest = 0;
      } else if (++sinceBest > config.patience) {
        break;
      }
    }
    if (best) member.model.setWeights(best.weights);
    return best?.epoch ?? data.epochs;
  } finally {
    best?.weights.forEach((t) => t.dispose());
    optimizer.dispose();
  }
}

function memberInputs(tf: Tf, member: Member, x: EncodedBatch, idx: number[] | null): tfTypes.Tensor[] {
  return member.inputNames.map((name) => inputTensor(tf, name, x, idx));
}

/** Builds one input tensor for the rows `idx` (all rows when null). */
function inputTensor(tf: Tf, name: InputName, x: EncodedBatch, idx: number[] | null): tfTypes.Tensor {
  const src = inputSource(name, x);
  const width = x.n === 0 ? 0 : src.length / x.n;
  const rows = idx ?? Array.from({ length: x.n }, (_, i) => i);
  const out = src instanceof Int32Array ? new Int32Array(rows.length * width) : new Float32Array(rows.length * width);
  rows.forEach((r, j) => out.set(src.subarray(r * width, (r + 1) * width), j * width));
  return out instanceof Int32Array ? tf.tensor2d(out, [rows.length, width], 'int32') : tf.tensor2d(out, [rows.length, width], 'float32');
}

function inputSource(rawName: InputName, x: EncodedBatch): Int32Array | Float32Array {
  // tfjs uniquifies layer names per process: a second model built or loaded in the same process
  // names its inputs `tokens_1`, `bag_word_ids_1`, … Strip that suffix to find the features.
  const name = rawName.replace(/_\d+$/u, '');
  if (name === 'tokens') return x.tokens;
  const m = /^bag_(\w+?)_(ids|counts)$/u.exec(name);
  const bag = m ? x.bags.find((b) => b.group === m[1]) : undefined;
  if (!m || !bag) throw new SentimentError('E_SENTIMENT_BAD_ARTIFACT', `model input ${name} has no matching features`);
  return m[2] === 'ids' ? bag.ids : bag.counts;
}

const PREDICT_BATCH = 256;

async function predictMember(tf: Tf, member: Member, x: EncodedBatch): Promise<Float32Array> {
  return predictBatched(tf, member.model, member.inputNames, x);
}

async function predictBatched(tf: Tf, model: tfTypes.LayersModel, names: readonly InputName[], x: EncodedBatch): Promise<Float32Array> {
  const k = SENTIMENT_LABELS.length;
  const out = new Float32Array(x.n * k);
  for (let start = 0; start < x.n; start += PREDICT_BATCH) {
    const idx = Array.from({ length: Math.min(PREDICT_BATCH, x.n - start) }, (_, i) => start + i);
    const probs = tf.tidy(() => model.predict(names.map((n) => inputTensor(tf, n, x, idx))) as tfTypes.Tensor);
    out.set(await probs.data(), start * k);
    probs.dispose();
  }
  return out;
}

function crossEntropy(probs: Float32Array, y: readonly number[], k: number): number {
  let sum = 0;
  y.forEach((c, i) => {
    sum -= Math.log(Math.max(probs[i * k + c] as number, 1e-7));
  });
  return sum / Math.max(1, y.length);
}

function argmaxRows(probs: Float32Array, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < probs.length / k; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if ((probs[i * k + c] as number) > (probs[i * k + best] as number)) best = c;
    out.push(best);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Inference and serialization

export interface SentimentPrediction {
  label: SentimentLabel;
  probs: Record<SentimentLabel, number>;
  /** p(positive) − p(negative), in [−1, 1]. */
  score: number;
}

/** Everything needed to restore a model; JSON-safe except `weights` (store it as binary). */
export interface SentimentArtifact {
  format: typeof SENTIMENT_ARTIFACT_FORMAT;
  labels: SentimentLabel[];
  config: SentimentConfig;
  /** tfjs model.json content: `modelTopology` and `weightSpecs`. */
  modelJson: { modelTopology: object; weightSpecs: tfTypes.io.WeightsManifestEntry[]; format: 'layers-model'; generatedBy: string };
  weights: Uint8Array;
  /** Token and bag-feature vocabularies plus the feature config. */
  vocab: FeaturizerJson;
}

const artifactSchema = z.object({
  format: z.literal(SENTIMENT_ARTIFACT_FORMAT),
  labels: z.array(z.string()),
  config: z.object({ features: z.object({ maxLen: z.number().int().positive() }).passthrough(), members: z.array(z.object({ kind: z.enum(['cnn', 'bag']) }).passthrough()) }).passthrough(),
  modelJson: z.object({ modelTopology: z.record(z.string(), z.unknown()), weightSpecs: z.array(z.object({ name: z.string(), shape: z.array(z.number()), dtype: z.string() }).passthrough()) }).passthrough(),
  weights: z.instanceof(Uint8Array),
  vocab: z.object({ config: z.object({}).passthrough(), vocab: z.unknown(), bagVocab: z.unknown() }).passthrough(),
});

export class SentimentModel {
  private disposed = false;

  /** Use `trainSentiment` or `SentimentModel.deserialize`. */
  constructor(
    private readonly tf: Tf,
    private readonly model: tfTypes.LayersModel,
    private readonly featurizer: SentimentFeaturizer,
    readonly config: SentimentConfig,
  ) {}

  readonly labels: readonly SentimentLabel[] = SENTIMENT_LABELS;

  /** Number of trainable + non-trainable parameters. */
  get parameterCount(): number {
    return this.model.countParams();
  }

  async predict(texts: readonly string[]): Promise<SentimentPrediction[]> {
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
      throw new SentimentError('E_SENTIMENT_BAD_INPUT', 'predict expects an array of strings');
    }
    const probs = await this.predictEncoded(this.featurizer.encode(texts));
    const k = SENTIMENT_LABELS.length;
    return texts.map((_, i) => {
      const p = { negative: probs[i * k] as number, neutral: probs[i * k + 1] as number, positive: probs[i * k + 2] as number };
      const label = SENTIMENT_LABELS[argmaxRows(probs.subarray(i * k, i * k + k), k)[0] as number] as SentimentLabel;
      return { label, probs: p, score: p.positive - p.negative };
    });
  }

  /** Row-major n×3 probabilities for already-encoded texts. */
  async predictEncoded(x: EncodedBatch): Promise<Float32Array> {
    this.assertLive();
    return predictBatched(this.tf, this.model, this.model.inputNames, x);
  }

  async serialize(): Promise<SentimentArtifact> {
    this.assertLive();
    let saved: tfTypes.io.ModelArtifacts | undefined;
    await this.model.save(
      this.tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    if (!saved?.modelTopology || !saved.weightSpecs || !saved.weightData) {
      throw new SentimentError('E_SENTIMENT_BAD_ARTIFACT', 'tfjs save handler received no topology or weights');
    }
    const data = saved.weightData;
    const buffer = Array.isArray(data) ? this.tf.io.concatenateArrayBuffers(data) : data;
    return {
      format: SENTIMENT_ARTIFACT_FORMAT,
      labels: [...SENTIMENT_LABELS],
      config: this.config,
      modelJson: {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${this.tf.version.tfjs}`,
        modelTopology: saved.modelTopology as object,
        weightSpecs: saved.weightSpecs,
      },
      weights: new Uint8Array(buffer.slice(0)),
      vocab: this.featurizer.toJSON(),
    };
  }

  static async deserialize(artifact: SentimentArtifact): Promise<SentimentModel> {
    const parsed = artifactSchema.safeParse(artifact);
    if (!parsed.success) {
      throw new SentimentError('E_SENTIMENT_BAD_ARTIFACT', `invalid sentiment artifact: ${parsed.error.message}`);
    }
    if (artifact.labels.join() !== SENTIMENT_LABELS.join()) {
      throw new SentimentError('E_SENTIMENT_BAD_ARTIFACT', `artifact labels ${artifact.labels.join()} differ from ${SENTIMENT_LABELS.join()}`);
    }
    const { tf } = await initTf();
    sentimentLayers(tf); // registers the custom layer classes before the topology is read
    const w = artifact.weights;
    const weightData = w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) as ArrayBuffer;
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: artifact.modelJson.modelTopology, weightSpecs: artifact.modelJson.weightSpecs, weightData }),
    );
    return new SentimentModel(tf, model, SentimentFeaturizer.fromJSON(artifact.vocab), artifact.config);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }

  private assertLive(): void {
    if (this.disposed) throw new SentimentError('E_SENTIMENT_DISPOSED', 'the sentiment model was disposed');
  }
}

// ---------------------------------------------------------------------------------------------
// Data loading

export interface LoadSentimentCsvOptions {
  textColumn: string;
  labelColumn: string;
  /**
   * Raw label → sentiment label, as an object or a string like `0=negative,1=positive,2=neutral`.
   * The label names themselves (case-insensitive) are always understood as well.
   */
  labelMap?: Record<string, SentimentLabel> | string;
  /** Skip rows whose label is not in the map instead of failing. Default false. */
  skipUnknownLabels?: boolean;
}

export function parseLabelMap(spec: string): Record<string, SentimentLabel> {
  const map: Record<string, SentimentLabel> = {};
  for (const part of spec.split(',')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    const raw = trimmed.slice(0, eq).trim();
    const label = trimmed.slice(eq + 1).trim().toLowerCase();
    if (eq <= 0 || !SENTIMENT_LABELS.includes(label as SentimentLabel)) {
      throw new SentimentError('E_SENTIMENT_BAD_INPUT', `bad label map entry ${JSON.stringify(trimmed)} (expected raw=negative|neutral|positive)`);
    }
    map[raw] = label as SentimentLabel;
  }
  return map;
}

export async function loadSentimentCsv(path: string, options: LoadSentimentCsvOptions): Promise<LabelledTexts> {
  const { header, rows } = parseCsvTable(await readFile(path, 'utf8'));
  for (const column of [options.textColumn, options.labelColumn]) {
    if (!header.includes(column)) {
      throw new SentimentError('E_SENTIMENT_BAD_INPUT', `${path}: no column ${JSON.stringify(column)} (have ${header.join(', ')})`);
    }
  }
  const lookup = labelLookup(options.labelMap);
  const texts: string[] = [];
  const labels: SentimentLabel[] = [];
  rows.forEach((row, i) => {
    const raw = (row[options.labelColumn] ?? '').trim();
    const label = lookup.get(raw.toLowerCase());
    if (label === undefined) {
      if (options.skipUnknownLabels) return;
      const inFile = [...new Set(rows.map((r) => (r[options.labelColumn] ?? '').trim()))];
      throw new SentimentError(
        'E_SENTIMENT_UNKNOWN_LABEL',
        `${path}: record ${i + 2} has label ${JSON.stringify(raw)}, which the label map does not cover. ` +
          `Labels in column ${JSON.stringify(options.labelColumn)}: ${inFile.slice(0, 12).map((l) => JSON.stringify(l)).join(', ')}${inFile.length > 12 ? ', …' : ''}; ` +
          `mapped: ${[...lookup.keys()].join(', ')}. Pass --label-map with one RAW=negative|neutral|positive per label, ` +
          `e.g. --label-map ${inFile.slice(0, 3).map((l, k) => `${l}=${SENTIMENT_LABELS[k % SENTIMENT_LABELS.length]}`).join(',')}`,
        { record: i + 2, labels: inFile.slice(0, 50) },
      );
    }
    texts.push(row[options.textColumn] ?? '');
    labels.push(label);
  });
  return { texts, labels };
}

/**
 * Raw label (lower case) → sentiment label: the map's entries, plus the label names themselves
 * (`negative`, `Neutral`, `POSITIVE`…) unless the map gives that raw value another meaning. So a
 * CSV with text labels needs no map, whatever map the config carries for numeric ones.
 */
export function labelLookup(labelMap: Record<string, SentimentLabel> | string | undefined): Map<string, SentimentLabel> {
  const map = typeof labelMap === 'string' ? parseLabelMap(labelMap) : (labelMap ?? {});
  const lookup = new Map(Object.entries(map).map(([k, v]) => [k.trim().toLowerCase(), v]));
  for (const l of SENTIMENT_LABELS) if (!lookup.has(l)) lookup.set(l, l);
  return lookup;
}
