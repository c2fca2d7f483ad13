/**
 * The stored sentiment labels in MongoDB: the loader keeps the last label per text in
 * `sentiment_labels` (`SentimentLabelDoc` of @stock-mlops/load: `_id` = text hash, the record's
 * fields with `labelledAt` as a UTC ISO string, plus offsets and counts). The trainer only reads
 * it: the whole set for a training, and a count after a time (a string comparison on the
 * normalised `labelledAt`, with an index) on its schedule.
 */
import type { Collection, Db } from 'mongodb';
import { SENTIMENT_LABELS_COLLECTION, type SentimentLabelDoc } from '@stock-mlops/load';
import { SENTIMENT_LABELS, type SentimentLabel } from '../models/sentiment_analyzer_config.ts';
import type { LabelStore, StoredLabel } from './sentiment_labels.ts';

export class MongoLabelStore implements LabelStore {
  private readonly col: Collection<SentimentLabelDoc>;

  constructor(db: Db) {
    this.col = db.collection<SentimentLabelDoc>(SENTIMENT_LABELS_COLLECTION);
  }

  async ensureIndexes(): Promise<void> {
    await this.col.createIndex({ labelledAt: 1 });
  }

  /** Every stored label with a known label name, sorted by text hash (documents of another shape are skipped). */
  async list(): Promise<StoredLabel[]> {
    const docs = await this.col.find({}, { projection: { text: 1, label: 1, labeller: 1, labelledAt: 1 } }).sort({ _id: 1 }).toArray();
    return docs
      .filter((d) => typeof d.text === 'string' && SENTIMENT_LABELS.includes(d.label as SentimentLabel) && typeof d.labelledAt === 'string' && Number.isFinite(Date.parse(d.labelledAt)))
      .map((d) => ({ hash: d._id, text: d.text, label: d.label as SentimentLabel, labeller: d.labeller, labelledAt: new Date(d.labelledAt) }));
  }

  async countSince(since: Date | undefined): Promise<number> {
    return this.col.countDocuments(since ? { labelledAt: { $gt: since.toISOString() } } : {});
  }
}
