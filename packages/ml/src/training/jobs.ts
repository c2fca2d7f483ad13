/**
 * Training jobs shared by the trainer service and the `npm run train` CLI: load the data (CSV
 * files or the features in MongoDB; sentiment CSVs), take the model's training lease (one
 * training at a time per model, across processes), train → evaluate → register → gate, and
 * record the run. Returns the model events; the caller publishes them.
 */
import { execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { AppError, type ModelEvent } from '@stock-mlops/contracts';
import { REPO_ROOT } from '@stock-mlops/platform/config';
import { allFeatureDocs, FeatureSchemaStore } from '@stock-mlops/load';
import type { FeatureRow } from '../datasets/supervised.ts';
import {
  cleanUpAbandonedRun,
  priceModelName,
  PRICE_MODEL,
  SENTIMENT_MODEL,
  trainRegisterAndGatePrice,
  trainRegisterAndGateSentiment,
  type PriceRunResult,
  type PromoteAs,
  type SentimentRunResult,
} from '../ml_service.ts';
import type { ModelStore, ModelTask } from '../registry/model_store.ts';
import { TrainingRuns, type TrainingRun } from '../registry/training_runs.ts';
import type { Tf } from '../tf.ts';
import type { PriceTrainConfig, SentimentTrainConfig } from './config.ts';
import type { EpochLog } from '../models/price_predictor.ts';
import { loadSentimentCsv, type EpochLog as SentimentEpochLog, type LabelledTexts } from '../models/sentiment_analyzer.ts';
import { loadPriceCsvRows } from './price_csv.ts';
import type { LabelStore } from './sentiment_labels.ts';
import { featureRows } from './rows.ts';

export interface JobContext {
  tf: Tf;
  db: Db;
  store: ModelStore;
  runs: TrainingRuns;
  log: Logger;
  gitSha: string;
  /** How long to wait for another process's training of the same model (0 = fail at once with E_TRAINING_BUSY). */
  lockWaitMs: number;
}

export class LeaseLostError extends AppError<'E_LEASE_LOST'> {
  constructor(model: string) {
    super('E_LEASE_LOST', `the training lease of ${model} was lost (lease expired and taken over); nothing registered`);
    this.name = 'LeaseLostError';
  }
}

/** Thrown from an epoch callback to stop a training for a shutdown; the run is recorded abandoned (re-run at the next start). */
export class TrainingAbortedError extends AppError<'E_SHUTDOWN'> {
  constructor(reason = 'the process is shutting down') {
    super('E_SHUTDOWN', reason);
    this.name = 'TrainingAbortedError';
  }
}

export function currentGitSha(): string {
  if (process.env.GIT_SHA) return process.env.GIT_SHA;
  try {
    return execSync('git rev-parse HEAD', { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

export const fileSha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * Run `fn` holding the model's training lease: waits for a running training elsewhere, cleans up
 * after a run whose process died, heartbeats the lease, records the outcome. `fn` receives a
 * guard to call right before it writes to the registry.
 */
export async function withTrainingRun<T>(
  ctx: JobContext,
  model: string,
  task: ModelTask,
  reason: string,
  fn: (run: TrainingRun, guard: () => Promise<void>) => Promise<T>,
): Promise<T> {
  const { run, abandoned } = await ctx.runs.acquire(model, task, reason, {
    waitMs: ctx.lockWaitMs,
    onWait: (e) => ctx.log.info({ model, holder: e.holder.runId, owner: e.holder.owner }, 'another training of this model is running; waiting'),
  });
  const log = ctx.log.child({ model, runId: run._id });
  if (abandoned) {
    const cleaned = await cleanUpAbandonedRun(ctx.store, abandoned);
    log.warn({ abandonedRun: abandoned._id, reason: abandoned.reason, ...cleaned }, 'took over from a training run whose process stopped');
  }
  let lost = false;
  const beat = async () => {
    if (!(await ctx.runs.heartbeat(run))) lost = true;
  };
  const timer = setInterval(() => void beat().catch((err) => log.warn({ err }, 'lease heartbeat failed')), Math.max(100, Math.floor(ctx.runs.leaseMs / 3)));
  const guard = async () => {
    await beat();
    if (lost) throw new LeaseLostError(model);
  };
  try {
    const out = await fn(run, guard);
    await ctx.runs.finish(run, 'succeeded');
    return out;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const status = err instanceof TrainingAbortedError ? 'abandoned' : 'failed';
    await ctx.runs.finish(run, status, `${e.code ?? 'E_TRAIN'}: ${e.message ?? String(err)}`).catch((finishErr) => log.warn({ err: finishErr }, 'could not record the run outcome'));
    throw err;
  } finally {
    clearInterval(timer);
  }
}

/**
 * Take care of a run whose process died without re-running it (e.g. a CLI run: its data files are
 * not the trainer's): take its lease over, which cleans up after it, and release it.
 */
export async function reclaimRun(ctx: JobContext, abandoned: TrainingRun): Promise<void> {
  if (abandoned.status === 'running') {
    await withTrainingRun(ctx, abandoned.model, abandoned.task, `clean-up after abandoned ${abandoned.origin} run ${abandoned._id}`, async () => {});
  }
  await ctx.runs.markResolved(abandoned._id, `${ctx.runs.owner}: cleaned up, not re-run`);
}

// ---------------------------------------------------------------------------------------------
// Price

export interface PriceData {
  rows: FeatureRow[];
  schemaHash: string;
  names: string[];
  lineage: Record<string, unknown>;
}

/** Price training rows from CSV files, or from the features the loader wrote to MongoDB. */
export async function loadPriceData(ctx: Pick<JobContext, 'db'>, cfg: PriceTrainConfig, files: string[] = []): Promise<PriceData> {
  const opts = { maxRowsPerSymbol: cfg.data.maxRowsPerSymbol, ...(cfg.data.symbols ? { symbols: cfg.data.symbols } : {}) };
  if (files.length > 0) {
    const d = loadPriceCsvRows(files, opts);
    return { rows: d.rows, schemaHash: d.schemaHash, names: d.names, lineage: { source: 'csv', files: d.files, ...d.lineage } };
  }
  const d = featureRows(await allFeatureDocs(ctx.db), opts);
  // Stored vectors carry their schema hash, not the names (docs/api.md): those are stored once per hash.
  const names = d.names.length > 0 || !d.schemaHash ? d.names : [...((await new FeatureSchemaStore(ctx.db).get(d.schemaHash))?.names ?? [])];
  return { rows: d.rows, schemaHash: d.schemaHash, names, lineage: { source: 'mongodb', ...d.lineage } };
}

/** The models a price job trains: one pooled model, or one per symbol. */
export function priceGroups(cfg: PriceTrainConfig, rows: FeatureRow[]): Array<{ model: string; rows: FeatureRow[] }> {
  if (cfg.data.pooling === 'pooled') return [{ model: PRICE_MODEL, rows }];
  const by = new Map<string, FeatureRow[]>();
  for (const r of rows) by.set(r.symbol, [...(by.get(r.symbol) ?? []), r]);
  return [...by.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([symbol, list]) => ({ model: priceModelName(symbol), rows: list }));
}

export interface PriceJobOptions {
  reason: string;
  cfg: PriceTrainConfig;
  files?: string[];
  onEpoch?: (model: string, e: EpochLog) => void;
  /** Where a version that passes the gate goes (default production; TRAIN_PROMOTE_AS in the trainer). */
  promoteAs?: PromoteAs;
}

export async function runPriceJob(ctx: JobContext, opts: PriceJobOptions): Promise<PriceRunResult[]> {
  const data = await loadPriceData(ctx, opts.cfg, opts.files);
  const out: PriceRunResult[] = [];
  for (const group of priceGroups(opts.cfg, data.rows)) {
    ctx.log.info({ model: group.model, rows: group.rows.length, reason: opts.reason, source: data.lineage.source }, 'training started');
    const result = await withTrainingRun(ctx, group.model, 'price', opts.reason, (run, guard) =>
      trainRegisterAndGatePrice({
        tf: ctx.tf,
        store: ctx.store,
        rows: group.rows,
        featureSchemaHash: data.schemaHash,
        featureNames: data.names,
        cfg: opts.cfg,
        gitSha: ctx.gitSha,
        modelName: group.model,
        lineage: { ...data.lineage, runId: run._id, reason: opts.reason },
        ...(opts.onEpoch ? { onEpoch: (e: EpochLog) => opts.onEpoch!(group.model, e) } : {}),
        beforeRegister: guard,
        onRegistered: (v) => ctx.runs.setVersion(run, v),
        ...(opts.promoteAs ? { promoteAs: opts.promoteAs } : {}),
      }),
    );
    out.push(result);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sentiment

export async function loadSentimentData(cfg: SentimentTrainConfig, files: string[]): Promise<{ data: LabelledTexts; lineage: Record<string, unknown> }> {
  const data: LabelledTexts = { texts: [], labels: [] };
  const lineageFiles: Array<Record<string, unknown>> = [];
  for (const file of files) {
    const d = await loadSentimentCsv(file, cfg.data);
    data.texts.push(...d.texts);
    data.labels.push(...d.labels);
    lineageFiles.push({ file: path.resolve(file), sha256: fileSha256(file), rows: d.texts.length });
  }
  return { data, lineage: { source: 'csv', files: lineageFiles } };
}

export interface SentimentJobOptions {
  reason: string;
  cfg: SentimentTrainConfig;
  files: string[];
  /** Stored human labels, added to the CSV data (a held-back slice goes to the gate); none without. */
  labels?: LabelStore;
  onEpoch?: (e: SentimentEpochLog) => void;
}

export async function runSentimentJob(ctx: JobContext, opts: SentimentJobOptions): Promise<SentimentRunResult> {
  const { data, lineage } = await loadSentimentData(opts.cfg, opts.files);
  const labels = opts.labels ? await opts.labels.list() : [];
  ctx.log.info({ model: SENTIMENT_MODEL, rows: data.texts.length, labels: labels.length, reason: opts.reason }, 'training started');
  return withTrainingRun(ctx, SENTIMENT_MODEL, 'sentiment', opts.reason, (run, guard) =>
    trainRegisterAndGateSentiment({
      store: ctx.store,
      data,
      labels,
      cfg: opts.cfg,
      gitSha: ctx.gitSha,
      lineage: { ...lineage, runId: run._id, reason: opts.reason },
      ...(opts.onEpoch ? { onEpoch: opts.onEpoch } : {}),
      beforeRegister: guard,
      onRegistered: (v) => ctx.runs.setVersion(run, v),
    }),
  );
}

/** Flatten a job's results into the events to publish, in order. */
export function eventsOf(results: ReadonlyArray<{ events: ModelEvent[] }>): ModelEvent[] {
  return results.flatMap((r) => r.events);
}
