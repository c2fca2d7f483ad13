import { AppError, type PricePrediction } from '@stock-mlops/contracts';
import type { ServingPriceModel } from './predictor.ts';
import type { WhenIdle } from './price_inference.ts';

/**
 * Shadow scoring of the challenger, production first. The stream adapter offers each batch's
 * production predictions (with their event ids) *after* they were published; the scorer queues
 * them and returns at once. The queue is bounded (`maxQueue` waiting predictions): when an offer
 * does not fit, the *oldest* queued batches are dropped to make room (reason `overflow`), so
 * what is scored is the freshest and an offer never waits.
 *
 * The challenger's work runs in the inference queue's idle lane (`whenIdle`: MicroBatcher's
 * idle lane, see batcher.ts): one batch at a time, only when no production batch is running,
 * queued or waiting, and it starts with the oldest batch still queued. Its windows are cut only
 * then (from the same feature history, the challenger's own lookback), so a batch dropped under
 * load costs nothing. Production thus goes first: under saturation the shadow stream thins out
 * (counted drops), with headroom every production prediction gets its shadow prediction. A
 * challenger call is not preempted: a production batch that becomes due meanwhile waits for it
 * (the queue at most `timeoutMs`; a forward pass still running in the worker until it ends).
 *
 * A batch that fails or takes longer than `timeoutMs` (its run, not its wait for the idle lane)
 * is dropped and counted; after `maxFailures` failing batches in a row the challenger itself is
 * dropped (`onChallengerFailed`: the caller unloads it and does not load that version again), with
 * what is still queued for it. Transport-free: publishing, logging and metrics are the caller's
 * callbacks.
 */
export interface ShadowEntry {
  /** The production prediction, as published. */
  prediction: PricePrediction;
  /** The event id it was published with: the shadow prediction gets the same one. */
  eventId: string;
  traceId?: string | undefined;
}

export type ShadowOutput = ShadowEntry;

/** Why shadow predictions were not produced: queue full (the oldest batches made room), challenger too slow or failing, publish failed, challenger dropped. */
export type ShadowDropReason = 'overflow' | 'timeout' | 'error' | 'publish' | 'challenger_dropped';

export interface ShadowScorerOptions {
  /** Production predictions waiting to be shadow-scored, at most. */
  maxQueue: number;
  /** Longest a challenger batch may run (its wait for the idle lane not counted) before it counts as failed. */
  timeoutMs: number;
  /** Failing (error or timeout) batches in a row after which the challenger is dropped. */
  maxFailures: number;
  /** The challenger being served, if any. */
  challenger: () => ServingPriceModel | undefined;
  /** Where the challenger's work runs: the inference queue's idle lane (`PriceInference.whenIdle`); default: at once. */
  whenIdle?: WhenIdle;
  /** The window `model` needs for the prediction of `symbol` as of `asOf`; undefined when it cannot be cut (history too short). */
  window: (model: ServingPriceModel, symbol: string, asOf: string) => number[][] | undefined;
  publish: (out: ShadowOutput[]) => Promise<void>;
  onDropped: (reason: ShadowDropReason, count: number, err?: unknown) => void;
  onChallengerFailed: (model: ServingPriceModel, reason: 'timeout' | 'error', err: unknown) => void;
  /** Called after each published batch (metrics). */
  onScored?: (count: number, ms: number) => void;
  /** Called for each offer taken while a challenger is served (metrics: shadow completeness = scored / offered). */
  onOffered?: (count: number) => void;
}

interface Scored {
  out: ShadowOutput[];
  t0: number;
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
  private readonly whenIdle: WhenIdle;

  constructor(private readonly opts: ShadowScorerOptions) {
    this.whenIdle = opts.whenIdle ?? (async (task) => task());
  }

  /** Predictions waiting to be shadow-scored. */
  get depth(): number {
    return this.queued;
  }

  /** Queue production predictions for the challenger; returns at once (drops the oldest queued batches when the queue is full). */
  offer(entries: readonly ShadowEntry[]): void {
    const model = this.opts.challenger();
    if (!model || entries.length === 0 || this.closed || this.failed.has(model)) return;
    this.opts.onOffered?.(entries.length);
    const { maxQueue } = this.opts;
    let dropped = Math.max(0, entries.length - maxQueue);
    const kept = entries.slice(dropped);
    while (this.queued + kept.length > maxQueue) dropped += this.dropOldest();
    if (dropped > 0) this.opts.onDropped('overflow', dropped);
    model.retain();
    this.queue.push({ model, entries: kept });
    this.queued += kept.length;
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  /** Resolves once the queue is empty (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stop taking offers; what is queued is dropped. */
  close(): void {
    this.closed = true;
    while (this.queue.length > 0) this.dropOldest();
  }

  /** Removes the oldest queued batch; returns its size. */
  private dropOldest(): number {
    const q = this.queue.shift()!;
    this.queued -= q.entries.length;
    q.model.release();
    return q.entries.length;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      let scored: Scored | undefined;
      try {
        scored = await this.whenIdle(() => this.scoreOldest());
      } catch {
        // The inference queue was closed (shutdown): nothing queued can run any more.
        this.close();
        return;
      }
      if (scored) await this.publish(scored);
    }
  }

  /** In the idle lane: the oldest queued batch, scored by the challenger it was queued for. */
  private async scoreOldest(): Promise<Scored | undefined> {
    const q = this.queue.shift();
    if (!q) return undefined;
    this.queued -= q.entries.length;
    try {
      return await this.score(q);
    } finally {
      q.model.release();
    }
  }

  private async score({ model, entries }: Queued): Promise<Scored | undefined> {
    if (this.failed.has(model)) {
      this.opts.onDropped('challenger_dropped', entries.length);
      return undefined;
    }
    const t0 = performance.now();
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
      if (kept.length === 0) return undefined;
      const returns = await withTimeout(model, windows, this.opts.timeoutMs);
      const latencyMs = performance.now() - t0;
      this.failures = 0;
      return { t0, out: kept.map((e, i) => ({ ...e, prediction: model.toPrediction(itemOf(e.prediction), returns[i]!, latencyMs) })) };
    } catch (err) {
      this.onFailure(model, entries.length, err);
      return undefined;
    }
  }

  private onFailure(model: ServingPriceModel, count: number, err: unknown): void {
    const reason = err instanceof ShadowTimeoutError ? 'timeout' : 'error';
    this.opts.onDropped(reason, count, err);
    // Failures in a row of this challenger: another version starts from zero.
    if (this.failing !== model) {
      this.failing = model;
      this.failures = 0;
    }
    if (++this.failures < this.opts.maxFailures || this.failed.has(model)) return;
    this.failed.add(model);
    this.opts.onChallengerFailed(model, reason, err);
    // What is still queued for it will not be scored.
    let dropped = 0;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const q = this.queue[i]!;
      if (q.model !== model) continue;
      this.queue.splice(i, 1);
      this.queued -= q.entries.length;
      dropped += q.entries.length;
      q.model.release();
    }
    if (dropped > 0) this.opts.onDropped('challenger_dropped', dropped);
  }

  private async publish({ out, t0 }: Scored): Promise<void> {
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
