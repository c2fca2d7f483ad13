/**
 * A trained sentiment analyzer: prediction, and serialization to a JSON-safe artifact plus one
 * binary weight blob (and back).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { z } from 'zod';
import { initTf, type Tf } from '../tf.ts';
import { SENTIMENT_LABELS, SentimentError, type SentimentConfig, type SentimentLabel } from './sentiment_analyzer_config.ts';
import { SentimentFeaturizer, type EncodedBatch, type FeaturizerJson } from './sentiment_analyzer_features.ts';
import { sentimentLayers } from './sentiment_analyzer_layers.ts';
import { argmaxRows, predictBatched } from './sentiment_analyzer_network.ts';

export const SENTIMENT_ARTIFACT_FORMAT = 'stock-mlops/sentiment-analyzer@1';

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
