/**
 * Helpers for extract tests: paths to the real recorded fixtures, a local HTTP server on
 * 127.0.0.1:0, and a fake runtime whose sleep advances a fake clock (so retry waits and
 * replay pacing are asserted without waiting).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '@stock-mlops/extract';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const sharedDir = process.env.SHARED_DATA_DIR ?? path.resolve(repoRoot, '../shared/data');
export const localFixtures = path.join(here, 'fixtures');

export const shared = (rel: string) => path.join(sharedDir, rel);
export const readText = (file: string) => readFileSync(file, 'utf8');
export const readJson = <T = any>(file: string): T => JSON.parse(readText(file)) as T;

export interface RecordedRequest {
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
}

export interface TestServer {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export type Handler = (req: RecordedRequest, res: ServerResponse, n: number) => void | Promise<void>;

/** A local HTTP server; `handler` gets each request (numbered from 1) and answers it. */
export async function serve(handler: Handler): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rec = { path: u.pathname, query: u.searchParams, headers: req.headers };
    requests.push(rec);
    Promise.resolve(handler(rec, res, requests.length)).catch((err) => {
      res.statusCode = 599;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

export function sendFile(res: ServerResponse, file: string, contentType = 'application/json'): void {
  send(res, 200, readFileSync(file), { 'content-type': contentType });
}

export interface FakeRuntime {
  runtime: Runtime;
  sleeps: number[];
  advance(ms: number): void;
  now(): number;
}

export function fakeRuntime(start: string | number = '2025-02-20T00:00:00Z', random = 0.5): FakeRuntime {
  let now = typeof start === 'number' ? start : Date.parse(start);
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
    runtime: {
      now: () => now,
      random: () => random,
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
    },
  };
}

/** Run `fn`, expecting it to reject; returns the error. */
export async function rejects(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}
