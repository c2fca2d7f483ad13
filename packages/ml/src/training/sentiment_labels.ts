/**
 * Human sentiment labels in training (issue 15): which stored labels are held back for the gate,
 * how they merge with the bundled data, when enough new ones justify a retrain, and the lineage a
 * version records about them. Pure: the labels come from a `LabelStore` (sentiment_label_store.ts).
 */
import { createHash } from 'node:crypto';
import { sentimentTextHash } from '@stock-mlops/contracts';
import type { SentimentLabel } from '../models/sentiment_analyzer_config.ts';
import type { LabelledTexts } from '../models/sentiment_analyzer_data.ts';

/** One stored label: the last label per text (its `hash` is `sentimentTextHash(text)`). */
export interface StoredLabel {
  hash: string;
  text: string;
  label: SentimentLabel;
  labeller: string;
  labelledAt: Date;
}

/** Where the trainer reads the stored labels. */
export interface LabelStore {
  /** Every stored label (one per text). */
  list(): Promise<StoredLabel[]>;
  /** Labels whose `labelledAt` is after `since` (all of them when `since` is undefined). */
  countSince(since: Date | undefined): Promise<number>;
}

/** Held-back share of the labels: 1 in `modulo`, chosen by the text hash (never trained on). */
export const HELD_BACK_MODULO = 5;

/** A label is held back when the first 32 bits of its text hash are 0 mod `modulo`: the same text always lands on the same side. */
export function isHeldBack(hash: string, modulo = HELD_BACK_MODULO): boolean {
  return Number.parseInt(hash.slice(0, 8), 16) % modulo === 0;
}

export function splitHeldBack(labels: readonly StoredLabel[], modulo = HELD_BACK_MODULO): { train: StoredLabel[]; heldBack: StoredLabel[] } {
  const train: StoredLabel[] = [];
  const heldBack: StoredLabel[] = [];
  for (const l of labels) (isHeldBack(l.hash, modulo) ? heldBack : train).push(l);
  return { train, heldBack };
}

export interface AssembledSentimentData {
  /** What the model is fitted on: the bundled training split plus the trained labels. */
  train: LabelledTexts;
  /** The fixed evaluation set: the bundled test split (a stored label overrides its bundled one). */
  test: LabelledTexts;
  /** The held-back labels (gate check b), empty without labels. */
  heldBack: LabelledTexts;
  trainedLabels: StoredLabel[];
  heldBackLabels: StoredLabel[];
}

/**
 * Bundled train/test split + stored labels → train, fixed test and held-back sets. Deduplicated by
 * text hash; a stored label overrides a bundled one for the same text; a text in the test set or
 * in the held-back labels is never trained on.
 */
export function assembleSentimentData(bundledTrain: LabelledTexts, bundledTest: LabelledTexts, labels: readonly StoredLabel[], modulo = HELD_BACK_MODULO): AssembledSentimentData {
  const byHash = new Map(labels.map((l) => [l.hash, l]));
  const { train: trainedLabels, heldBack: heldBackLabels } = splitHeldBack([...byHash.values()], modulo);
  const test: LabelledTexts = { texts: [], labels: [] };
  const excluded = new Set(heldBackLabels.map((l) => l.hash));
  bundledTest.texts.forEach((text, i) => {
    const h = sentimentTextHash(text);
    if (excluded.has(h)) return;
    excluded.add(h);
    test.texts.push(text);
    test.labels.push(byHash.get(h)?.label ?? bundledTest.labels[i]!);
  });
  const train: LabelledTexts = { texts: [], labels: [] };
  const seen = new Set<string>();
  const add = (text: string, label: SentimentLabel, h = sentimentTextHash(text)) => {
    if (excluded.has(h) || seen.has(h)) return;
    seen.add(h);
    train.texts.push(text);
    train.labels.push(byHash.get(h)?.label ?? label);
  };
  bundledTrain.texts.forEach((text, i) => add(text, bundledTrain.labels[i]!));
  for (const l of trainedLabels) add(l.text, l.label, l.hash);
  const heldBack: LabelledTexts = { texts: heldBackLabels.map((l) => l.text), labels: heldBackLabels.map((l) => l.label) };
  return { train, test, heldBack, trainedLabels, heldBackLabels };
}

/** What a version records about the labels it was trained on (and those the gate held back). */
export interface LabelLineage {
  /** Labels trained on. */
  count: number;
  /** Smallest and largest text hash trained on ('' when none). */
  minHash: string;
  maxHash: string;
  /** sha256 of the sorted trained hashes joined by newlines. */
  digest: string;
  /** Labels held back for the gate. */
  heldBack: number;
  /** Latest labelledAt among all labels read (trained or held back), ISO; '' when none. The next retrain counts labels after it. */
  latestLabelledAt: string;
}

export function labelLineage(trained: readonly StoredLabel[], heldBack: readonly StoredLabel[]): LabelLineage {
  const hashes = trained.map((l) => l.hash).sort();
  const latest = [...trained, ...heldBack].reduce((m, l) => Math.max(m, l.labelledAt.getTime()), Number.NEGATIVE_INFINITY);
  return {
    count: hashes.length,
    minHash: hashes[0] ?? '',
    maxHash: hashes[hashes.length - 1] ?? '',
    digest: createHash('sha256').update(hashes.join('\n')).digest('hex'),
    heldBack: heldBack.length,
    latestLabelledAt: Number.isFinite(latest) ? new Date(latest).toISOString() : '',
  };
}

/** The labels watermark of a registered version's lineage (undefined: none recorded, count every label). */
export function labelsWatermark(lineage: Record<string, unknown> | undefined): Date | undefined {
  const at = (lineage?.labels as Partial<LabelLineage> | undefined)?.latestLabelledAt;
  if (typeof at !== 'string' || at === '') return undefined;
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** A retrain is due when `threshold` (> 0; 0 = off) new labels arrived since the watermark. */
export function labelRetrainDue(newLabels: number, threshold: number): boolean {
  return threshold > 0 && newLabels >= threshold;
}
