/**
 * Helpers for the replay tests (test/e2e/replay*.test.ts): real shared price rows go into the raw
 * prices topic as envelopes; the transformer and loader run as real processes; what ends up in
 * MongoDB is compared with the same pipeline run in process.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Db } from 'mongodb';
import { encode, makeEnvelope, mulberry32, resolveTopics } from '@stock-mlops/contracts';
import { barKey, COLLECTIONS } from '@stock-mlops/load';
import { PIPELINE_SCHEMA, computePipelineFeatures, parseYahooCsv, type Bar, type PipelineEvent } from '@stock-mlops/transform';
import { ServingPriceModel } from '@stock-mlops/ml/inference/predictor';
import type { PriceModel } from '@stock-mlops/ml/models/price_predictor';
import { serviceSpec } from '../../scripts/lib/supervisor.ts';
import { kafkaClient, waitFor, type RunningStack } from './stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Shared real prices (SHARED_DATA_DIR, else the repo's bundled copies). */
export function sharedBars(symbol: string, count: number, from = 0): Bar[] {
  const shared = path.join(process.env.SHARED_DATA_DIR ?? path.join(ROOT, '..', 'shared', 'data'), 'prices', `${symbol}.csv`);
  const file = existsSync(shared) ? shared : path.join(ROOT, 'data', 'prices', `${symbol}.csv`);
  const { bars } = parseYahooCsv(readFileSync(file, 'utf8'), symbol, 'yahoo-csv');
  const out = bars.slice(from, from + count);
  if (out.length !== count) throw new Error(`${symbol}: only ${out.length} bars from ${from}`);
  return out;
}

export type RawMessage = { key: string; value: string };

export function rawPriceMessage(bar: Bar): RawMessage {
  const { source, ...data } = bar;
  return encode('rawPrices', makeEnvelope('rawPrices', { data: data as never, source, idParts: [bar.symbol, bar.interval, bar.ts] }));
}

/** Deterministic PRNG (mulberry32) so a failing order can be reproduced from its seed. */
export const rng = mulberry32;

/**
 * Shuffles within consecutive blocks of `block` items. With block = W + 1, every item arrives
 * before the Cleaner (reorder window W) has to release anything newer than it, so the order it
 * emits is exactly the sorted order.
 */
export function blockShuffle<T>(items: readonly T[], block: number, seed: number): T[] {
  const r = rng(seed);
  const out: T[] = [];
  for (let i = 0; i < items.length; i += block) {
    const chunk = items.slice(i, i + block);
    for (let j = chunk.length - 1; j > 0; j--) {
      const k = Math.floor(r() * (j + 1));
      [chunk[j], chunk[k]] = [chunk[k] as T, chunk[j] as T];
    }
    out.push(...chunk);
  }
  return out;
}

/** Interleaves per-symbol sequences round-robin (as a multi-symbol feed would). */
export function interleave<T>(lists: readonly (readonly T[])[]): T[] {
  const out: T[] = [];
  const longest = Math.max(...lists.map((l) => l.length));
  for (let i = 0; i < longest; i++) for (const l of lists) if (i < l.length) out.push(l[i] as T);
  return out;
}

/** Produces raw price messages in the given order (keyed by symbol), in chunks. */
export async function produceRaw(prefix: string, messages: readonly RawMessage[], chunk = 400): Promise<void> {
  // Idempotent, so a retried request (a partition whose leader is still being elected) writes nothing twice.
  const producer = kafkaClient('replay-producer').producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 10 } });
  await producer.connect();
  try {
    const topic = resolveTopics(prefix).rawPrices;
    for (let i = 0; i < messages.length; i += chunk) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + chunk) });
  } finally {
    await producer.disconnect();
  }
}

export interface Expected {
  bars: number;
  features: number;
  barSum: string;
  featureSum: string;
}

/** Order-independent checksum of lines, and the lines of a stored bar and feature document (shared with the chaos verifier). */
export const sha = (lines: string[]) => createHash('sha256').update(lines.sort().join('\n')).digest('hex');
export const barLine = (b: { _id: string; open: number; high: number; low: number; close: number; volume: number; adjFactor: number; zeroVolume: boolean; outlier: boolean }) =>
  JSON.stringify([b._id, b.open, b.high, b.low, b.close, b.volume, b.adjFactor, b.zeroVolume, b.outlier]);
export const featureLine = (f: { _id: string; schemaHash: string; values: number[] }) => JSON.stringify([f._id, f.schemaHash, f.values]);

/** What one in-order pass of the same pipeline, in process, yields. */
export function expectedFor(bars: readonly Bar[]): ReturnType<typeof expectedForEvents> {
  return expectedForEvents([...bars].sort((a, b) => a.symbol.localeCompare(b.symbol) || a.ts.localeCompare(b.ts)));
}

/** What the pipeline yields in process for bars, facts and sentiment scores applied in this order. */
export function expectedForEvents(events: readonly PipelineEvent[]): Expected & { vectors: Map<string, number[]>; barKeys: string[] } {
  const out = computePipelineFeatures(events);
  const barLines = out.clean.map((b) => barLine({ _id: barKey(b), ...b, zeroVolume: b.flags.zeroVolume, outlier: b.flags.outlier }));
  const vectors = new Map(out.rows.map((r) => [barKey(r), r.vector]));
  const featureLines = [...vectors].map(([k, v]) => featureLine({ _id: k, schemaHash: PIPELINE_SCHEMA.hash, values: v }));
  return { bars: barLines.length, features: featureLines.length, barSum: sha(barLines), featureSum: sha(featureLines), vectors, barKeys: out.clean.map((b) => barKey(b)) };
}

/**
 * The predicted return of every expected feature vector with a full window (`lookback` vectors of
 * its symbol), by one model, keyed `symbol|interval|ts|price|version` like a stored prediction:
 * what one predictor that saw every vector in order yields (shared with the chaos verifier).
 */
export function expectedPredictions(vectors: ReadonlyMap<string, number[]>, model: PriceModel, version: number, lookback: number): Map<string, number> {
  return expectedPredictionsOf(vectors, new ServingPriceModel({ name: 'price', version }, model), version, lookback);
}

/** The same, with a serving model already built (the chaos verifier's). */
export function expectedPredictionsOf(vectors: ReadonlyMap<string, number[]>, serving: ServingPriceModel, version: number, lookback: number): Map<string, number> {
  const bySymbol = new Map<string, Array<[string, number[]]>>();
  for (const [k, values] of vectors) {
    const symbol = k.split('|')[0]!;
    const list = bySymbol.get(symbol) ?? [];
    list.push([k, values]);
    bySymbol.set(symbol, list);
  }
  const out = new Map<string, number>();
  for (const list of bySymbol.values()) {
    list.sort((a, b) => a[0].localeCompare(b[0]));
    const windows: number[][][] = [];
    const keys: string[] = [];
    for (let i = lookback - 1; i < list.length; i++) {
      windows.push(list.slice(i - lookback + 1, i + 1).map((x) => x[1]));
      keys.push(`${list[i]![0]}|price|${version}`);
    }
    for (let j = 0; j < windows.length; j += 512) {
      const returns = serving.predictReturns(windows.slice(j, j + 512));
      returns.forEach((ret, i) => out.set(keys[j + i]!, ret));
    }
  }
  return out;
}

/** Stored predictions whose return is off the expected one by more than 1e-4 (relative), and the worst relative error. */
export function predictionsOff(stored: ReadonlyArray<{ symbol: unknown; interval: unknown; asOf: unknown; predictedReturn: unknown }>, expected: ReadonlyMap<string, number>, version: number): { off: number; worst: number } {
  let worst = 0;
  let off = 0;
  for (const p of stored) {
    const want = expected.get(`${p.symbol}|${p.interval}|${p.asOf}|price|${version}`);
    if (want === undefined) continue;
    const err = Math.abs((p.predictedReturn as number) - want) / Math.max(1e-6, Math.abs(want));
    worst = Math.max(worst, err);
    if (err > 1e-4) off++;
  }
  return { off, worst };
}

/** Counts and checksums of what the loader wrote. */
export async function stored(db: Db): Promise<Expected & { vectors: Map<string, number[]>; duplicateBarKeys: number }> {
  const bars = await db.collection(COLLECTIONS.bars).find({}).toArray();
  const features = await db.collection(COLLECTIONS.features).find({}).toArray();
  const naturalKeys = new Set(bars.map((b) => `${b.symbol}|${b.interval}|${b.ts}`));
  return {
    bars: bars.length,
    features: features.length,
    barSum: sha(bars.map((b) => barLine(b as never))),
    featureSum: sha(features.map((f) => featureLine(f as never))),
    vectors: new Map(features.map((f) => [String(f._id), f.values as number[]])),
    duplicateBarKeys: bars.length - naturalKeys.size,
  };
}

/** Waits until MongoDB holds exactly the expected bars and features (counts and checksums). */
export async function waitForExact(db: Db, expected: Expected, timeoutMs: number): Promise<Awaited<ReturnType<typeof stored>>> {
  let last: Awaited<ReturnType<typeof stored>> | undefined;
  try {
    return await waitFor(
      'MongoDB to hold exactly the expected bars and features',
      async () => {
        last = await stored(db);
        return last.bars === expected.bars && last.features === expected.features && last.barSum === expected.barSum && last.featureSum === expected.featureSum
          ? last
          : undefined;
      },
      timeoutMs,
      1_000,
    );
  } catch (err) {
    const s = last ? `bars ${last.bars}/${expected.bars}, features ${last.features}/${expected.features}, bar sums ${last.barSum === expected.barSum ? 'equal' : 'differ'}, feature sums ${last.featureSum === expected.featureSum ? 'equal' : 'differ'}` : 'nothing read';
    throw new Error(`${(err as Error).message} (${s})`);
  }
}

/** First feature key whose stored vector is not byte-identical to the expected one (for messages). */
export function firstDifference(expected: Map<string, number[]>, actual: Map<string, number[]>): string | undefined {
  for (const [k, v] of expected) {
    const a = actual.get(k);
    if (!a) return `${k}: missing`;
    if (JSON.stringify(a) !== JSON.stringify(v)) return `${k}: differs`;
  }
  for (const k of actual.keys()) if (!expected.has(k)) return `${k}: unexpected`;
  return undefined;
}

export function serviceEnv(window: number): NodeJS.ProcessEnv {
  return { TRANSFORM_REORDER_WINDOW: String(window), TRANSFORM_IDLE_FLUSH_MS: '1000', KAFKA_SESSION_TIMEOUT_MS: '6000', LOG_LEVEL: process.env.REPLAY_LOG_LEVEL ?? 'info' };
}

export type { RunningStack };

/** Creates every topic of the stack's prefix up front, so a backlog can be produced before the services start. */
export async function createTopics(prefix: string, partitions = 0): Promise<void> {
  const { ensureTopics } = await import('@stock-mlops/platform');
  const kafka = kafkaClient('replay-admin');
  const topics = await ensureTopics(kafka, prefix, 1, partitions);
  // Many partitions on a fresh broker: wait until every one has a leader before producing.
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      'every partition to have a leader',
      async () => (await admin.fetchTopicMetadata({ topics: Object.values(topics) })).topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)),
      60_000,
      250,
    );
  } finally {
    await admin.disconnect();
  }
}

/** Starts one more service process of the stack (optionally under another name, e.g. a second transformer). */
export function startService(stack: RunningStack, service: 'transformer' | 'loader' | 'predictor', name: string = service, env: NodeJS.ProcessEnv = {}): void {
  stack.sup.start({ ...serviceSpec(service, { HTTP_PORT: '0', ...env }), name });
}

/**
 * Splits a message sequence into `parts` chunks whose boundaries fall on multiples of `align`
 * (the shuffle block × symbols), so no shuffle block straddles a pause between chunks: a pause
 * longer than the idle flush releases the reorder buffer, and a block split by it would then
 * arrive partly late — by design (see docs/pipeline.md).
 */
export function chunks<T>(items: readonly T[], parts: number, align: number): T[][] {
  const size = Math.ceil(items.length / parts / align) * align;
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
