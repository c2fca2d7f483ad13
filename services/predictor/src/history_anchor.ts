/**
 * Keeps the streamed feature history gap-free across restarts.
 *
 * The predictor cuts each window from the feature vectors it has seen. After a (re)start it
 * resumes the features topic at its committed offset, so the vectors just before that offset are
 * not in memory; the database holds them, but the loader may lag behind the predictor (it may
 * even be down). A window built from a lagging database would silently skip bars.
 *
 * So the first vector of each symbol after a start anchors that symbol: wait until the loader
 * has stored it — the loader writes a symbol's vectors in stream order and updates the
 * latest-state document after each acknowledged batch, so once latest-state shows this vector
 * (or a newer one) every earlier vector of the symbol is in the database — then load the history
 * that precedes it. From then on the stream itself keeps the history contiguous (one symbol =
 * one partition = one order).
 *
 * Transport-free: the database reads are injected.
 */
import type { FeatureVector } from '@stock-mlops/contracts';
import type { FeatureHistory } from '@stock-mlops/ml/inference/preprocessor';

export interface HistorySource {
  /** ts of the newest vector the loader has fully stored, per symbol (absent: none yet). */
  storedUpTo(symbols: readonly string[]): Promise<Map<string, string>>;
  /** The newest `limit` stored vectors of a symbol strictly older than `beforeTs`, ascending. */
  before(symbol: string, beforeTs: string, limit: number): Promise<FeatureVector[]>;
}

export interface AnchorOptions {
  source: HistorySource;
  history: FeatureHistory;
  /** Give up waiting for the loader after this long and use what the database has (counted). */
  maxWaitMs: number;
  pollMs?: number;
  /** Called while waiting (e.g. to keep a consumer group session alive). */
  onWait?: (pending: readonly string[], waitedMs: number) => void | Promise<void>;
  onIncomplete?: (symbols: readonly string[]) => void;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export class HistoryAnchor {
  private readonly anchored = new Set<string>();

  constructor(private readonly opts: AnchorOptions) {}

  isAnchored(symbol: string): boolean {
    return this.anchored.has(symbol);
  }

  /** Forget every anchor (after a rebalance: partitions may have moved away and back). */
  reset(): void {
    this.anchored.clear();
  }

  /** Anchor every symbol of the batch that is not anchored yet; resolves when they all are. */
  async ensure(batch: readonly FeatureVector[]): Promise<void> {
    const first = new Map<string, FeatureVector>();
    for (const fv of batch) if (!this.anchored.has(fv.symbol) && !first.has(fv.symbol)) first.set(fv.symbol, fv);
    if (first.size === 0) return;
    const { source, history, maxWaitMs } = this.opts;
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const now = this.opts.now ?? Date.now;
    const started = now();
    let pending = [...first.keys()];
    let pollMs = this.opts.pollMs ?? 200;
    for (;;) {
      const stored = await source.storedUpTo(pending);
      pending = pending.filter((s) => !((stored.get(s) ?? '') >= first.get(s)!.ts));
      if (pending.length === 0) break;
      const waited = now() - started;
      if (waited >= maxWaitMs) {
        this.opts.onIncomplete?.(pending);
        break;
      }
      await this.opts.onWait?.(pending, waited);
      await sleep(Math.min(pollMs, Math.max(1, maxWaitMs - waited)));
      pollMs = Math.min(2_000, pollMs * 2);
    }
    await Promise.all(
      [...first.values()].map(async (fv) => {
        history.replace(fv.symbol, await source.before(fv.symbol, fv.ts, history.capacity));
        this.anchored.add(fv.symbol);
      }),
    );
  }
}
