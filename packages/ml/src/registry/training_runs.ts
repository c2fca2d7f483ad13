import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Collection, Db } from 'mongodb';
import { AppError } from '@stock-mlops/contracts';
import type { ModelTask } from './model_store.ts';

/**
 * One training at a time per model, across processes (trainer service replicas and CLIs), and a
 * record of every run.
 *
 * - `training_leases`: one document per model name holding the running run's id, its owner and
 *   an expiry that the owner extends while it trains (heartbeat). Taking a lease is a
 *   compare-and-set on that single document (insert, or update guarded by the previous run id),
 *   so it needs no transactions (FerretDB has none).
 * - `training_runs`: one document per run: reason, owner, status, the version it registered.
 *
 * A lease is taken over when it expired, or at once when its owner is provably dead (same host,
 * process gone, or this very process after a restart). The run it belonged to is marked
 * `abandoned`; the caller decides whether to re-run it. A version registered by an abandoned run
 * whose gate decision never happened is marked rejected by the caller (see ml_service).
 */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'abandoned';

export interface TrainingRun {
  _id: string;
  model: string;
  task: ModelTask;
  reason: string;
  owner: string;
  status: RunStatus;
  startedAt: string;
  finishedAt?: string;
  /** Version registered by this run (set as soon as registration completes). */
  version?: number;
  error?: string;
  /** Run this one took over from (its owner died). */
  tookOverFrom?: string;
  /** Who started it: the trainer service re-runs its own abandoned runs; CLI runs are only cleaned up. */
  origin: RunOrigin;
  /** For an abandoned run: the run (or process) that took care of it; unset = still to handle. */
  resolvedBy?: string;
}

export type RunOrigin = 'trainer' | 'cli';

interface LeaseDoc {
  _id: string;
  runId: string;
  owner: string;
  expiresAt: number;
}

export class TrainingBusyError extends AppError<'E_TRAINING_BUSY'> {
  constructor(
    readonly model: string,
    readonly holder: { runId: string; owner: string; expiresAt: number },
  ) {
    super('E_TRAINING_BUSY', `a training of ${model} is already running (run ${holder.runId} by ${holder.owner})`, { retriable: true });
    this.name = 'TrainingBusyError';
  }
}

/** This process: host/pid/nonce (the nonce tells a restarted process from its predecessor with the same pid). */
const NONCE = randomBytes(4).toString('hex');
export const PROCESS_OWNER = `${hostname()}/${process.pid}/${NONCE}`;

/** True when `owner` is a process on this host that no longer runs (or an earlier life of this pid). */
export function ownerIsDead(owner: string): boolean {
  const [host, pidText, nonce] = owner.split('/');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return nonce !== NONCE;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export interface AcquireResult {
  run: TrainingRun;
  /** The run whose lease was taken over (its owner died or its lease expired), if any. */
  abandoned?: TrainingRun;
}

export class TrainingRuns {
  readonly runs: Collection<TrainingRun>;
  readonly leases: Collection<LeaseDoc>;

  constructor(
    db: Db,
    readonly leaseMs = 30_000,
    readonly origin: RunOrigin = 'trainer',
    readonly owner = PROCESS_OWNER,
  ) {
    this.runs = db.collection<TrainingRun>('training_runs');
    this.leases = db.collection<LeaseDoc>('training_leases');
  }

  async ensureIndexes(): Promise<void> {
    await this.runs.createIndex({ model: 1, startedAt: 1 });
  }

  private newRun(model: string, task: ModelTask, reason: string): TrainingRun {
    const runId = `${model}-${new Date().toISOString().replace(/[-:.TZ]/g, '')}-${randomBytes(3).toString('hex')}`;
    return { _id: runId, model, task, reason: reason.slice(0, 2000), owner: this.owner, origin: this.origin, status: 'running', startedAt: new Date().toISOString() };
  }

  /** Take the model's lease and record a running run, or throw TrainingBusyError. */
  async tryAcquire(model: string, task: ModelTask, reason: string): Promise<AcquireResult> {
    const run = this.newRun(model, task, reason);
    const lease: LeaseDoc = { _id: model, runId: run._id, owner: this.owner, expiresAt: Date.now() + this.leaseMs };
    const current = await this.leases.findOne({ _id: model });
    let abandoned: TrainingRun | undefined;
    if (!current) {
      try {
        await this.leases.insertOne(lease);
      } catch (err) {
        if ((err as { code?: number }).code === 11000) {
          const holder = await this.leases.findOne({ _id: model });
          throw new TrainingBusyError(model, holder ?? { runId: '?', owner: '?', expiresAt: 0 });
        }
        throw err;
      }
    } else {
      if (current.expiresAt > Date.now() && !ownerIsDead(current.owner)) throw new TrainingBusyError(model, current);
      // Compare-and-set on the previous run id: of two processes taking over, one wins.
      const r = await this.leases.updateOne({ _id: model, runId: current.runId }, { $set: { runId: run._id, owner: this.owner, expiresAt: lease.expiresAt } });
      if (r.matchedCount !== 1) {
        const holder = await this.leases.findOne({ _id: model });
        throw new TrainingBusyError(model, holder ?? current);
      }
      abandoned = (await this.markAbandoned(current.runId, run._id)) ?? undefined;
      if (abandoned) run.tookOverFrom = abandoned._id;
    }
    await this.runs.insertOne({ ...run });
    return { run, ...(abandoned ? { abandoned } : {}) };
  }

  /** Wait (polling) until the lease is free, up to `waitMs`. */
  async acquire(model: string, task: ModelTask, reason: string, opts: { waitMs?: number; pollMs?: number; onWait?: (e: TrainingBusyError) => void } = {}): Promise<AcquireResult> {
    const deadline = Date.now() + (opts.waitMs ?? 0);
    let told = false;
    for (;;) {
      try {
        return await this.tryAcquire(model, task, reason);
      } catch (err) {
        if (!(err instanceof TrainingBusyError) || Date.now() >= deadline) throw err;
        if (!told) opts.onWait?.(err);
        told = true;
        await new Promise((r) => setTimeout(r, Math.min(opts.pollMs ?? 1_000, Math.max(10, deadline - Date.now()))));
      }
    }
  }

  /** Extend the lease; false when it was lost (expired and taken over). */
  async heartbeat(run: TrainingRun): Promise<boolean> {
    const r = await this.leases.updateOne({ _id: run.model, runId: run._id }, { $set: { expiresAt: Date.now() + this.leaseMs } });
    return r.matchedCount === 1;
  }

  async setVersion(run: TrainingRun, version: number): Promise<void> {
    run.version = version;
    await this.runs.updateOne({ _id: run._id }, { $set: { version } });
  }

  /** Record the outcome and release the lease (if still ours). */
  async finish(run: TrainingRun, status: Exclude<RunStatus, 'running'>, error?: string): Promise<void> {
    run.status = status;
    const set: Partial<TrainingRun> = { status, finishedAt: new Date().toISOString() };
    if (error !== undefined) set.error = error.slice(0, 2000);
    await this.runs.updateOne({ _id: run._id, status: 'running' }, { $set: set });
    await this.leases.deleteOne({ _id: run.model, runId: run._id });
  }

  private async markAbandoned(runId: string, by: string): Promise<TrainingRun | null> {
    const r = await this.runs.findOneAndUpdate(
      { _id: runId, status: 'running' },
      { $set: { status: 'abandoned', finishedAt: new Date().toISOString(), error: `owner stopped; lease taken over by run ${by}`, resolvedBy: by } },
      { returnDocument: 'after' },
    );
    return r;
  }

  /**
   * Runs still to take care of: runs left `running` by a process that died (lease expired or
   * owner provably dead; taking the lease over marks them abandoned), and runs recorded
   * `abandoned` (stopped by a shutdown) that nobody handled yet. Oldest first.
   */
  async findAbandoned(): Promise<TrainingRun[]> {
    const out: TrainingRun[] = [];
    const candidates = await this.runs.find({ status: { $in: ['running', 'abandoned'] } }).toArray();
    candidates.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    for (const run of candidates) {
      if (run.status === 'abandoned') {
        if (!run.resolvedBy) out.push(run);
        continue;
      }
      const lease = await this.leases.findOne({ _id: run.model });
      if (!lease || lease.runId !== run._id) {
        const r = await this.runs.findOneAndUpdate(
          { _id: run._id, status: 'running' },
          { $set: { status: 'abandoned', finishedAt: new Date().toISOString(), error: 'run lost its lease before it finished' } },
          { returnDocument: 'after' },
        );
        if (r) out.push(r);
      } else if (lease.expiresAt <= Date.now() || ownerIsDead(lease.owner)) {
        out.push(run);
      }
    }
    return out;
  }

  /** Record that an abandoned run was taken care of (re-run queued, or cleaned up). */
  async markResolved(runId: string, by: string): Promise<void> {
    await this.runs.updateOne({ _id: runId }, { $set: { resolvedBy: by } });
  }

  async list(model?: string): Promise<TrainingRun[]> {
    const docs = await this.runs.find(model ? { model } : {}).toArray();
    return docs.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }
}
