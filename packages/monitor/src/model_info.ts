/**
 * What the monitor needs to know about a model version, read from its registry document:
 * until when its training data reaches (later data is "live"), its feature schema, its
 * test-window metrics, and the drift reference stored with it. The registry document is
 * external input: it is validated here and a malformed reference is reported, not trusted.
 */
import { z } from 'zod';
import type { ModelRef } from '@stock-mlops/contracts';
import type { CategoricalReference, ReferenceStats } from '@stock-mlops/ml/evaluation/drift';

const Finite = z.number().refine(Number.isFinite);
const ReferenceStatsSchema = z.object({
  n: z.number().int().positive(),
  mean: Finite,
  std: Finite,
  min: Finite,
  max: Finite,
  quantileEdges: z.array(Finite),
  binFractions: z.array(Finite).min(2),
  sample: z.array(Finite).min(1),
});

const PriceReferenceSchema = z.object({
  names: z.array(z.string()).min(1),
  features: z.record(z.string(), ReferenceStatsSchema),
  predictions: ReferenceStatsSchema,
  realized: ReferenceStatsSchema.optional(),
});

const SentimentReferenceSchema = z.object({
  labels: z.array(z.string()).min(2),
  counts: z.array(z.number().int().min(0)),
  n: z.number().int().positive(),
});

export interface PriceReference {
  names: string[];
  features: Record<string, ReferenceStats>;
  predictions: ReferenceStats;
}

export interface ModelInfo {
  ref: ModelRef;
  task: 'price' | 'sentiment';
  /** Epoch ms of the newest training row; data with a later event time is live. */
  trainedThroughMs: number | undefined;
  featureSchemaHash: string | undefined;
  metrics: Record<string, number>;
  price: PriceReference | undefined;
  sentiment: CategoricalReference | undefined;
  /** Why the stored reference could not be used, when it could not. */
  referenceProblem: string | undefined;
}

export interface RegistryDoc {
  name: string;
  version: number;
  task: 'price' | 'sentiment';
  featureSchemaHash?: string;
  metrics?: Record<string, number>;
  reference?: Record<string, unknown> | null;
  dataWindow?: { from: string; to: string; rows: number } | null;
}

export function modelInfoFromRegistry(doc: RegistryDoc): ModelInfo {
  const to = doc.dataWindow?.to ? Date.parse(doc.dataWindow.to) : Number.NaN;
  const info: ModelInfo = {
    ref: { name: doc.name, version: doc.version },
    task: doc.task,
    trainedThroughMs: Number.isFinite(to) ? to : undefined,
    featureSchemaHash: doc.featureSchemaHash || undefined,
    metrics: Object.fromEntries(Object.entries(doc.metrics ?? {}).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))),
    price: undefined,
    sentiment: undefined,
    referenceProblem: undefined,
  };
  if (!doc.reference) {
    info.referenceProblem =
      doc.task === 'price' ? 'the version has no stored reference' : "no stored label reference: the version's first predictions are its baseline";
    return info;
  }
  if (doc.task === 'price') {
    const r = PriceReferenceSchema.safeParse(doc.reference);
    if (r.success) {
      const missing = r.data.names.filter((n) => !r.data.features[n]);
      if (missing.length) info.referenceProblem = `reference lacks stats for ${missing.slice(0, 5).join(', ')}`;
      else info.price = { names: r.data.names, features: r.data.features, predictions: r.data.predictions };
    } else info.referenceProblem = `malformed price reference: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`;
  } else {
    const r = SentimentReferenceSchema.safeParse(doc.reference);
    if (r.success && r.data.counts.length === r.data.labels.length && r.data.counts.reduce((a, b) => a + b, 0) === r.data.n) {
      info.sentiment = { labels: r.data.labels, counts: r.data.counts, n: r.data.n };
    } else info.referenceProblem = 'malformed sentiment reference';
  }
  return info;
}
