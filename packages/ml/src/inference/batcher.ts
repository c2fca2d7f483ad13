/**
 * Dynamic micro-batching: requests queue up and are run together, so a model whose cost barely
 * depends on the batch size (an LSTM on wasm costs about the same for 32 windows as for 1) serves
 * many concurrent callers for the price of one call.
 *
 * A batch is run when `maxBatch` items are waiting, or when the oldest item has waited
 * `maxDelayMs` (0 = on the next turn of the event loop, which still batches everything that
 * arrived in the same turn). At most `maxInFlight` batches run at a time (default 1); items
 * arriving meanwhile form the next.
 * The queue holds at most `maxQueue` items: beyond that `submit` rejects with `E_QUEUE_FULL`
 * (callers map it to RESOURCE_EXHAUSTED), unless the caller asks to `wait` for room (the
 * stream path, which should apply back-pressure instead of failing). Items whose deadline passed
 * or whose caller went away while queued are dropped before they reach the model.
 *
 * Pipelined mode (`pipelined`, for a `run` that hands the batch to another thread, such as the
 * inference worker): when a batch completes, the next due batch is handed over *before* the
 * completed batch's callers are answered, so the model thread goes straight on while this thread
 * answers. Items arriving while a batch runs still wait and form the next batch.
 *
 * Batches in flight (`maxInFlight`, for the same kind of `run`): up to that many batches are handed
 * over before the first is answered. With 2, the model thread works on one batch while this
 * thread answers the previous one and collects the next requests (and a closed-loop client
 * sends them), instead of each side waiting for the other. Callers that are answered together
 * come back together, so a queue that starts from idle would keep running one big batch at a
 * time; to get two going, a batch taken while nothing is in flight takes half of what waits
 * and the other half follows at once. Only a queue that holds at least `MIN_SPLIT` items a side,
 * and half again as many as the batch taken before, is split: one of two alternating groups
 * that comes back while the other is still out is not split again (that would fragment the load
 * into ever smaller batches, each paying the model's fixed per-call cost).
 * `run` must process batches in the order it is given them (the inference worker does); each
 * item is still answered exactly once, with its own result.
 *
 * Idle lane (`whenIdle`, for shadow scoring): background tasks run one at a time, and only while
 * the queue is idle: no batch in flight, none queued, no group waiting for room. Idleness is checked
 * on a later turn of the event loop than the one that left the queue idle, so a caller that
 * submits again as soon as it has its answer (a closed loop, the stream path under backlog) always
 * goes first and a saturated queue never runs a background task. A task is not preempted: a batch
 * that becomes due while one runs waits for it (at most one task), so tasks should be short and
 * bounded (the shadow scorer's timeout).
 *
 * Pure logic: no transport, and the timer is injectable for tests.
 */
import { AppError } from '@stock-mlops/contracts';

export type BatchErrorCode = 'E_QUEUE_FULL' | 'E_DEADLINE_EXCEEDED' | 'E_CANCELLED' | 'E_BATCHER_CLOSED' | 'E_BATCH_RESULT';

export class BatchError extends AppError<BatchErrorCode> {
  declare readonly retriable: boolean;
  constructor(code: BatchErrorCode, message: string) {
    super(code, message, { retriable: code === 'E_QUEUE_FULL' });
    this.name = 'BatchError';
  }
}

export interface BatcherOptions {
  /** Largest number of items run together (1 = no batching). */
  maxBatch: number;
  /** Longest time the oldest queued item waits for the batch to fill. */
  maxDelayMs: number;
  /** Most items queued (not yet running) at once. */
  maxQueue: number;
  /** `run` hands work to another thread: see "Pipelined mode" above. Default false. */
  pipelined?: boolean;
  /** Most batches run at once (≥ 1, default 1): see "Batches in flight" above. */
  maxInFlight?: number;
}

export interface SubmitOptions {
  /** Absolute time (ms, same clock as `now`) after which the items are dropped. */
  deadline?: number;
  /** Polled before the batch runs: true when the caller is gone. */
  cancelled?: () => boolean;
  /** Wait for room instead of failing when the queue is full. */
  wait?: boolean;
}

/** Outcome of one item: its result plus how long it queued and how long its batch ran. */
export interface Outcome<O> {
  value: O;
  queuedMs: number;
  runMs: number;
  batchSize: number;
}

export interface BatchStats {
  size: number;
  oldestWaitMs: number;
  runMs: number;
  dropped: number;
  failed: boolean;
}

export interface Scheduler {
  now(): number;
  /** Run `fn` after `ms` (0 = as soon as possible, after the current turn); returns a cancel function. */
  schedule(fn: () => void, ms: number): () => void;
}

export const realScheduler: Scheduler = {
  now: () => performance.now(),
  schedule(fn, ms) {
    if (ms <= 0) {
      const h = setImmediate(fn);
      return () => clearImmediate(h);
    }
    const h = setTimeout(fn, ms);
    return () => clearTimeout(h);
  },
};

interface Entry<I, O> {
  item: I;
  enqueuedAt: number;
  opts: SubmitOptions;
  resolve: (o: Outcome<O>) => void;
  reject: (err: unknown) => void;
}

interface Waiter<I, O> {
  entries: Entry<I, O>[];
}

interface Background {
  task: () => unknown;
  resolve: (v: unknown) => void;
  reject: (err: unknown) => void;
}

/** Fewest items on each side of a batch split to get two batches in flight (smaller splits cost more model calls than they overlap). */
export const MIN_SPLIT = 8;

export function validateBatcherOptions(o: BatcherOptions): BatcherOptions {
  const ok = (x: number, min: number) => Number.isInteger(x) && x >= min;
  if (!ok(o.maxBatch, 1) || !ok(o.maxQueue, 1) || !ok(o.maxInFlight ?? 1, 1) || !(Number.isFinite(o.maxDelayMs) && o.maxDelayMs >= 0)) {
    throw Object.assign(new Error(`invalid batcher options ${JSON.stringify(o)}: maxBatch/maxQueue/maxInFlight ≥ 1, maxDelayMs ≥ 0`), { code: 'E_CONFIG' });
  }
  return o;
}

export class MicroBatcher<I, O> {
  private readonly queue: Entry<I, O>[] = [];
  private readonly waiters: Waiter<I, O>[] = [];
  private readonly background: Background[] = [];
  private cancelIdleCheck: (() => void) | undefined;
  /** Size of the batch taken last (the split rule compares the queue with it). */
  private lastTaken = 0;
  /** Batches (or the one background task) running now. */
  private running = 0;
  private readonly maxInFlight: number;
  private closed = false;
  private cancelTimer: (() => void) | undefined;
  private timerDue = Number.POSITIVE_INFINITY;

  /**
   * @param run computes one output per item, in order (it may be async). If it throws, every
   *   item of that batch is rejected with the error.
   */
  constructor(
    readonly options: BatcherOptions,
    private readonly run: (items: I[]) => O[] | Promise<O[]>,
    private readonly scheduler: Scheduler = realScheduler,
    private readonly onBatch: (s: BatchStats) => void = () => {},
  ) {
    validateBatcherOptions(options);
    this.maxInFlight = options.maxInFlight ?? 1;
  }

  /** Items waiting to run. */
  get depth(): number {
    return this.queue.length;
  }

  /** Queue one item; resolves with its outcome when its batch has run. */
  submit(item: I, opts: SubmitOptions = {}): Promise<Outcome<O>> {
    return this.submitMany([item], opts).then((r) => r[0]!);
  }

  /**
   * Queue several items (a PredictBatch, a Kafka batch). All of them are admitted or none:
   * without `wait`, a group that does not fit fails as a whole with E_QUEUE_FULL. Groups larger
   * than `maxQueue` are admitted in slices when waiting, else refused.
   */
  async submitMany(items: readonly I[], opts: SubmitOptions = {}): Promise<Outcome<O>[]> {
    if (items.length === 0) return [];
    if (this.closed) throw new BatchError('E_BATCHER_CLOSED', 'the batcher is closed');
    const { maxQueue } = this.options;
    if (opts.wait && items.length > maxQueue) {
      const out: Outcome<O>[] = [];
      for (let i = 0; i < items.length; i += maxQueue) out.push(...(await this.submitMany(items.slice(i, i + maxQueue), opts)));
      return out;
    }
    const fits = this.queue.length + items.length <= maxQueue && this.waiters.length === 0;
    if (!fits && !opts.wait) throw new BatchError('E_QUEUE_FULL', `inference queue is full (${this.queue.length}/${maxQueue} queued)`);
    const entries: Entry<I, O>[] = [];
    const promises = items.map(
      (item) => new Promise<Outcome<O>>((resolve, reject) => entries.push({ item, enqueuedAt: 0, opts, resolve, reject })),
    );
    if (fits) this.enqueue(entries);
    else this.waiters.push({ entries });
    return Promise.all(promises);
  }

  private enqueue(entries: Entry<I, O>[]): void {
    const now = this.scheduler.now();
    for (const e of entries) {
      e.enqueuedAt = now;
      this.queue.push(e);
    }
    this.pump();
  }

  /**
   * Run `task` once the queue is idle (see "Idle lane" above); resolves or rejects with what the
   * task returns or throws. Tasks run one at a time, in order of arrival.
   */
  whenIdle<T>(task: () => T | Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new BatchError('E_BATCHER_CLOSED', 'the batcher is closed'));
    return new Promise<T>((resolve, reject) => {
      this.background.push({ task, resolve: resolve as (v: unknown) => void, reject });
      this.scheduleIdleCheck();
    });
  }

  /** Reject everything queued or waiting and refuse new work. */
  close(): void {
    this.closed = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.cancelIdleCheck?.();
    this.cancelIdleCheck = undefined;
    const err = new BatchError('E_BATCHER_CLOSED', 'the batcher is closed');
    for (const e of this.queue.splice(0)) e.reject(err);
    for (const w of this.waiters.splice(0)) for (const e of w.entries) e.reject(err);
    for (const b of this.background.splice(0)) b.reject(err);
  }

  private get idle(): boolean {
    return this.running === 0 && this.queue.length === 0 && this.waiters.length === 0;
  }

  /** Check for idleness on a later turn (a caller answered in this one may submit again first). */
  private scheduleIdleCheck(): void {
    if (this.cancelIdleCheck || this.closed || this.background.length === 0 || !this.idle) return;
    this.cancelIdleCheck = this.scheduler.schedule(() => {
      this.cancelIdleCheck = undefined;
      void this.runBackground();
    }, 0);
  }

  /** One background task, if the queue is still idle; batches due meanwhile wait for it. */
  private async runBackground(): Promise<void> {
    if (this.closed || !this.idle) return; // checked again when the queue next goes idle
    const b = this.background.shift();
    if (!b) return;
    // A background task holds every slot: batches that become due meanwhile wait for it.
    this.running = this.maxInFlight;
    try {
      b.resolve(await b.task());
    } catch (err) {
      b.reject(err);
    } finally {
      this.running = 0;
    }
    this.pump();
    this.scheduleIdleCheck();
  }

  /** Move waiting groups into the queue, in arrival order, while they fit. */
  private admitWaiters(): void {
    while (this.waiters.length > 0 && this.queue.length + this.waiters[0]!.entries.length <= this.options.maxQueue) {
      this.enqueue(this.waiters.shift()!.entries);
    }
  }

  /** Decide whether to run a batch now or when the oldest item's delay is up. */
  private pump(): void {
    if (this.running >= this.maxInFlight || this.closed || this.queue.length === 0) return;
    const due = this.dueAt();
    if (this.cancelTimer && due >= this.timerDue) return;
    this.cancelTimer?.();
    this.timerDue = due;
    this.cancelTimer = this.scheduler.schedule(() => {
      this.cancelTimer = undefined;
      this.timerDue = Number.POSITIVE_INFINITY;
      void this.flush();
    }, Math.max(0, due - this.scheduler.now()));
  }

  /** Due time of the batch at the head of the queue. */
  private dueAt(): number {
    const { maxBatch, maxDelayMs } = this.options;
    return this.queue.length >= maxBatch ? this.scheduler.now() : this.queue[0]!.enqueuedAt + maxDelayMs;
  }

  private async flush(): Promise<void> {
    if (this.running >= this.maxInFlight || this.closed) return;
    const now = this.scheduler.now();
    const { maxBatch, pipelined } = this.options;
    // From idle with room for two batches: split what waits, so that two batches are in flight.
    const waiting = this.queue.length;
    const split = this.maxInFlight > 1 && this.running === 0 && waiting >= 2 * MIN_SPLIT && waiting >= 1.5 * this.lastTaken;
    const taken = this.queue.splice(0, split ? Math.min(maxBatch, Math.ceil(waiting / 2)) : maxBatch);
    this.lastTaken = taken.length;
    this.admitWaiters();
    const live: Entry<I, O>[] = [];
    let dropped = 0;
    for (const e of taken) {
      if (e.opts.deadline !== undefined && now > e.opts.deadline) {
        dropped++;
        e.reject(new BatchError('E_DEADLINE_EXCEEDED', 'deadline exceeded while queued for inference'));
      } else if (e.opts.cancelled?.()) {
        dropped++;
        e.reject(new BatchError('E_CANCELLED', 'caller cancelled while queued for inference'));
      } else live.push(e);
    }
    if (live.length === 0) {
      if (dropped) this.onBatch({ size: 0, oldestWaitMs: 0, runMs: 0, dropped, failed: false });
      this.pump();
      this.scheduleIdleCheck();
      return;
    }
    this.running++;
    // A free slot: the next batch may go as soon as it is due, while this one runs.
    this.pump();
    const started = this.scheduler.now();
    let failed = false;
    let out: O[] | undefined;
    let error: unknown;
    try {
      out = await this.run(live.map((e) => e.item));
      if (out.length !== live.length) throw new BatchError('E_BATCH_RESULT', `batch function returned ${out.length} results for ${live.length} items`);
    } catch (err) {
      failed = true;
      error = err;
    }
    const runMs = this.scheduler.now() - started;
    this.running--;
    this.onBatch({ size: live.length, oldestWaitMs: started - live[0]!.enqueuedAt, runMs, dropped, failed });
    this.admitWaiters();
    // Pipelined: hand the next due batch over before answering this one's callers.
    if (pipelined && !this.closed && this.queue.length > 0 && this.dueAt() <= this.scheduler.now()) {
      this.cancelTimer?.();
      this.cancelTimer = undefined;
      this.timerDue = Number.POSITIVE_INFINITY;
      void this.flush();
    }
    if (failed) for (const e of live) e.reject(error);
    else live.forEach((e, i) => e.resolve({ value: out![i]!, queuedMs: started - e.enqueuedAt, runMs, batchSize: live.length }));
    this.pump();
    this.scheduleIdleCheck();
  }
}
