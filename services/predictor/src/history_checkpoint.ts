/**
 * Keeps the streamed feature history gap-free across restarts and rebalances.
 *
 * The predictor cuts each window from the feature vectors it has seen. After a (re)start it
 * resumes the features topic at its committed offset, so the vectors before that offset must come
 * from somewhere else. Reading them back from the features collection is no good: the loader may
 * lag behind the predictor (a window would silently skip bars), and on FerretDB every such query
 * scans the whole collection.
 *
 * So the predictor checkpoints its own history: after each batch is predicted and its predictions
 * are acknowledged by the broker, and before the batch's offsets are committed, the newest `keep`
 * vectors of every symbol the batch touched are saved (one small document per symbol). Whatever
 * is committed is therefore covered by a checkpoint. After a start or a rebalance, the first
 * vector of a symbol loads that symbol's checkpoint; redelivered vectors (not newer than the
 * checkpoint) were already predicted before the crash.
 *
 * Transport-free: the database reads and writes are injected.
 */
import type { FeatureVector } from '@stock-mlops/contracts';
import type { FeatureHistory } from '@stock-mlops/ml/inference/preprocessor';

export interface CheckpointSource {
  /** The saved vectors of these symbols (ascending by ts); symbols without a checkpoint are absent. */
  load(symbols: readonly string[]): Promise<Map<string, FeatureVector[]>>;
  save(entries: ReadonlyArray<{ symbol: string; vectors: FeatureVector[] }>): Promise<void>;
}

export class HistoryCheckpoint {
  private readonly loaded = new Set<string>();

  constructor(
    private readonly opts: {
      source: CheckpointSource;
      history: FeatureHistory;
      /** How many of the newest vectors to save per symbol (the served model's lookback). */
      keep: () => number;
    },
  ) {}

  /** Forget which symbols are loaded (after a rebalance another replica may have moved them on). */
  reset(): void {
    this.loaded.clear();
  }

  /** Load the checkpoint of every symbol of the batch not loaded since the start or the last rebalance. */
  async ensure(batch: readonly FeatureVector[]): Promise<void> {
    const missing = [...new Set(batch.map((fv) => fv.symbol))].filter((s) => !this.loaded.has(s));
    if (missing.length === 0) return;
    const saved = await this.opts.source.load(missing);
    for (const s of missing) {
      const vectors = saved.get(s);
      // No checkpoint: a symbol this deployment has not predicted yet; keep what the warm-up had.
      if (vectors) this.opts.history.replace(s, vectors);
      this.loaded.add(s);
    }
  }

  /** Save the newest vectors of every symbol the batch touched (call before committing its offsets). */
  async save(batch: readonly FeatureVector[]): Promise<void> {
    const keep = Math.max(1, this.opts.keep());
    const entries = [...new Set(batch.map((fv) => fv.symbol))].map((symbol) => ({ symbol, vectors: this.opts.history.tail(symbol, keep) }));
    await this.opts.source.save(entries.filter((e) => e.vectors.length > 0));
  }
}

/** A checkpoint as one flat document (FerretDB 1.x: no arrays of arrays): values are concatenated. */
export interface CheckpointDoc {
  _id: string;
  symbol: string;
  ts: string[];
  interval: string[];
  close: number[];
  schemaVersion: string[];
  schemaHash: string[];
  width: number[];
  values: number[];
  updatedAt: string;
}

export function toCheckpointDoc(symbol: string, vectors: readonly FeatureVector[], now = new Date()): CheckpointDoc {
  return {
    _id: symbol,
    symbol,
    ts: vectors.map((v) => v.ts),
    interval: vectors.map((v) => v.interval),
    close: vectors.map((v) => v.close),
    schemaVersion: vectors.map((v) => v.schemaVersion),
    schemaHash: vectors.map((v) => v.schemaHash),
    width: vectors.map((v) => v.values.length),
    values: vectors.flatMap((v) => v.values),
    updatedAt: now.toISOString(),
  };
}

export function fromCheckpointDoc(d: CheckpointDoc): FeatureVector[] {
  const out: FeatureVector[] = [];
  let at = 0;
  for (let i = 0; i < d.ts.length; i++) {
    const w = d.width[i]!;
    out.push({
      symbol: d.symbol,
      interval: d.interval[i] as FeatureVector['interval'],
      ts: d.ts[i]!,
      close: d.close[i]!,
      schemaVersion: d.schemaVersion[i]!,
      schemaHash: d.schemaHash[i]!,
      values: d.values.slice(at, at + w),
    });
    at += w;
  }
  return out;
}
