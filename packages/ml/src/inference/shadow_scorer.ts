import { AppError, type PricePrediction } from '@stock-mlops/contracts';
import type { ServingPriceModel } from './predictor.ts';

/**
 * Shadow scoring of the challenger, off the production path. The stream adapter offers each
 * batch's production predictions (with their event ids) *after* they were published; the scorer
 * queues them (bounded: beyond `maxQueue` waiting predictions an offer is dropped, never waited
 * for), and one batch at a time cuts the challenger's windows for the same symbols and as-of
 * times, runs the challenger (at most `timeoutMs`) and hands the shadow predictions — same event
 * ids, the challenger's model ref — to `publish`.
 *
 * A batch that fails or times out is dropped and counted; after `maxFailures` failing batches in
 * a row the challenger itself is dropped (`onChallengerFailed`: the caller unloads it and does not
 * load that version again). Production never waits on any of this. Transport-free: publishing,
 * logging and metrics are the caller's callbacks.
 */
export interface ShadowEntry {
  /** The production prediction, as published. */
  prediction: PricePrediction;
  /** The event id it was published with: the shadow prediction gets the same one. */
  eventId: string;
  traceId?: string | undefined;
}

export type ShadowOutput = ShadowEntry;

/** Why shadow predictions were not produced: queue full, challenger too slow or failing, publish failed, challenger dropped. */
export type ShadowDropReason = 'overflow' | 'timeout' | 'error' | 'publish' | 'challenger_dropped';

export interface ShadowScorerOptions {
  /** Production predictions waiting to be shadow-scored, at most. */
  maxQueue: number;
  /** Longest a challenger batch may take before it counts as failed. */
  timeoutMs: number;
  /** Failing (error or timeout) batches in a row after which the challenger is dropped. */
  maxFailures: number;
  /** The challenger being served, if any. */
  challenger: () => ServingPriceModel | undefined;
  /** The window `model` needs for the prediction of `symbol` as of `asOf`; undefined when it cannot be cut (history too short). */
  window: (model: ServingPriceModel, symbol: string, asOf: string) => number[][] | undefined;
  publish: (out: ShadowOutput[]) => Promise<void>;
  onDropped: (reason: ShadowDropReason, count: number, err?: unknown) => void;
  onChallengerFailed: (model: ServingPriceModel, reason: 'timeout' | 'error', err: unknown) => void;
  /** Called after each published batch (metrics). */
  onScored?: (count: number, ms: number) => void;
}

interface Queued {
  model: ServingPriceModel;
  entries: ShadowEntry[];
}

export class ShadowTimeoutError extends AppError<'E_SHADOW_TIMEOUT'> {
  constructor(ms: number) {
    super('E_SHADOW_TIMEOUT', `challenger batch took more than ${ms} ms`, { retriable: true });
    this.name = 'ShadowTimeoutError';
  }
}

export class ShadowScorer {
  private readonly queue: Queued[] = [];
  private queued = 0;
  private running: Promise<void> | undefined;
  private failures = 0;
  private failing: ServingPriceModel | undefined;
  private readonly failed = new WeakSet<ServingPriceModel>();
  private closed = false;

  constructor(private readonly opts: ShadowScorerOptions) {}

  /** Predictions waiting to be shadow-scored. */
  get depth(): number {
    return this.queued;
  }

  /** Queue production predictions for the challenger; returns at once (drops them when the queue is full). */
  offer(entries: readonly ShadowEntry[]): void {
    const model = this.opts.challenger();
    if (!model || entries.length === 0 || this.closed || this.failed.has(model)) return;
    if (this.queued + entries.length > this.opts.maxQueue) {
      this.opts.onDropped('overflow', entries.length);
      return;
    }
    model.retain();
    this.queue.push({ model, entries: [...entries] });
    this.queued += entries.length;
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  /** Resolves once the queue is empty (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stop taking offers; what is queued is dropped. */
  close(): void {
    this.closed = true;
    for (const q of this.queue.splice(0)) {
      this.queued -= q.entries.length;
      q.model.release();
    }
  }

  private async drain(): Promise<void> {
    for (let q = this.queue.shift(); q; q = this.queue.shift()) {
      this.queued -= q.entries.length;
      try {
        await this.score(q);
      } finally {
        q.model.release();
      }
    }
  }

  private async score({ model, entries }: Queued): Promise<void> {
    if (this.failed.has(model)) return this.opts.onDropped('challenger_dropped', entries.length);
    const t0 = performance.now();
    let out: ShadowOutput[];
    try {
      const kept: ShadowEntry[] = [];
      const windows: number[][][] = [];
      for (const e of entries) {
        const w = this.opts.window(model, e.prediction.symbol, e.prediction.asOf);
        if (w) {
          kept.push(e);
          windows.push(w);
        }
      }
      if (kept.length === 0) return;
      const returns = await withTimeout(model, windows, this.opts.timeoutMs);
      const latencyMs = performance.now() - t0;
      out = kept.map((e, i) => ({ ...e, prediction: model.toPrediction(itemOf(e.prediction), returns[i]!, latencyMs) }));
    } catch (err) {
      const reason = err instanceof ShadowTimeoutError ? 'timeout' : 'error';
      this.opts.onDropped(reason, entries.length, err);
      // Failures in a row of this challenger: another version starts from zero.
      if (this.failing !== model) {
        this.failing = model;
        this.failures = 0;
      }
      if (++this.failures >= this.opts.maxFailures && !this.failed.has(model)) {
        this.failed.add(model);
        this.opts.onChallengerFailed(model, reason, err);
      }
      return;
    }
    this.failures = 0;
    try {
      await this.opts.publish(out);
      this.opts.onScored?.(out.length, performance.now() - t0);
    } catch (err) {
      this.opts.onDropped('publish', out.length, err);
    }
  }
}

/** The challenger's returns for `windows`, or a ShadowTimeoutError after `ms` (the model call itself cannot be cancelled). */
async function withTimeout(model: ServingPriceModel, windows: number[][][], ms: number): Promise<number[]> {
  let timer: NodeJS.Timeout | undefined;
  const call = (async () => model.predictBatch(windows))();
  try {
    return await Promise.race([call, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new ShadowTimeoutError(ms)), ms)))]);
  } finally {
    clearTimeout(timer);
    call.catch(() => {}); // a late failure after the timeout is already counted
  }
}

/** What the shadow prediction copies from the production one: symbol, interval, as-of, last close, synthetic mark. */
function itemOf(p: PricePrediction) {
  return { symbol: p.symbol, interval: p.interval, asOf: p.asOf, lastClose: p.lastClose, ...(p.synthetic === true ? { synthetic: true as const } : {}) };
}
