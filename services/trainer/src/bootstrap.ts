/**
 * Where the trainer's first price model comes from.
 *
 * - Bootstrap (default): the bundled daily CSV files (TRAIN_BOOTSTRAP_DATA), turned into rows by
 *   the stream's own feature code (packages/ml training/price_csv), trained in process as soon as
 *   the trainer starts: no wait for the stream's features to reach MongoDB.
 * - Stream (TRAIN_BOOTSTRAP_DATA empty): wait until the loader has stored at least
 *   TRAIN_MIN_FEATURE_ROWS feature vectors and stopped for TRAIN_SETTLE_MS. "Stored" is read from
 *   Kafka (the loader group's committed offsets on the features topic: it commits after the
 *   write), never by counting a MongoDB collection (a count scans it on FerretDB).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Admin } from 'kafkajs';
import { AppError } from '@stock-mlops/platform';

/** Comma-separated files or directories (a directory means its *.csv files) → sorted absolute paths. */
export function bootstrapFiles(spec: string, root: string): string[] {
  const out: string[] = [];
  for (const raw of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const p = path.resolve(root, raw);
    if (!existsSync(p)) throw new AppError('E_CONFIG', `TRAIN_BOOTSTRAP_DATA: ${p} does not exist`);
    if (statSync(p).isDirectory()) {
      const csv = readdirSync(p).filter((f) => /\.csv$/i.test(f)).sort().map((f) => path.join(p, f));
      if (csv.length === 0) throw new AppError('E_CONFIG', `TRAIN_BOOTSTRAP_DATA: no .csv file in ${p}`);
      out.push(...csv);
    } else out.push(p);
  }
  return [...new Set(out)];
}

/** One observation of the stored-row count; returns the new state and whether training may start. */
export interface SettleState {
  last: number;
  since: number;
}
export function settleStep(state: SettleState, n: number, now: number, minRows: number, settleMs: number): { state: SettleState; ready: boolean } {
  if (n !== state.last) return { state: { last: n, since: now }, ready: false };
  return { state, ready: n >= minRows && now - state.since >= settleMs };
}

/** Feature vectors the loader has stored: its group's committed offsets on the features topic (0 before its first commit). */
export async function storedFeatureRows(admin: Admin, loaderGroup: string, featuresTopic: string): Promise<number> {
  const committed = await admin.fetchOffsets({ groupId: loaderGroup, topics: [featuresTopic] });
  return (committed[0]?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
}

/**
 * Poll `count` once a second (one query at a time) until it reached `minRows` and stayed put
 * for `settleMs`; returns the count, or undefined when `stopped()` became true.
 */
export async function waitForSettledRows(opts: {
  count: () => Promise<number>;
  minRows: number;
  settleMs: number;
  stopped: () => boolean;
  everyMs?: number;
  onCount?: (n: number) => void;
}): Promise<number | undefined> {
  let state: SettleState = { last: -1, since: Date.now() };
  while (!opts.stopped()) {
    const n = await opts.count();
    opts.onCount?.(n);
    const step = settleStep(state, n, Date.now(), opts.minRows, opts.settleMs);
    state = step.state;
    if (step.ready) return n;
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 1_000));
  }
  return undefined;
}
