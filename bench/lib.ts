/**
 * Benchmark conventions. Each `bench/<area>.bench.ts` default-exports a function that measures
 * its figures AND their baselines in the same run (these machines are noisy: only same-run
 * ratios mean something) and returns a markdown section (or several, each merged by its title). `npm run bench` runs them all and
 * writes docs/benchmarks.md. Benchmarks never run inside `npm test`.
 */
export interface BenchContext {
  /** KAFKA_BROKERS / MONGO_URL of the infrastructure started by bench/run.ts. */
  env: { KAFKA_BROKERS: string; MONGO_URL: string };
  /** Repetitions per figure; the median is reported. */
  repeats: number;
  log: (msg: string) => void;
}

export interface BenchSection {
  title: string;
  /** Markdown body: a table with each figure beside its baseline and the ratio, plus how it was measured. */
  markdown: string;
}

export type Bench = (ctx: BenchContext) => Promise<BenchSection | BenchSection[]>;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a';
}

/** Run `fn` `repeats` times and return the median of what it returns. */
export async function medianOf(repeats: number, fn: () => Promise<number>): Promise<{ median: number; runs: number[] }> {
  const runs: number[] = [];
  for (let i = 0; i < repeats; i++) runs.push(await fn());
  return { median: median(runs), runs };
}

/** Delete a bench run's topics and database (best effort: a leftover only costs disk). */
export async function dropRun(kafka: import('kafkajs').Kafka, topics: Record<string, string>, mongoUrl: string, db: string): Promise<void> {
  const { MongoClient } = await import('mongodb');
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
  await admin.disconnect();
  const mongo = new MongoClient(mongoUrl);
  await mongo.connect();
  await mongo.db(db).dropDatabase().catch(() => {});
  await mongo.close();
}

/** A TCP port free right now on 127.0.0.1 (for a child process's listener). */
export { freePort } from '@stock-mlops/platform';
