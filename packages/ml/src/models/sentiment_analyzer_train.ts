/**
 * Sentiment analyzer training: every member fitted in turn (class-weighted cross-entropy with
 * Adam, seeded shuffling and early stopping, or an exact L-BFGS solve for an lbfgs bag member),
 * the ensemble scored on validation, then optionally refitted on train + validation.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { mulberry32, seededShuffle } from '../datasets/random.ts';
import { initTf, type Tf, type TfBackendName } from '../tf.ts';
import {
  resolveSentimentConfig,
  SENTIMENT_LABELS,
  SentimentError,
  type BagMemberConfig,
  type MemberConfig,
  type SentimentConfig,
  type SentimentConfigOverrides,
  type SentimentLabel,
} from './sentiment_analyzer_config.ts';
import type { LabelledTexts } from './sentiment_analyzer_data.ts';
import { SentimentFeaturizer, type EncodedBatch } from './sentiment_analyzer_features.ts';
import { fitSoftmaxRegression, fitTemperature, linearLogits, meanNll, nbLogCountRatios, softmaxRows, tfidfRows, type LinearParams } from './sentiment_analyzer_linear.ts';
import { classificationReport, expectedCalibrationError, stratifiedSplit, type ClassificationReport } from './sentiment_analyzer_metrics.ts';
import { SentimentModel } from './sentiment_analyzer_model.ts';
import { argmaxRows, buildNetwork, inputTensor, predictBatched, type Member, type Network } from './sentiment_analyzer_network.ts';

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
  // NB-SVM ratios from the rows being fitted only (the training part; train + validation on refit).
  const scale = mc.nbScale ? nbLogCountRatios(rows, data.trainY, dim, k, mc.nbAlpha ?? 1) : undefined;
  const fit = (l2: number, init?: LinearParams) =>
    fitSoftmaxRegression(rows, data.trainY, dim, k, {
      l2,
      sampleWeights: data.sampleWeights,
      maxIterations: mc.maxIterations ?? 300,
      tolerance: mc.tolerance ?? 1e-6,
      ...(init ? { init } : {}),
      ...(scale ? { scale } : {}),
    });
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
      init = r.raw;
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

async function predictMember(tf: Tf, member: Member, x: EncodedBatch): Promise<Float32Array> {
  return predictBatched(tf, member.model, member.inputNames, x);
}

function crossEntropy(probs: Float32Array, y: readonly number[], k: number): number {
  let sum = 0;
  y.forEach((c, i) => {
    sum -= Math.log(Math.max(probs[i * k + c] as number, 1e-7));
  });
  return sum / Math.max(1, y.length);
}
