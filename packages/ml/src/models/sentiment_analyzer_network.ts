/**
 * Sentiment analyzer: the tfjs graph (one sub-model per member over shared inputs, averaged into
 * one output), the mapping from encoded texts to its input tensors, and batched prediction.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Tf } from '../tf.ts';
import { SENTIMENT_LABELS, SentimentError, type MemberConfig, type SentimentConfig } from './sentiment_analyzer_config.ts';
import { bagGroups, type BagFeatureConfig, type EncodedBatch, type SentimentFeaturizer } from './sentiment_analyzer_features.ts';
import { sentimentLayers } from './sentiment_analyzer_layers.ts';

export interface Member {
  config: MemberConfig;
  /** Sub-model over the shared inputs this member uses. */
  model: tfTypes.LayersModel;
  inputNames: InputName[];
  /** Weights subject to the L2 penalty. */
  penalised: tfTypes.LayerVariable[];
}

/** `tokens`, or `bag_<group>_ids` / `bag_<group>_counts`. */
export type InputName = string;

export interface Network {
  model: tfTypes.LayersModel;
  members: Member[];
  setIdf(idf: Float32Array): void;
}

export function buildNetwork(tf: Tf, config: SentimentConfig, featurizer: SentimentFeaturizer, seed: number): Network {
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

/** Builds one input tensor for the rows `idx` (all rows when null). */
export function inputTensor(tf: Tf, name: InputName, x: EncodedBatch, idx: number[] | null): tfTypes.Tensor {
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

export async function predictBatched(tf: Tf, model: tfTypes.LayersModel, names: readonly InputName[], x: EncodedBatch): Promise<Float32Array> {
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

export function argmaxRows(probs: Float32Array, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < probs.length / k; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if ((probs[i * k + c] as number) > (probs[i * k + best] as number)) best = c;
    out.push(best);
  }
  return out;
}
