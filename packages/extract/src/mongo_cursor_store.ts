import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { withDbRetry } from '@stock-mlops/platform/mongo';
import type { LogPosition, TaskState, TaskStateStore } from './extract_loop.ts';

export const CURSOR_COLLECTION = 'extract_cursors';

export interface CursorDoc {
  _id: string;
  provider: string;
  symbol: string;
  cursor?: string;
  /** Raw-topic log positions right after this task's last acknowledged publish. */
  positions?: LogPosition[];
  updatedAt: string;
}

/**
 * Cursors per (provider, symbol) in MongoDB (`extract_cursors`), shared by the extractor service
 * and `npm run etl`: both survive restarts and a re-run does not re-fetch. Writes ride out short
 * database outages (withDbRetry) instead of failing the task.
 */
export function createMongoCursorStore(db: Db, opts: { log?: Logger; isStopping?: () => boolean } = {}): TaskStateStore {
  const col = db.collection<CursorDoc>(CURSOR_COLLECTION);
  const retry = { ...(opts.log && { log: opts.log }), ...(opts.isStopping && { isStopping: opts.isStopping }) };
  return {
    async get(provider, symbol) {
      const doc = await withDbRetry(() => col.findOne({ _id: `${provider}|${symbol}` }), retry);
      if (!doc) return undefined;
      return { ...(doc.cursor !== undefined && { cursor: doc.cursor }), ...(doc.positions && { positions: doc.positions }) } satisfies TaskState;
    },
    async set(provider, symbol, state) {
      const set: Partial<CursorDoc> = { provider, symbol, updatedAt: new Date().toISOString() };
      if (state.cursor !== undefined) set.cursor = state.cursor;
      if (state.positions) set.positions = state.positions.map((p) => ({ partition: p.partition, offset: p.offset }));
      await withDbRetry(() => col.updateOne({ _id: `${provider}|${symbol}` }, { $set: set }, { upsert: true }), retry);
    },
  };
}
