import type * as tfjs from '@tensorflow/tfjs';
import { AppError, mulberry32, shuffleWith } from '@stock-mlops/contracts';
import type { Tf } from '../tf.ts';
import { fitRidge, predictRidge, standardizeRow, type RidgeParams } from './ridge.ts';

/**
 * Price predictor: LSTM, GRU or MLP over a window of feature vectors; the target is the
 * next-period simple return (the price is derived from it by the caller).
 *
 * Train/serve skew is impossible by construction: the per-feature normalization statistics,
 * the target scale and the feature schema hash travel inside the model's artifacts, and
 * `predict` refuses inputs of another width.
 *
 * The output layer starts at zero, so an untrained model predicts exactly the zero-return
 * baseline; early stopping on the validation loss keeps the best epoch's weights.
 */
export type PriceArch = 'mlp' | 'lstm' | 'gru';

export interface PriceModelConfig {
  arch: PriceArch;
  lookback: number;
  hidden: number;
  dropout: number;
  learningRate: number;
  l2: number;
  epochs: number;
  batchSize: number;
  patience: number;
  seed: number;
  horizon: number;
}

export const DEFAULT_PRICE_CONFIG: PriceModelConfig = {
  arch: 'lstm',
  lookback: 20,
  hidden: 32,
  dropout: 0.1,
  learningRate: 1e-3,
  l2: 1e-4,
  epochs: 30,
  batchSize: 64,
  patience: 5,
  seed: 42,
  horizon: 1,
};

export interface PriceModelMeta {
  config: PriceModelConfig;
  nFeatures: number;
  featureSchemaHash: string;
  featureMean: number[];
  featureStd: number[];
  targetScale: number;
  /**
   * Ridge regression baseline fitted on the same training split (as-of feature row, the same
   * normalization; L2 chosen on the validation split). Absent in artifacts older than it.
   */
  ridge?: Pick<RidgeParams, 'weights' | 'intercept' | 'l2'>;
}

export interface EpochLog {
  epoch: number;
  loss: number;
  valLoss: number;
  /** Wall time of the epoch (fit + validation loss); given to onEpoch, not kept in the history (which is reproducible). */
  seconds?: number;
}

export class PriceModelError extends AppError<'E_INPUT_SHAPE' | 'E_INPUT_VALUE' | 'E_EMPTY_DATASET' | 'E_ARTIFACT'> {
  constructor(code: 'E_INPUT_SHAPE' | 'E_INPUT_VALUE' | 'E_EMPTY_DATASET' | 'E_ARTIFACT', message: string) {
    super(code, message);
    this.name = 'PriceModelError';
  }
}

function meanStd(windows: number[][][], nFeatures: number): { mean: number[]; std: number[] } {
  const mean = new Array<number>(nFeatures).fill(0);
  const m2 = new Array<number>(nFeatures).fill(0);
  let n = 0;
  for (const w of windows) {
    const row = w[w.length - 1]!;
    n++;
    for (let j = 0; j < nFeatures; j++) {
      const x = row[j]!;
      const d = x - mean[j]!;
      mean[j]! += d / n;
      m2[j]! += d * (x - mean[j]!);
    }
  }
  const std = m2.map((v) => Math.max(Math.sqrt(v / Math.max(1, n - 1)), 1e-8));
  return { mean, std };
}

/**
 * Validate windows ([n][lookback][nFeatures]) and pack them, normalized with the training
 * statistics and clipped to ±8, into one row-major Float32Array: the model's input layout.
 */
export function packWindows(meta: Pick<PriceModelMeta, 'config' | 'nFeatures' | 'featureMean' | 'featureStd'>, windows: readonly (readonly (readonly number[])[])[]): Float32Array {
  const { lookback } = meta.config;
  const nf = meta.nFeatures;
  const { featureMean, featureStd } = meta;
  const buf = new Float32Array(windows.length * lookback * nf);
  let o = 0;
  for (let i = 0; i < windows.length; i++) {
    const w = windows[i]!;
    if (w.length !== lookback) throw new PriceModelError('E_INPUT_SHAPE', `window ${i} has ${w.length} steps, expected ${lookback}`);
    for (const row of w) {
      if (row.length !== nf) throw new PriceModelError('E_INPUT_SHAPE', `window ${i} has ${row.length} features, expected ${nf}`);
      for (let j = 0; j < nf; j++) {
        const x = row[j]!;
        if (!Number.isFinite(x)) throw new PriceModelError('E_INPUT_VALUE', `window ${i} feature ${j} is not finite`);
        const z = (x - featureMean[j]!) / featureStd[j]!;
        buf[o++] = Math.max(-8, Math.min(8, z));
      }
    }
  }
  return buf;
}

/** Raw model outputs → predicted returns. */
export function scaleReturns(meta: Pick<PriceModelMeta, 'targetScale'>, raw: Float32Array): number[] {
  return Array.from(raw, (v) => v * meta.targetScale);
}

export class PriceModel {
  private constructor(
    private readonly tf: Tf,
    readonly model: tfjs.LayersModel,
    readonly meta: PriceModelMeta,
  ) {}

  static build(tf: Tf, config: PriceModelConfig, meta: Omit<PriceModelMeta, 'config'>): PriceModel {
    const { arch, lookback, hidden, dropout, seed, l2 } = config;
    const nf = meta.nFeatures;
    const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
    const reg = l2 > 0 ? tf.regularizers.l2({ l2 }) : undefined;
    const model = tf.sequential();
    if (arch === 'mlp') {
      model.add(tf.layers.flatten({ inputShape: [lookback, nf] }));
      model.add(tf.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: init(1), kernelRegularizer: reg }));
      model.add(tf.layers.dropout({ rate: dropout, seed: seed + 2 }));
      model.add(tf.layers.dense({ units: Math.max(4, hidden / 2), activation: 'relu', kernelInitializer: init(3), kernelRegularizer: reg }));
    } else {
      const rnnOpts = {
        units: hidden,
        inputShape: [lookback, nf],
        kernelInitializer: init(1),
        recurrentInitializer: tf.initializers.glorotUniform({ seed: seed + 4 }),
        kernelRegularizer: reg,
        returnSequences: false,
      };
      model.add(arch === 'lstm' ? tf.layers.lstm(rnnOpts) : tf.layers.gru(rnnOpts));
      model.add(tf.layers.dropout({ rate: dropout, seed: seed + 2 }));
    }
    model.add(tf.layers.dense({ units: 1, kernelInitializer: 'zeros', biasInitializer: 'zeros' }));
    model.compile({ optimizer: tf.train.adam(config.learningRate), loss: 'meanSquaredError' });
    return new PriceModel(tf, model, { ...meta, config });
  }

  /** Fit with early stopping on the validation loss; windows are [n][lookback][nFeatures]. */
  static async train(
    tf: Tf,
    config: PriceModelConfig,
    data: { trainX: number[][][]; trainY: number[]; valX: number[][][]; valY: number[]; featureSchemaHash: string },
    onEpoch?: (log: EpochLog) => void,
  ): Promise<{ model: PriceModel; history: EpochLog[]; bestEpoch: number }> {
    if (data.trainX.length === 0 || data.valX.length === 0) {
      throw new PriceModelError('E_EMPTY_DATASET', 'training and validation sets must not be empty');
    }
    const nFeatures = data.trainX[0]![0]!.length;
    const { mean, std } = meanStd(data.trainX, nFeatures);
    const ys = data.trainY;
    const targetScale = Math.max(Math.sqrt(ys.reduce((s, y) => s + y * y, 0) / ys.length), 1e-6);
    const standardizer = { mean, std };
    const asOf = (xs: number[][][]) =>
      xs.map((w, i) => {
        const row = w[w.length - 1]!;
        if (!row.every(Number.isFinite)) throw new PriceModelError('E_INPUT_VALUE', `window ${i} holds a non-finite feature`);
        return standardizeRow(standardizer, row);
      });
    const { weights, intercept, l2 } = fitRidge({ x: asOf(data.trainX), y: data.trainY }, { x: asOf(data.valX), y: data.valY });
    const ridge = { weights, intercept, l2 };
    const pm = PriceModel.build(tf, config, { nFeatures, featureSchemaHash: data.featureSchemaHash, featureMean: mean, featureStd: std, targetScale, ridge });
    const xTrain = pm.toTensor(data.trainX);
    const yTrain = tf.tensor2d(data.trainY.map((y) => [y / targetScale]));
    const xVal = pm.toTensor(data.valX);
    const yVal = tf.tensor2d(data.valY.map((y) => [y / targetScale]));
    const history: EpochLog[] = [];
    let best = Number.POSITIVE_INFINITY;
    let bestEpoch = 0;
    let bestWeights: tfjs.Tensor[] = pm.model.getWeights().map((w) => w.clone());
    const baseVal = PriceModel.mse(tf, pm.model, xVal, yVal);
    best = baseVal;
    try {
      for (let epoch = 1; epoch <= config.epochs; epoch++) {
        const epochStart = performance.now();
        const order = seededPermutation(data.trainX.length, config.seed + epoch);
        const idx = tf.tensor1d(order, 'int32');
        const xs = tf.gather(xTrain, idx);
        const yb = tf.gather(yTrain, idx);
        const h = await pm.model.fit(xs, yb, { epochs: 1, batchSize: config.batchSize, shuffle: false, verbose: 0 });
        tf.dispose([idx, xs, yb]);
        const loss = Number(h.history.loss?.[0] ?? Number.NaN);
        const valLoss = PriceModel.mse(tf, pm.model, xVal, yVal);
        const log = { epoch, loss, valLoss };
        history.push(log);
        onEpoch?.({ ...log, seconds: (performance.now() - epochStart) / 1000 });
        if (valLoss < best - 1e-9) {
          best = valLoss;
          bestEpoch = epoch;
          tf.dispose(bestWeights);
          bestWeights = pm.model.getWeights().map((w) => w.clone());
        } else if (epoch - bestEpoch >= config.patience) {
          break;
        }
      }
      pm.model.setWeights(bestWeights);
    } finally {
      tf.dispose([xTrain, yTrain, xVal, yVal, ...bestWeights]);
    }
    return { model: pm, history, bestEpoch };
  }

  private static mse(tf: Tf, model: tfjs.LayersModel, x: tfjs.Tensor, y: tfjs.Tensor): number {
    return tf.tidy(() => {
      const p = model.predict(x, { batchSize: 512 }) as tfjs.Tensor;
      return tf.mean(tf.square(tf.sub(p, y))).dataSync()[0]!;
    });
  }

  /** Validate and normalize windows into a [n, lookback, nFeatures] tensor. */
  toTensor(windows: number[][][]): tfjs.Tensor3D {
    return this.tf.tensor3d(packWindows(this.meta, windows), [windows.length, this.meta.config.lookback, this.meta.nFeatures]);
  }

  /**
   * Raw model outputs (before `targetScale`) for `n` windows already normalized by
   * `packWindows`. The serving worker runs exactly this on the buffers it is handed.
   */
  forward(x: Float32Array, n: number): Float32Array {
    if (n === 0) return new Float32Array(0);
    const t = this.tf.tensor3d(x, [n, this.meta.config.lookback, this.meta.nFeatures]);
    try {
      return Float32Array.from(this.tf.tidy(() => (this.model.predict(t, { batchSize: 1024 }) as tfjs.Tensor).dataSync()));
    } finally {
      t.dispose();
    }
  }

  /** Predicted next-period returns for a batch of windows. */
  predict(windows: number[][][]): number[] {
    if (windows.length === 0) return [];
    return scaleReturns(this.meta, this.forward(packWindows(this.meta, windows), windows.length));
  }

  /** The ridge baseline's predicted returns for the same windows; undefined when the artifact has none. */
  predictRidge(windows: readonly (readonly (readonly number[])[])[]): number[] | undefined {
    const { ridge } = this.meta;
    if (!ridge) return undefined;
    const standardizer = { mean: this.meta.featureMean, std: this.meta.featureStd };
    return predictRidge(
      ridge,
      windows.map((w, i) => {
        const row = w[w.length - 1];
        if (!row || row.length !== this.meta.nFeatures) throw new PriceModelError('E_INPUT_SHAPE', `window ${i} has no as-of row of ${this.meta.nFeatures} features`);
        if (!row.every(Number.isFinite)) throw new PriceModelError('E_INPUT_VALUE', `window ${i} holds a non-finite feature`);
        return standardizeRow(standardizer, row);
      }),
    );
  }

  async serialize(): Promise<{ json: Record<string, unknown>; weights: Uint8Array }> {
    let saved: tfjs.io.ModelArtifacts | undefined;
    await this.model.save(
      this.tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    if (!saved?.weightData || !saved.weightSpecs) throw new PriceModelError('E_ARTIFACT', 'model save produced no weights');
    const wd = saved.weightData;
    const weights = wd instanceof ArrayBuffer ? new Uint8Array(wd) : new Uint8Array(this.tf.io.concatenateArrayBuffers(wd));
    return {
      json: { kind: 'price-predictor', modelTopology: saved.modelTopology as object, weightSpecs: saved.weightSpecs, meta: this.meta },
      weights: new Uint8Array(weights),
    };
  }

  static async deserialize(tf: Tf, artifacts: { json: Record<string, unknown>; weights: Uint8Array }): Promise<PriceModel> {
    const j = artifacts.json as { kind?: string; modelTopology?: object; weightSpecs?: tfjs.io.WeightsManifestEntry[]; meta?: PriceModelMeta };
    if (j.kind !== 'price-predictor' || !j.modelTopology || !j.weightSpecs || !j.meta) {
      throw new PriceModelError('E_ARTIFACT', 'artifacts are not a price-predictor model');
    }
    const w = artifacts.weights;
    const weightData = w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) as ArrayBuffer;
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: j.modelTopology, weightSpecs: j.weightSpecs, weightData }));
    return new PriceModel(tf, model, j.meta);
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Deterministic Fisher–Yates permutation of 0..n-1 (mulberry32; the seed is reduced to 32 bits). */
export function seededPermutation(n: number, seed: number): number[] {
  return shuffleWith(Array.from({ length: n }, (_, i) => i), mulberry32(seed));
}
