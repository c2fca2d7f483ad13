/**
 * WebSocket fan-out: the predictor's real WebSocket server (services/predictor/src/ws_server.ts,
 * fed predictions through a PredictorCore in this process) delivering N predictions to 1,000
 * subscribed loopback clients, beside a raw `ws` WebSocketServer doing
 * `for (const c of wss.clients) c.send(json)` with the same frames to the same clients.
 *
 * The 1,000 clients live in a child process (this file, re-run with WS_BENCH_ROLE=clients), so
 * the server's CPU and memory are its own. Delivery delay = arrival in the child − publish in the
 * server (performance.timeOrigin + now() on both sides: one machine, one clock).
 *
 * Second part: one reader that stops reading while a flood is published to its symbol. Ours
 * closes it (4008) once its send buffer passes WS_MAX_BUFFERED_BYTES and the server's RSS stays
 * flat; the raw server buffers everything for it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import pino from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import type { PricePrediction } from '@stock-mlops/contracts';
import { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { startWsServer } from '@stock-mlops/predictor/ws_server';
import { fmt, median, type Bench } from './lib.ts';

const CLIENTS = Number(process.env.BENCH_WS_CLIENTS ?? 1_000);
const MESSAGES = Number(process.env.BENCH_WS_MESSAGES ?? 500);
/** Predictions published per event-loop turn (the rest of the turn lets sockets flush). */
const PER_TURN = 10;
const FLOOD = Number(process.env.BENCH_WS_FLOOD ?? 100_000);
const MAX_BUFFERED = 256 * 1024;
const BASE = Date.UTC(2024, 0, 1);
const now = () => performance.timeOrigin + performance.now();

const prediction = (i: number, symbol = `S${i % 10}`): PricePrediction => ({
  symbol,
  interval: '1m',
  asOf: new Date(BASE + i * 60_000).toISOString(),
  horizon: 1,
  lastClose: 100 + (i % 50),
  predictedReturn: 0.001 * ((i % 7) - 3),
  predictedPrice: 100.1 + (i % 50),
  model: { name: 'price', version: 3 },
  featureSchemaHash: '0123456789abcdef0123456789abcdef',
  latencyMs: 1.25,
});

// ---------------------------------------------------------------------------------------------
// Child process: CLIENTS loopback clients; arrival time of every frame by message index.

type ToChild = { cmd: 'connect'; url: string; n: number; ack: boolean } | { cmd: 'report'; pub: number[] } | { cmd: 'close' };
type FromChild = { ready: true; failed: number } | { delivered: number; lastArrival: number; p50: number; p99: number } | { closed: true };

async function clientsMain(): Promise<void> {
  let sockets: WebSocket[] = [];
  let arrivals = new Float64Array(0);
  let counts = new Int32Array(0);
  const send = (m: FromChild) => process.send!(m);
  process.on('message', async (m: ToChild) => {
    if (m.cmd === 'connect') {
      arrivals = new Float64Array(m.n * MESSAGES);
      counts = new Int32Array(m.n);
      let failed = 0;
      for (let start = 0; start < m.n; start += 100) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(100, m.n - start) }, (_, k) => {
            const idx = start + k;
            return new Promise<WebSocket | undefined>((resolve) => {
              const w = new WebSocket(m.url, { perMessageDeflate: false });
              w.on('message', (d: Buffer) => {
                const s = d.toString();
                if (s.startsWith('{"type":"prediction"')) {
                  const at = s.indexOf('"asOf":"') + 8;
                  const i = Math.round((Date.parse(s.slice(at, at + 24)) - BASE) / 60_000);
                  if (i >= 0 && i < MESSAGES) {
                    arrivals[idx * MESSAGES + i] = now();
                    counts[idx]!++;
                  }
                } else if (m.ack && s.startsWith('{"type":"subscribed"')) resolve(w);
              });
              w.once('open', () => {
                w.send(JSON.stringify({ op: 'subscribe', symbols: ['*'] }));
                if (!m.ack) resolve(w);
              });
              w.once('error', () => {
                failed++;
                resolve(undefined);
              });
            });
          }),
        );
        sockets.push(...batch.filter((w): w is WebSocket => w !== undefined));
      }
      send({ ready: true, failed });
    } else if (m.cmd === 'report') {
      const expected = sockets.length * MESSAGES;
      const until = Date.now() + 60_000;
      const total = () => counts.reduce((a, b) => a + b, 0);
      while (total() < expected && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      const delays: number[] = [];
      let last = 0;
      for (let c = 0; c < sockets.length; c++) {
        for (let i = 0; i < MESSAGES; i++) {
          const a = arrivals[c * MESSAGES + i]!;
          if (a > 0) {
            delays.push(a - m.pub[i]!);
            if (a > last) last = a;
          }
        }
      }
      delays.sort((a, b) => a - b);
      const q = (p: number) => delays[Math.min(delays.length - 1, Math.ceil(p * delays.length) - 1)] ?? Number.NaN;
      send({ delivered: delays.length, lastArrival: last, p50: q(0.5), p99: q(0.99) });
    } else if (m.cmd === 'close') {
      for (const w of sockets) w.terminate();
      sockets = [];
      send({ closed: true });
    }
  });
}

if (process.env.WS_BENCH_ROLE === 'clients') await clientsMain();

// ---------------------------------------------------------------------------------------------
// Parent: the servers, the publishing loop, the measurements.

function ask<T extends FromChild>(child: ChildProcess, m: ToChild, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const exit = (code: number | null) => reject(new Error(`client process exited (${code})`));
    const on = (r: FromChild) => {
      if (key in r) {
        child.off('message', on);
        child.off('exit', exit);
        resolve(r as T);
      }
    };
    child.on('message', on);
    child.once('exit', exit);
    child.send(m);
  });
}

interface Server {
  url: string;
  publish: (p: PricePrediction) => void;
  close: () => Promise<void>;
}

async function ours(maxBuffered = 1024 * 1024): Promise<Server & { stats: () => { slowClosed: number } }> {
  const core = new PredictorCore(async () => []);
  const ws = await startWsServer({ host: '127.0.0.1', port: 0, path: '/ws', log: pino({ level: 'silent' }), core, heartbeatMs: 600_000, maxBufferedBytes: maxBuffered, closeGraceMs: 5_000 });
  return { url: `ws://127.0.0.1:${ws.port}/ws`, publish: (p) => core.onPrediction(p), close: ws.close, stats: ws.stats };
}

async function raw(): Promise<Server> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  return {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`,
    publish: (p) => {
      const json = JSON.stringify({ type: 'prediction', data: p });
      for (const c of wss.clients) c.send(json);
    },
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

/** Samples this process's RSS until stopped; returns the peak. */
function rssSampler(): { stop: () => number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

interface FanOut {
  perSec: number;
  p50: number;
  p99: number;
  peakRssMb: number;
  cpuMsPer1k: number;
  delivered: number;
}

async function fanOut(child: ChildProcess, server: Server, ack: boolean): Promise<FanOut> {
  const ready = await ask<{ ready: true; failed: number }>(child, { cmd: 'connect', url: server.url, n: CLIENTS, ack }, 'ready');
  if (ready.failed) throw new Error(`${ready.failed} clients failed to connect`);
  await new Promise((r) => setTimeout(r, 300));
  const rss = rssSampler();
  const cpu0 = process.cpuUsage();
  const pub: number[] = [];
  const t0 = now();
  for (let i = 0; i < MESSAGES; i++) {
    pub.push(now());
    server.publish(prediction(i));
    if ((i + 1) % PER_TURN === 0) await yieldLoop();
  }
  const report = await ask<{ delivered: number; lastArrival: number; p50: number; p99: number }>(child, { cmd: 'report', pub }, 'delivered');
  const cpu = process.cpuUsage(cpu0);
  const peak = rss.stop();
  await ask(child, { cmd: 'close' }, 'closed');
  return {
    perSec: report.delivered / ((report.lastArrival - t0) / 1000),
    p50: report.p50,
    p99: report.p99,
    peakRssMb: peak / 2 ** 20,
    cpuMsPer1k: (cpu.user + cpu.system) / 1000 / (report.delivered / 1000),
    delivered: report.delivered,
  };
}

interface SlowResult {
  rssGrowthMb: number;
  droppedAfterMb: number | undefined;
  closedCode: number | undefined;
  floodMb: number;
}

/** One reader subscribed to FLOOD's symbol stops reading; FLOOD predictions are published to it. */
async function slowReader(server: Server, stats?: () => { slowClosed: number }): Promise<SlowResult> {
  const w = new WebSocket(server.url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    w.once('open', () => resolve());
    w.once('error', reject);
  });
  w.send(JSON.stringify({ op: 'subscribe', symbols: ['FLOOD'] }));
  await new Promise((r) => setTimeout(r, 200));
  let closedCode: number | undefined;
  w.once('close', (code) => (closedCode = code));
  (w as unknown as { _socket: { pause: () => void } })._socket.pause();
  global.gc?.();
  const before = process.memoryUsage().rss;
  const rss = rssSampler();
  let bytes = 0;
  let droppedAt: number | undefined;
  for (let i = 0; i < FLOOD; i++) {
    const p = prediction(MESSAGES + i, 'FLOOD');
    if (i === 0) bytes = JSON.stringify({ type: 'prediction', data: p }).length;
    server.publish(p);
    if (droppedAt === undefined && stats && stats().slowClosed > 0) droppedAt = i;
    if (i % 1_000 === 0) await yieldLoop();
  }
  const peak = rss.stop();
  (w as unknown as { _socket: { resume: () => void } })._socket.resume();
  await new Promise((r) => setTimeout(r, 500));
  w.terminate();
  return {
    rssGrowthMb: (peak - before) / 2 ** 20,
    droppedAfterMb: droppedAt === undefined ? undefined : (droppedAt * bytes) / 2 ** 20,
    closedCode,
    floodMb: (FLOOD * bytes) / 2 ** 20,
  };
}

const bench: Bench = async (ctx) => {
  const child = fork(import.meta.filename, [], { env: { ...process.env, WS_BENCH_ROLE: 'clients' }, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const runs: Record<'ours' | 'raw', FanOut[]> = { ours: [], raw: [] };
  try {
    for (let r = 0; r < ctx.repeats; r++) {
      // Alternate the order so drift over the run does not favour one side.
      for (const kind of r % 2 ? (['raw', 'ours'] as const) : (['ours', 'raw'] as const)) {
        const server = kind === 'ours' ? await ours() : await raw();
        const res = await fanOut(child, server, kind === 'ours');
        await server.close();
        runs[kind].push(res);
        ctx.log(`${kind} #${r + 1}: ${fmt(res.perSec, 0)} deliveries/s, p50 ${fmt(res.p50, 1)} ms, p99 ${fmt(res.p99, 1)} ms, peak RSS ${fmt(res.peakRssMb, 0)} MB, ${fmt(res.cpuMsPer1k, 2)} CPU ms/1k deliveries (${res.delivered} delivered)`);
      }
    }
  } finally {
    child.kill();
  }
  const m = (kind: 'ours' | 'raw', k: keyof FanOut) => median(runs[kind].map((x) => x[k]));

  const slowOurs = await (async () => {
    const s = await ours(MAX_BUFFERED);
    try {
      return await slowReader(s, s.stats);
    } finally {
      await s.close();
    }
  })();
  ctx.log(`slow reader, ours: closed with ${slowOurs.closedCode} after ${fmt(slowOurs.droppedAfterMb ?? Number.NaN, 2)} MB, RSS +${fmt(slowOurs.rssGrowthMb, 1)} MB for a ${fmt(slowOurs.floodMb, 0)} MB flood`);
  const slowRaw = await (async () => {
    const s = await raw();
    try {
      return await slowReader(s);
    } finally {
      await s.close();
    }
  })();
  ctx.log(`slow reader, raw ws: ${slowRaw.closedCode ?? 'never closed'}, RSS +${fmt(slowRaw.rssGrowthMb, 1)} MB for a ${fmt(slowRaw.floodMb, 0)} MB flood`);

  const row = (name: string, k: 'ours' | 'raw') =>
    `| ${name} | ${fmt(m(k, 'perSec'), 0)} | ${fmt(m(k, 'p50'), 1)} | ${fmt(m(k, 'p99'), 1)} | ${fmt(m(k, 'peakRssMb'), 0)} | ${fmt(m(k, 'cpuMsPer1k'), 2)} |`;
  const markdown = [
    `${CLIENTS.toLocaleString('en-US')} loopback clients (in a child process) subscribed to every symbol; ${MESSAGES} predictions published by the server, ${PER_TURN} per event-loop turn, so each run delivers ${(CLIENTS * MESSAGES).toLocaleString('en-US')} frames of ~${JSON.stringify({ type: 'prediction', data: prediction(0) }).length} bytes. Delay = arrival in the client process − publish in the server. Medians of ${ctx.repeats} runs per server, the two servers alternating.`,
    '',
    '| server | deliveries/s | p50 delay (ms) | p99 delay (ms) | server peak RSS (MB) | server CPU ms / 1k deliveries |',
    '|---|---:|---:|---:|---:|---:|',
    row('predictor `ws_server.ts` (subscriptions, serialize once, send-buffer cap)', 'ours'),
    row('baseline: raw `ws` `for (c of wss.clients) c.send(json)`', 'raw'),
    '',
    `Ratio ours / raw: deliveries/s ${fmt(m('ours', 'perSec') / m('raw', 'perSec'), 2)}×, p99 delay ${fmt(m('ours', 'p99') / m('raw', 'p99'), 2)}×, CPU per delivery ${fmt(m('ours', 'cpuMsPer1k') / m('raw', 'cpuMsPer1k'), 2)}×. Peak RSS is the whole bench process (server plus whatever earlier benches left).`,
    '',
    `**Slow reader.** One client subscribes to a symbol and stops reading its socket; ${FLOOD.toLocaleString('en-US')} predictions (${fmt(slowOurs.floodMb, 0)} MB) are published to that symbol:`,
    '',
    '| server | reader dropped | after (MB published) | server RSS growth (MB) |',
    '|---|---|---:|---:|',
    `| predictor \`ws_server.ts\`, \`WS_MAX_BUFFERED_BYTES\` = ${MAX_BUFFERED / 1024} KiB | ${slowOurs.closedCode !== undefined ? `yes, close ${slowOurs.closedCode}` : 'no'} | ${fmt(slowOurs.droppedAfterMb ?? Number.NaN, 2)} | ${fmt(slowOurs.rssGrowthMb, 1)} |`,
    `| baseline: raw \`ws\` | ${slowRaw.closedCode !== undefined ? `closed ${slowRaw.closedCode}` : 'no'} | — | ${fmt(slowRaw.rssGrowthMb, 1)} |`,
    '',
    "The kernel's loopback socket buffers take the first few MB before the server-side send buffer starts to grow and the cap applies.",
    '',
    'Not a latency SLO: both servers share two cores with the 1,000 clients; compare the ratio.',
  ].join('\n');
  return { title: 'WebSocket fan-out (predictor ws_server vs raw ws broadcast)', markdown };
};

export default bench;
