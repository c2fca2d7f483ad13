import type { AnyBulkWriteOperation, Db } from 'mongodb';
import type { SentimentLabelRecord } from '@stock-mlops/contracts';
import { readByIds } from './database.ts';

/** MongoDB collection of human sentiment labels: one document per text (`_id` = sentimentTextHash(text)). */
export const SENTIMENT_LABELS_COLLECTION = 'sentiment_labels';

/**
 * The stored label of one text: the winning record's fields (the latest `labelledAt`; on a tie,
 * the later offset), plus where the text's last record was read and how many labels and
 * conflicts it has had. Flat, like every document of the pipeline. `labelledAt` is stored in one
 * form, UTC with milliseconds (`toISOString`), so that readers can compare it as a string (the
 * trainer counts the labels after a time with an index on it).
 */
export type SentimentLabelDoc = SentimentLabelRecord & {
  _id: string;
  eventId: string;
  /** Partition and offset of the last record applied for this text (all of a text's records share a partition). */
  partition: number;
  offset: number;
  /** Label records applied for this text (redeliveries excluded). */
  labels: number;
  /** Records whose label differed from the current one and came from another labeller. */
  conflicts: number;
};

export interface LabelInput {
  textHash: string;
  record: SentimentLabelRecord;
  eventId: string;
  partition: number;
  offset: number;
}

export interface LabelMerge {
  doc: SentimentLabelDoc;
  /** False for a redelivery or a repeat of the current label's event: nothing to write. */
  changed: boolean;
  conflict: boolean;
}

/**
 * Applies one label record to the stored document of its text. The most recent label wins
 * (`labelledAt`, then offset); a contradicting label from another labeller is kept in the count
 * either way. A record at or before the stored offset was applied already (a partition is read in
 * offset order), and a second copy of the current label's event (a producer's retry) is the same
 * label: both change nothing and count nothing.
 */
export function mergeLabel(stored: SentimentLabelDoc | undefined, input: LabelInput): LabelMerge {
  const seen = stored && ((stored.partition === input.partition && input.offset <= stored.offset) || stored.eventId === input.eventId);
  if (seen) return { doc: stored, changed: false, conflict: false };
  const { record } = input;
  const conflict = stored !== undefined && stored.label !== record.label && stored.labeller !== record.labeller;
  const wins = stored === undefined || Date.parse(record.labelledAt) >= Date.parse(stored.labelledAt);
  const fields = wins ? { ...record, labelledAt: new Date(record.labelledAt).toISOString(), _id: input.textHash, eventId: input.eventId } : pickRecord(stored);
  return {
    doc: { ...fields, partition: input.partition, offset: input.offset, labels: (stored?.labels ?? 0) + 1, conflicts: (stored?.conflicts ?? 0) + (conflict ? 1 : 0) },
    changed: true,
    conflict,
  };
}

function pickRecord(d: SentimentLabelDoc): SentimentLabelRecord & { _id: string; eventId: string } {
  const { partition: _p, offset: _o, labels: _l, conflicts: _c, ...rest } = d;
  return rest;
}

export interface LabelWriteResult {
  written: number;
  unchanged: number;
  conflicts: number;
}

/**
 * Writes label records in bulk: one `_id` read per text of the batch, the records folded in
 * offset order (mergeLabel), one unordered bulk of replaces (upserts) for the texts that changed.
 * Idempotent: retrying a batch after a partial write re-reads the stored offsets.
 */
export async function writeLabels(db: Db, inputs: readonly LabelInput[]): Promise<LabelWriteResult> {
  const col = db.collection<SentimentLabelDoc>(SENTIMENT_LABELS_COLLECTION);
  const stored = await readByIds(col, [...new Set(inputs.map((i) => i.textHash))]);
  const next = new Map<string, SentimentLabelDoc>();
  let conflicts = 0;
  let unchanged = 0;
  for (const input of inputs) {
    const m = mergeLabel(next.get(input.textHash) ?? stored.get(input.textHash), input);
    if (!m.changed) {
      unchanged++;
      continue;
    }
    if (m.conflict) conflicts++;
    next.set(input.textHash, m.doc);
  }
  if (next.size > 0) {
    const ops: AnyBulkWriteOperation<SentimentLabelDoc>[] = [...next.values()].map((d) => ({ replaceOne: { filter: { _id: d._id }, replacement: d, upsert: true } }));
    await col.bulkWrite(ops, { ordered: false });
  }
  return { written: next.size, unchanged, conflicts };
}
