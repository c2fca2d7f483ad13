/**
 * The predictor's history checkpoints in MongoDB: one flat document per symbol (`_id` = symbol),
 * read by `_id` per symbol, or all at once at start-up (one document per symbol: the read costs
 * what it returns). See history_checkpoint.ts for why they exist.
 */
import type { Db } from 'mongodb';
import type { FeatureVector } from '@stock-mlops/contracts';
import { COLLECTIONS } from '@stock-mlops/load';
import { fromCheckpointDoc, toCheckpointDoc, type CheckpointDoc, type CheckpointSource } from './history_checkpoint.ts';

export interface CheckpointStore extends CheckpointSource {
  /** Every saved history (start-up warm-up). */
  loadAll(): Promise<FeatureVector[][]>;
}

export function mongoCheckpointStore(db: Db): CheckpointStore {
  const col = db.collection<CheckpointDoc>(COLLECTIONS.predictorHistory);
  return {
    load: async (symbols) => {
      // One _id lookup per symbol (FerretDB pushes `_id` equality down; it scans for `$in`).
      const docs = await Promise.all(symbols.map((s) => col.findOne({ _id: s })));
      return new Map(docs.filter((d): d is CheckpointDoc => d !== null).map((d) => [d.symbol, fromCheckpointDoc(d)]));
    },
    save: async (entries) => {
      if (entries.length === 0) return;
      await col.bulkWrite(
        entries.map((e) => ({ replaceOne: { filter: { _id: e.symbol }, replacement: toCheckpointDoc(e.symbol, e.vectors), upsert: true } })),
        { ordered: false },
      );
    },
    loadAll: async () => (await col.find({}).toArray()).map(fromCheckpointDoc).filter((v) => v.length > 0),
  };
}
