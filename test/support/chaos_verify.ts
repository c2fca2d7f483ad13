/**
 * The chaos tests' verifier (test/chaos/kill_loop.test.ts, test/chaos/cluster_failover.test.ts): a
 * paced replay of the bundled real prices, and an exact check of what the pipeline stored against
 * one in-order pass of the same pipeline in process:
 *   - raw topic: one record per CSV row (no event id twice) — the extractor's exactly-once;
 *   - MongoDB bars and features: the counts and checksums of the in-process pass;
 *   - MongoDB predictions: one per feature vector with a full window, by the one production model,
 *     each value equal to the model applied in process to the window of expected vectors;
 *   - lost = 0 and duplicated = 0 for each collection.
 */
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Admin } from 'kafkajs';
import type { Db } from 'mongodb';
import { decode, resolveTopics } from '@stock-mlops/contracts';
import { consumerLag } from '@stock-mlops/platform';
import { COLLECTIONS } from '@stock-mlops/load';
import { parseYahooCsv, type Bar } from '@stock-mlops/transform';
import { ServingPriceModel } from '@stock-mlops/ml/inference/predictor';
import { kafkaClient, uniqueId, waitFor } from './stack.ts';
import { barLine, expectedForEvents, expectedPredictionsOf, featureLine, predictionsOff, sha } from './replay.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Replay {
  dir: string;
  rows: number;
  speed: number;
  /** A description such as "4 files × 4 symbols". */
  label: string;
}

/** The bundled CSVs under `copies` symbol names each, in a temp replay directory, paced to last about `replayS` seconds. */
export function writeReplayDir(files: readonly string[], copies: number, replayS: number): Replay {
  const dir = mkdtempSync(path.join(tmpdir(), 'stock-mlops-chaos-'));
  let rows = 0;
  let longestSpanMs = 0;
  for (const f of files) {
    const text = readFileSync(path.join(ROOT, 'data', 'prices', `${f}.csv`), 'utf8');
    const { bars } = parseYahooCsv(text, f, 'yahoo-csv');
    longestSpanMs = Math.max(longestSpanMs, Date.parse(bars.at(-1)!.ts) - Date.parse(bars[0]!.ts));
    for (let c = 0; c < copies; c++) {
      const symbol = c === 0 ? f : `${f}-${c + 1}`;
      writeFileSync(path.join(dir, `${symbol}.csv`), text);
      rows += bars.length;
    }
  }
  return { dir, rows, speed: Math.ceil(longestSpanMs / (replayS * 1000)), label: `${files.length} files × ${copies} symbols` };
}

/**
 * Every record of a topic, read from the beginning with a throwaway group until `count` arrived.
 * (Not test/support's `collect`: its eachMessage consumer stalled at 25,400 of 53,028 records here.)
 */
export async function readAll(topic: string, count: number, timeoutMs: number): Promise<Buffer[]> {
  const consumer = kafkaClient('chaos-verifier').consumer({ groupId: uniqueId('verifier-'), maxBytes: 16 * 1024 * 1024 });
  const out: Buffer[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachBatch: async ({ batch }) => void out.push(...batch.messages.map((m) => m.value!)) });
    await waitFor(`${count} records on ${topic}`, () => out.length >= count, timeoutMs, 500);
    // Anything beyond `count` (a duplicate) still has to show up: give it a moment.
    await new Promise((r) => setTimeout(r, 3_000));
    return out;
  } finally {
    await consumer.disconnect();
  }
}

/** Every record of a topic up to its high watermarks (read with a throwaway group), for a diagnosis. */
export async function readToEnd(admin: Admin, topic: string, timeoutMs: number): Promise<Buffer[]> {
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  const next = new Map([...ends.keys()].map((p) => [p, 0n]));
  const consumer = kafkaClient('chaos-diagnosis').consumer({ groupId: uniqueId('diagnosis-'), maxBytes: 16 * 1024 * 1024 });
  const out: Buffer[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) out.push(m.value!);
        next.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
      },
    });
    await waitFor(`${topic} read to its end`, () => [...ends].every(([p, high]) => (next.get(p) ?? 0n) >= high), timeoutMs, 500);
    return out;
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Where the lost keys of a stage went missing: those on the stage's output topic were lost by its
 * sink (the loader), the others by the stage that produces the topic. Symbols and first/last keys.
 */
export async function locateLost(admin: Admin, topic: string, topicKey: 'features' | 'cleanPrices', lost: readonly string[]): Promise<string> {
  if (lost.length === 0) return '';
  const onTopic = new Set<string>();
  for (const value of await readToEnd(admin, topic, 5 * 60_000)) {
    const r = decode(topicKey, value);
    if (r.ok) onTopic.add(`${r.envelope.data.symbol}|${r.envelope.data.interval}|${r.envelope.data.ts}`);
  }
  const there = lost.filter((k) => onTopic.has(k));
  const sorted = [...lost].sort();
  const symbols = [...new Set(lost.map((k) => k.split('|')[0]))];
  return `    ${lost.length} lost: ${there.length} on ${topic} (not stored by the loader), ${lost.length - there.length} never produced; symbols ${symbols.join(', ')}; first ${sorted[0]}, last ${sorted.at(-1)}`;
}

/** The pipeline's consumer groups and the topics each reads. */
export function pipelineGroups(prefix: string): Array<[stage: 'transformer' | 'predictor' | 'loader', topics: string[]]> {
  const topics = resolveTopics(prefix);
  return [
    ['transformer', [topics.rawPrices]],
    ['predictor', [topics.features]],
    ['loader', [topics.cleanPrices, topics.features, topics.pricePredictions]],
  ];
}

/** Total consumer lag of the pipeline's groups (FerretDB counts scan whole collections: the broker is the cheap progress gauge). */
export async function pipelineLag(admin: Admin, prefix: string): Promise<{ total: number; parts: string }> {
  const groups = pipelineGroups(prefix);
  const lags = await Promise.all(groups.map(([g, ts]) => consumerLag(admin, `${prefix}${g}`, ts)));
  return { total: lags.reduce((a, b) => a + b, 0), parts: groups.map(([g], i) => `${g} ${lags[i]}`).join(', ') };
}

/**
 * Done when every group has committed everything (for 5 s in a row). A stage that stops making
 * progress for `stallMs` fails (liveness); a slow one is given time up to `maxMs`: throughput is
 * the benchmarks' business (docs/benchmarks.md), not the chaos tests'.
 */
export async function waitDrained(admin: Admin, prefix: string, stallMs: number, maxMs: number): Promise<void> {
  let lag: { total: number; parts: string } | undefined;
  const began = Date.now();
  let zeroSince = 0;
  let best = Number.POSITIVE_INFINITY;
  let progressAt = Date.now();
  for (;;) {
    lag = await pipelineLag(admin, prefix).catch(() => lag);
    const total = lag?.total ?? Number.POSITIVE_INFINITY;
    if (total < best) {
      best = total;
      progressAt = Date.now();
    }
    if (total > 0) zeroSince = 0;
    else if (zeroSince === 0) zeroSince = Date.now();
    if (zeroSince > 0 && Date.now() - zeroSince >= 5_000) break;
    if (Date.now() - progressAt > stallMs) throw new Error(`no stage made progress for ${stallMs} ms: lag ${lag?.parts}`);
    if (Date.now() - began > maxMs) throw new Error(`not drained after ${maxMs} ms: lag ${lag?.parts}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  console.log(`  drained ${((Date.now() - began) / 1000).toFixed(0)} s after the last fault`);
}

export interface VerifyOptions {
  admin: Admin;
  db: Db;
  prefix: string;
  replay: Replay;
  serving: ServingPriceModel;
  version: number;
  lookback: number;
  drainStallMs: number;
  drainMaxMs: number;
}

export interface Verdict {
  rawDuplicates: number;
  rows: Array<{ name: string; stored: number; expected: number; lost: number; duplicated: number; lostKeys: string[] }>;
  barsEqual: boolean;
  featuresEqual: boolean;
  /** Predictions whose value differs from the model applied to the expected window by > 1e-4 (relative). */
  off: number;
  worst: number;
  /** Report lines (events, lost/duplicated per collection, checksums). */
  lines: string[];
}

/** Reads the raw topic, waits until the pipeline drained, and compares MongoDB with the in-process pass. */
export async function verifyPipeline(o: VerifyOptions): Promise<Verdict> {
  const topics = resolveTopics(o.prefix);
  // 1. The raw topic: exactly one record per CSV row.
  const raw = await readAll(topics.rawPrices, o.replay.rows, 10 * 60_000);
  const rawEnvs = raw.map((value) => decode('rawPrices', value));
  const bad = rawEnvs.filter((e) => !e.ok);
  assert.is(bad.length, 0, 'every raw record decodes');
  const envelopes = rawEnvs.map((e) => (e as { ok: true; envelope: { eventId: string; data: Omit<Bar, 'source'>; source: string } }).envelope);
  const rawIds = new Set(envelopes.map((e) => e.eventId));
  const rawDuplicates = envelopes.length - rawIds.size;
  assert.is(rawIds.size, o.replay.rows, 'one raw record per CSV row');
  assert.is(rawDuplicates, 0, 'no raw record twice');

  // 2. What one in-order pass of the pipeline yields for these bars.
  const bars = envelopes.map((e) => ({ ...e.data, source: e.source }) as Bar).sort((a, b) => a.symbol.localeCompare(b.symbol) || a.ts.localeCompare(b.ts));
  const expected = expectedForEvents(bars);
  const expectedPredictions = expectedPredictionsOf(expected.vectors, o.serving, o.version, o.lookback);
  await waitDrained(o.admin, o.prefix, o.drainStallMs, o.drainMaxMs);

  // 3. Exactly the expected documents.
  const storedBars = await o.db.collection(COLLECTIONS.bars).find({}).toArray();
  const storedFeatures = await o.db.collection(COLLECTIONS.features).find({}, { projection: { _id: 1, schemaHash: 1, values: 1 } }).toArray();
  const storedPredictions = await o.db.collection(COLLECTIONS.predictions).find({}).toArray();
  const report = (name: string, storedKeys: string[], expectedKeys: Set<string>) => {
    const seen = new Set(storedKeys);
    const lostKeys = [...expectedKeys].filter((k) => !seen.has(k));
    const duplicated = storedKeys.length - seen.size + [...seen].filter((k) => !expectedKeys.has(k)).length;
    return { name, stored: storedKeys.length, expected: expectedKeys.size, lost: lostKeys.length, duplicated, lostKeys };
  };
  // Natural keys recomputed from the fields (not the stored _id), so a duplicate under another _id would count.
  const natural = (d: Record<string, unknown>) => `${d.symbol}|${d.interval}|${d.ts}`;
  const rows = [
    report('bars', storedBars.map((b) => natural(b)), new Set(expected.barKeys)),
    report('features', storedFeatures.map((f) => String(f._id)), new Set(expected.vectors.keys())),
    report('predictions', storedPredictions.map((p) => `${p.symbol}|${p.interval}|${p.asOf}|${(p.model as { name: string }).name}|${(p.model as { version: number }).version}`), new Set(expectedPredictions.keys())),
  ];
  const barsEqual = sha(storedBars.map((b) => barLine(b as never))) === expected.barSum;
  const featuresEqual = sha(storedFeatures.map((f) => featureLine(f as never))) === expected.featureSum;
  const { off, worst } = predictionsOff(storedPredictions as never, expectedPredictions, o.version);
  // A loss is located on the topic in front of the loader: produced but not stored, or never produced.
  const where: Record<string, string> = {};
  for (const [name, topicKey] of [['bars', 'cleanPrices'], ['features', 'features']] as const) {
    const row = rows.find((x) => x.name === name)!;
    if (row.lost > 0) where[name] = await locateLost(o.admin, topics[topicKey], topicKey, row.lostKeys).catch((err: Error) => `    (could not locate the loss: ${err.message})`);
  }
  const lines = [
    `  events: ${o.replay.rows} raw bars (${o.replay.label}), ${rawDuplicates} duplicated on the raw topic`,
    ...rows.flatMap((x) => [`  ${x.name.padEnd(12)} stored ${x.stored} / expected ${x.expected}: lost = ${x.lost}, duplicated = ${x.duplicated}`, ...(where[x.name] ? [where[x.name]!] : [])]),
    `  checksums: bars ${barsEqual ? 'equal' : 'DIFFER'}, features ${featuresEqual ? 'equal' : 'DIFFER'}; predictions off by > 1e-4: ${off} (worst relative error ${worst.toExponential(1)})`,
  ];
  return { rawDuplicates, rows, barsEqual, featuresEqual, off, worst, lines };
}

/** The verdict's exactness: nothing lost, nothing duplicated, checksums equal, every prediction right. */
export function assertExact(v: Verdict): void {
  for (const x of v.rows) {
    assert.is(x.lost, 0, `${x.name}: lost`);
    assert.is(x.duplicated, 0, `${x.name}: duplicated`);
  }
  assert.ok(v.barsEqual, 'bar checksum');
  assert.ok(v.featuresEqual, 'feature checksum');
  assert.is(v.off, 0, 'every prediction equals the model applied to the expected window');
}
