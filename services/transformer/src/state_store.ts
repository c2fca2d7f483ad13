/**
 * Per-symbol pipeline state in MongoDB (`transformer_state`, one document per symbol, the
 * snapshot as a JSON string — FerretDB-friendly: flat, no nested arrays).
 *
 * Writes are guarded by a revision number (optimistic concurrency): a save only succeeds when
 * the stored revision is the one this process loaded. Co-partitioned assignment gives each
 * symbol one owner, so a conflict means ownership moved (a rebalance race or a producer that
 * partitions differently); the caller then drops its cached state and retries the batch from the
 * committed offsets with what is stored.
 */
import type { Collection, Db } from 'mongodb';
import type { Logger } from 'pino';
import { AppError, withDbRetry } from '@stock-mlops/platform';
import { SymbolPipeline, type PipelineSnapshot } from '@stock-mlops/transform';

export const STATE_COLLECTION = 'transformer_state';

interface StateDoc {
  _id: string;
  snapshot: string;
  rev: number;
  /** Bars held in the reorder buffer (so pending symbols can be reloaded and flushed after a rebalance). */
  pending: number;
  /** Raw-prices partition the symbol's bars arrive on (-1 before the first bar). */
  partition: number;
  updatedAt: string;
}

export class StateConflictError extends AppError<'E_STATE_CONFLICT'> {
  constructor(symbols: string[]) {
    super('E_STATE_CONFLICT', `transformer state of ${symbols.join(', ')} was changed by another instance`, { retriable: true });
    this.name = 'StateConflictError';
  }
}

export interface Held {
  pipeline: SymbolPipeline;
  /** Revision loaded or last written (0: not stored yet). */
  rev: number;
  partition: number;
}

/** A symbol's state as it was when a batch finished computing (saved once that batch's outputs are acknowledged). */
export interface Captured {
  symbol: string;
  held: Held;
  snapshot: string;
  pending: number;
  partition: number;
}

export function capture(symbol: string, held: Held): Captured {
  return { symbol, held, snapshot: JSON.stringify(held.pipeline.snapshot()), pending: held.pipeline.pending, partition: held.partition };
}

export class StateStore {
  private readonly col: Collection<StateDoc>;

  constructor(
    db: Db,
    private readonly log: Logger,
    private readonly isStopping: () => boolean = () => false,
  ) {
    this.col = db.collection<StateDoc>(STATE_COLLECTION);
  }

  /** Stored state, or a fresh pipeline (also when the stored one is for another feature schema). */
  async load(symbol: string, fresh: () => SymbolPipeline): Promise<Held> {
    const doc = await withDbRetry(() => this.col.findOne({ _id: symbol }), { log: this.log, isStopping: this.isStopping });
    if (!doc) return { pipeline: fresh(), rev: 0, partition: -1 };
    const pipeline = SymbolPipeline.restore(JSON.parse(doc.snapshot) as PipelineSnapshot);
    if (!pipeline) this.log.warn({ symbol }, 'stored state is for another feature schema; starting fresh');
    return { pipeline: pipeline ?? fresh(), rev: doc.rev ?? 0, partition: doc.partition ?? -1 };
  }

  /** Saves the given symbols' current state; bumps their revisions. @throws StateConflictError */
  save(entries: ReadonlyArray<[string, Held]>): Promise<void> {
    return this.saveCaptured(entries.map(([symbol, h]) => capture(symbol, h)));
  }

  /**
   * Saves captured states; bumps their revisions. The revision guard is read now (not at capture
   * time): captures of one symbol are saved in the order they were taken. @throws StateConflictError
   */
  async saveCaptured(captured: readonly Captured[]): Promise<void> {
    if (captured.length === 0) return;
    const entries = captured.map((c) => [c.symbol, c.held] as const);
    const now = new Date().toISOString();
    const ops = captured.map(({ symbol, held: h, snapshot, pending, partition }) => ({
      updateOne: {
        filter: h.rev === 0 ? { _id: symbol, rev: { $exists: false } } : { _id: symbol, rev: h.rev },
        update: { $set: { snapshot, rev: h.rev + 1, pending, partition, updatedAt: now } },
        upsert: h.rev === 0,
      },
    }));
    let written: number;
    try {
      const r = await withDbRetry(() => this.col.bulkWrite(ops, { ordered: false }), { log: this.log, isStopping: this.isStopping });
      written = r.matchedCount + r.upsertedCount;
    } catch (err) {
      const e = err as { code?: number; writeErrors?: Array<{ code?: number }> | { code?: number } };
      const errors = Array.isArray(e.writeErrors) ? e.writeErrors : e.writeErrors ? [e.writeErrors] : [e];
      // A duplicate _id on insert: another instance created the document first.
      if (errors.length > 0 && errors.every((w) => w.code === 11000)) throw new StateConflictError(entries.map(([s]) => s));
      throw err;
    }
    if (written !== entries.length) throw new StateConflictError(entries.map(([s]) => s));
    for (const [, h] of entries) h.rev++;
  }

  /** Symbols on the given raw-prices partitions with bars held for reordering. */
  async pendingOn(partitions: readonly number[]): Promise<string[]> {
    if (partitions.length === 0) return [];
    const docs = await withDbRetry(() => this.col.find({ pending: { $gt: 0 } }, { projection: { _id: 1, partition: 1 } }).toArray(), { log: this.log, isStopping: this.isStopping });
    return docs.filter((d) => partitions.includes(d.partition)).map((d) => d._id).sort();
  }
}
