import type { Db } from 'mongodb';
import type { CursorStore } from '@stock-mlops/extract/cursor-store';

/** Cursors per (provider, symbol) in MongoDB: survive restarts of the extractor and of the CLI. */
export function createMongoCursorStore(db: Db): CursorStore {
  const col = db.collection<{ _id: string; provider: string; symbol: string; cursor: string; updatedAt: string }>('extract_cursors');
  return {
    async get(provider, symbol) {
      return (await col.findOne({ _id: `${provider}|${symbol}` }))?.cursor;
    },
    async set(provider, symbol, cursor) {
      await col.updateOne(
        { _id: `${provider}|${symbol}` },
        { $set: { provider, symbol, cursor, updatedAt: new Date().toISOString() } },
        { upsert: true },
      );
    },
  };
}
