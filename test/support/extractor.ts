/**
 * Helpers for the extractor's integration and end-to-end tests: read a topic back completely,
 * count its records, know which bars a bundled CSV holds, and run `npm run etl` as a process.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { IHeaders } from 'kafkajs';
import { kafkaClient, uniqueId } from './stack.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Record_ {
  partition: number;
  offset: string;
  key: string;
  value: string;
  headers: IHeaders;
}

export async function endOffsets(topic: string): Promise<Array<{ partition: number; high: string; low: string }>> {
  const admin = kafkaClient('count').admin();
  await admin.connect();
  try {
    return await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
}

/** Records in the topic now (high watermark minus log start, summed over partitions). */
export async function topicCount(topic: string): Promise<number> {
  return (await topicCounts([topic]))[0]!;
}

/** Record counts of several topics, with one admin connection. */
export async function topicCounts(topics: string[]): Promise<number[]> {
  const admin = kafkaClient('count').admin();
  await admin.connect();
  try {
    const out: number[] = [];
    for (const t of topics) out.push((await admin.fetchTopicOffsets(t)).reduce((s, o) => s + Number(o.high) - Number(o.low), 0));
    return out;
  } finally {
    await admin.disconnect();
  }
}

/** Every record of the topic up to its current end, read with a throwaway consumer group. */
export async function readTopic(topic: string, timeoutMs = 60_000): Promise<Record_[]> {
  const ends = new Map((await endOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
  const left = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
  const out: Record_[] = [];
  if (left.size === 0) return out;
  const consumer = kafkaClient('reader').consumer({ groupId: uniqueId('reader-'), maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out with partitions ${[...left].join(',')} unfinished`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const end = ends.get(partition)!;
          if (BigInt(message.offset) >= end) return;
          out.push({ partition, offset: message.offset, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', headers: message.headers ?? {} });
          if (BigInt(message.offset) === end - 1n) {
            left.delete(partition);
            if (left.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Trading dates (as bar timestamps) in a bundled CSV, read independently of the providers. */
export function csvBarTimes(file: string, from?: string, to?: string): string[] {
  const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/);
  const col = lines[0]!.split(',').findIndex((h) => h.trim().toLowerCase() === 'date');
  return lines
    .slice(1)
    .map((l) => l.split(',')[col]!.trim())
    .filter((d) => (!from || d >= from) && (!to || d <= to))
    .map((d) => `${d}T00:00:00.000Z`)
    .sort();
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `npm run etl -- …args` as a separate process. */
export function runEtl(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'etl', '--', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`npm run etl ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Parse the raw envelope fields the tests look at. */
export function envelopeOf(r: Record_): { eventId: string; source: string; data: { symbol: string; ts: string } } {
  return JSON.parse(r.value) as { eventId: string; source: string; data: { symbol: string; ts: string } };
}
