/**
 * Price model versions that are not trained, in the ordinary `price-predictor` artifact format, so
 * the registry stores them and the predictor serves and shadow-scores them like any trained
 * version (no serving code knows about them):
 *
 * - `persistencePriceModel`: the naive "tomorrow's return = today's return" forecast (the
 *   `persistence` baseline of the evaluation, here on the stream's `ret_1` feature, the log return
 *   of the as-of bar), written as the weights of the MLP architecture: the first layer passes
 *   +ret_1 and −ret_1 of the last window step, two ReLU layers keep them, the output subtracts
 *   them. Exact while |ret_1| ≤ 8 × `scale` (the input clip of `packWindows`).
 * - `rescaledPriceArtifacts`: a copy of a model's artifacts whose outputs are multiplied by a
 *   factor (the stored `targetScale`); −10 gives a sign-flipped, far too confident model.
 *
 * - `zeroReturnPriceModel`: the random walk, a return of exactly 0 for every window (all weights
 *   zero), served as the explicit baseline version while no model has passed the gate
 *   (registry/price_baseline.ts).
 *
 * The first two serve as champions and challengers of known quality for the live promotion (e.g. the
 * champion/challenger end-to-end test).
 */
import type { Tf } from '../tf.ts';
import { DEFAULT_PRICE_CONFIG, PriceModel, PriceModelError, type PriceModelMeta } from './price_predictor.ts';

export interface PersistenceOptions {
  /** Feature names of the stream's schema, in order; must contain `feature`. */
  names: readonly string[];
  featureSchemaHash: string;
  /** The feature carried forward (default `ret_1`). */
  feature?: string;
  lookback?: number;
  /** Input scale: the return is fed as ret/scale (clipped to ±8), so returns up to ±8·scale are exact (default 0.05). */
  scale?: number;
}

export function persistencePriceModel(tf: Tf, opts: PersistenceOptions): PriceModel {
  const feature = opts.feature ?? 'ret_1';
  const at = opts.names.indexOf(feature);
  if (at < 0) throw new PriceModelError('E_INPUT_SHAPE', `the feature schema has no ${feature}`);
  const scale = opts.scale ?? 0.05;
  if (!(scale > 0)) throw new PriceModelError('E_INPUT_VALUE', 'scale must be positive');
  const nFeatures = opts.names.length;
  const lookback = opts.lookback ?? DEFAULT_PRICE_CONFIG.lookback;
  const featureStd = new Array<number>(nFeatures).fill(1);
  featureStd[at] = scale;
  const hidden = 2;
  const config = { ...DEFAULT_PRICE_CONFIG, arch: 'mlp' as const, lookback, hidden, dropout: 0, l2: 0, epochs: 0 };
  const meta: Omit<PriceModelMeta, 'config'> = { nFeatures, featureSchemaHash: opts.featureSchemaHash, featureMean: new Array<number>(nFeatures).fill(0), featureStd, targetScale: scale };
  const pm = PriceModel.build(tf, config, meta);
  const second = Math.max(4, hidden / 2);
  // Layer 1 (flattened [lookback × nFeatures] → 2): unit 0 = +z, unit 1 = −z of the last step's feature.
  const k1 = new Float32Array(lookback * nFeatures * hidden);
  const input = (lookback - 1) * nFeatures + at;
  k1[input * hidden] = 1;
  k1[input * hidden + 1] = -1;
  // Layer 2 (2 → 4): units 0 and 1 copy the two ReLU halves.
  const k2 = new Float32Array(hidden * second);
  k2[0 * second + 0] = 1;
  k2[1 * second + 1] = 1;
  // Output: relu(z) − relu(−z) = z.
  const k3 = new Float32Array(second);
  k3[0] = 1;
  k3[1] = -1;
  const tensors = [
    tf.tensor2d(k1, [lookback * nFeatures, hidden]),
    tf.zeros([hidden]),
    tf.tensor2d(k2, [hidden, second]),
    tf.zeros([second]),
    tf.tensor2d(k3, [second, 1]),
    tf.zeros([1]),
  ];
  try {
    pm.model.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
  return pm;
}

export interface ZeroReturnOptions {
  nFeatures: number;
  featureSchemaHash: string;
  lookback?: number;
}

/** The zero-return forecast (the random walk) as an MLP whose weights are all zero: exactly 0 for every window. */
export function zeroReturnPriceModel(tf: Tf, opts: ZeroReturnOptions): PriceModel {
  if (!(Number.isInteger(opts.nFeatures) && opts.nFeatures > 0)) throw new PriceModelError('E_INPUT_SHAPE', 'nFeatures must be a positive integer');
  const lookback = opts.lookback ?? DEFAULT_PRICE_CONFIG.lookback;
  const config = { ...DEFAULT_PRICE_CONFIG, arch: 'mlp' as const, lookback, hidden: 2, dropout: 0, l2: 0, epochs: 0 };
  const meta: Omit<PriceModelMeta, 'config'> = {
    nFeatures: opts.nFeatures,
    featureSchemaHash: opts.featureSchemaHash,
    featureMean: new Array<number>(opts.nFeatures).fill(0),
    featureStd: new Array<number>(opts.nFeatures).fill(1),
    targetScale: 1,
  };
  const pm = PriceModel.build(tf, config, meta);
  const zeros = pm.model.getWeights().map((w) => tf.zerosLike(w));
  try {
    pm.model.setWeights(zeros);
  } finally {
    tf.dispose(zeros);
  }
  return pm;
}

/** The artifacts of a price model whose predicted returns are `factor` times the original's. */
export function rescaledPriceArtifacts(artifacts: { json: Record<string, unknown>; weights: Uint8Array }, factor: number): { json: Record<string, unknown>; weights: Uint8Array } {
  const meta = (artifacts.json as { kind?: string; meta?: PriceModelMeta }).meta;
  if ((artifacts.json as { kind?: string }).kind !== 'price-predictor' || !meta) throw new PriceModelError('E_ARTIFACT', 'artifacts are not a price-predictor model');
  if (!Number.isFinite(factor) || factor === 0) throw new PriceModelError('E_INPUT_VALUE', 'factor must be finite and non-zero');
  return { json: { ...artifacts.json, meta: { ...meta, targetScale: meta.targetScale * factor } }, weights: new Uint8Array(artifacts.weights) };
}
