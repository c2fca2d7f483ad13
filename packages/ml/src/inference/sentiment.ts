import type { ModelRef } from '@stock-mlops/contracts';
import type { ModelArtifacts } from '../registry/model_store.ts';
import {
  SENTIMENT_LABELS,
  SentimentModel,
  type SentimentArtifact,
  type SentimentPrediction,
} from '../models/sentiment_analyzer.ts';

/**
 * A loaded, servable sentiment model, and the mapping between the model's own artifact
 * (`SentimentModel.serialize()`) and the registry's `{ json, weights }`: the weights go to the
 * binary part, everything else (format, labels, config, tfjs topology, vocabularies) to JSON.
 */
export function sentimentToRegistryArtifacts(a: SentimentArtifact): ModelArtifacts {
  const { weights, ...json } = a;
  return { json: json as unknown as Record<string, unknown>, weights };
}

export function sentimentFromRegistryArtifacts(a: ModelArtifacts): SentimentArtifact {
  return { ...(a.json as unknown as Omit<SentimentArtifact, 'weights'>), weights: a.weights };
}

export const MAX_SENTIMENT_TEXT_CHARS = 10_000;

export interface ServedSentiment extends SentimentPrediction {
  latencyMs: number;
}

export class ServingSentimentModel {
  readonly labels = SENTIMENT_LABELS;
  private holds = 0;
  private retired = false;

  constructor(
    readonly ref: ModelRef,
    readonly model: SentimentModel,
    /** Registry feature schema hash of this version (identifies tokenizer + vocabularies). */
    readonly featureSchemaHash: string,
  ) {}

  static async fromRegistry(ref: ModelRef, featureSchemaHash: string, artifacts: ModelArtifacts): Promise<ServingSentimentModel> {
    const model = await SentimentModel.deserialize(sentimentFromRegistryArtifacts(artifacts));
    return new ServingSentimentModel(ref, model, featureSchemaHash);
  }

  async predict(texts: readonly string[]): Promise<ServedSentiment[]> {
    this.holds++;
    try {
      const t0 = performance.now();
      const out = await this.model.predict(texts.map((t) => t.slice(0, MAX_SENTIMENT_TEXT_CHARS)));
      const latencyMs = performance.now() - t0;
      return out.map((p) => ({ ...p, latencyMs }));
    } finally {
      this.holds--;
      if (this.retired && this.holds === 0) this.model.dispose();
    }
  }

  /** Finite probabilities summing to 1 on a couple of texts, else E_WARMUP. */
  async warmup(): Promise<void> {
    const out = await this.predict(['shares rose after strong quarterly earnings', '']);
    const ok = out.length === 2 && out.every((p) => {
      const v = SENTIMENT_LABELS.map((l) => p.probs[l]);
      return v.every(Number.isFinite) && Math.abs(v.reduce((s, x) => s + x, 0) - 1) < 1e-3;
    });
    if (!ok) throw Object.assign(new Error('sentiment warm-up produced invalid probabilities'), { code: 'E_WARMUP' });
  }

  retire(): void {
    this.retired = true;
    if (this.holds === 0) this.model.dispose();
  }
}
