/**
 * Serving: gRPC Predict throughput and latency at concurrency 1, 8 and 32, without and with
 * dynamic micro-batching, beside the in-process model's throughput at the same batch sizes (the
 * stream path with and without a shadow-scored challenger is bench/shadow.bench.ts).
 *
 * The server (the predictor's real core, queue and gRPC server, LSTM(32) over 20×8 windows, the
 * default price architecture) runs in this process, with the price model in an inference worker
 * thread as the predictor runs it by default (PREDICT_WORKER=1), or in this thread for the rows
 * that say so; the load generator (services/predictor/src/tools/load.ts, closed loop, one
 * channel) in a child process. The in-process baseline calls the model directly
 * (`predictReturns`, in this thread) on batches of 1, 8 and 32 windows, measured right before
 * every served run of the same concurrency: what serving would reach if every request were free
 * and every batch full.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import type { Histogram, Registry } from 'prom-client';
import client from 'prom-client';
import { ServingPriceModel } from '@stock-mlops/ml/inference/predictor';
import { InferenceWorker } from '@stock-mlops/ml/inference/worker';
import { initTf } from '@stock-mlops/ml/tf';
import { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { startGrpcServer } from '@stock-mlops/predictor/grpc_server';
import { createPriceInference } from '@stock-mlops/ml/inference/price_inference';
import { featureSeries, randomPriceModel } from '@stock-mlops/ml/synthetic';
import { fmt, median, type Bench } from './lib.ts';

const LOOKBACK = 20;
const N_FEATURES = 8;
// BENCH_SERVING_CONCURRENCY=32 (comma-separated): exploratory runs at fewer concurrencies (32 must be among them).
const CONCURRENCY = (process.env.BENCH_SERVING_CONCURRENCY ?? '1,8,32').split(',').map(Number);
const DURATION_MS = Number(process.env.BENCH_SERVING_MS ?? 3_000);
const IN_PROCESS_MS = 1_000;
const SYMBOLS = Array.from({ length: 64 }, (_, i) => `S${i}`);
/** Open-loop runs offer this share of the in-process batch-32 rate (the serving target). */
const OPEN_LOOP_SHARE = 0.7;
const LOAD = path.join(import.meta.dirname, '../services/predictor/src/tools/load.ts');

interface Mode {
  name: string;
  maxBatch: number;
  maxDelayMs: number;
  /** Model in the inference worker (PREDICT_WORKER=1, the default) or in the serving thread. */
  worker: boolean;
  /** Batches handed to the worker at once (PREDICT_IN_FLIGHT). */
  inFlight: number;
  /** The predictor's default configuration (also measured in open loop). */
  isDefault?: boolean;
}
const ALL_MODES: Mode[] = [
  { name: 'no batching (PREDICT_BATCH_MAX=1)', maxBatch: 1, maxDelayMs: 0, worker: true, inFlight: 1 },
  { name: 'micro-batching (max 64, delay 0 ms, 1 in flight; the default)', maxBatch: 64, maxDelayMs: 0, worker: true, inFlight: 1, isDefault: true },
  { name: 'micro-batching (max 64, delay 2 ms, 1 in flight; the previous default)', maxBatch: 64, maxDelayMs: 2, worker: true, inFlight: 1 },
  { name: 'micro-batching (max 64, delay 0 ms, 2 in flight)', maxBatch: 64, maxDelayMs: 0, worker: true, inFlight: 2 },
  { name: 'micro-batching (max 64, delay 2 ms, 2 in flight)', maxBatch: 64, maxDelayMs: 2, worker: true, inFlight: 2 },
  { name: 'micro-batching (max 64, delay 0 ms), model in the serving thread (PREDICT_WORKER=0)', maxBatch: 64, maxDelayMs: 0, worker: false, inFlight: 1 },
];
// BENCH_SERVING_MODES=1,3 (indexes into ALL_MODES, 0 = no batching): exploratory runs of some modes.
const MODES = process.env.BENCH_SERVING_MODES ? process.env.BENCH_SERVING_MODES.split(',').map((i) => ALL_MODES[Number(i)]!) : ALL_MODES;

interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** The load generator's CPU time per answered request (µs). */
  cpuUsPerRequest: number;
  /** The server's (this process's, all threads) CPU time per answered request (µs), warm-up included. */
  serverCpuUsPerRequest: number;
}

/** What the load generator adds in open loop (`--rate`). */
interface OpenLoopResult extends LoadResult {
  offeredRps: number;
  skipped: number;
  outstandingAtEnd: number;
}

/** One load generator run: closed loop with `concurrency` callers, or open loop at `rate` requests/s. */
async function runLoad(port: number, concurrency: number, rate?: number): Promise<OpenLoopResult> {
  const cpu0 = process.cpuUsage();
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--import', 'tsx', LOAD, '--port', String(port), '--concurrency', String(concurrency), '--duration-ms', String(DURATION_MS), '--warmup-ms', '1000',
      '--symbols', SYMBOLS.join(','), ...(rate === undefined ? [] : ['--rate', String(Math.round(rate))]),
    ],
    { encoding: 'utf8', timeout: DURATION_MS + 60_000 },
  );
  const cpu = process.cpuUsage(cpu0);
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as Omit<OpenLoopResult, 'serverCpuUsPerRequest'> & { allRequests: number };
  return { ...r, serverCpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, r.allRequests) };
}

function meanOf(h: Histogram): Promise<number> {
  return h.get().then((m) => {
    const sum = m.values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
    const count = m.values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    return count > 0 ? sum / count : Number.NaN;
  });
}

const bench: Bench = async (ctx) => {
  const { backend } = await initTf();
  const priceModel = await randomPriceModel(1, { arch: 'lstm', hidden: 32, lookback: LOOKBACK, nFeatures: N_FEATURES });
  const model = new ServingPriceModel({ name: 'price', version: 1 }, priceModel);
  // The worker loads the same weights from the registry artifacts, as the predictor does.
  const worker = await InferenceWorker.start();
  const inWorker = await worker.loadPrice({ name: 'price', version: 1 }, await priceModel.serialize());
  await inWorker.warmup();
  const history = SYMBOLS.flatMap((s, i) => featureSeries(s, LOOKBACK + 5, i + 1, N_FEATURES));
  const windows = SYMBOLS.map((s) => history.filter((f) => f.symbol === s).slice(-LOOKBACK).map((f) => f.values));

  // In-process baseline: windows per second at batch size b, in this thread.
  const inProcessRun = (b: number): number => {
    const batch = windows.slice(0, b);
    for (let i = 0; i < 5; i++) model.predictReturns(batch);
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < IN_PROCESS_MS) {
      model.predictReturns(batch);
      n += b;
    }
    return n / ((performance.now() - t0) / 1000);
  };

  const loadAverage = os.loadavg()[0]!;
  const openLoop: Array<OpenLoopResult & { base: number }> = [];
  const served = new Map<string, LoadResult & { meanBatch: number; inProcess: number; runs: LoadResult[]; base: number[] }>();
  // One server per mode, all up at once, so that the modes take turns within every repeat (the
  // machine is shared: load drifts over minutes, and turns spread the drift over the modes).
  const servers = [];
  for (const mode of MODES) {
    const registry: Registry = new client.Registry();
    const inference = createPriceInference(
      { maxBatch: mode.maxBatch, maxDelayMs: mode.maxDelayMs, maxQueue: 4096, pipelined: mode.worker, maxInFlight: mode.inFlight },
      registry,
    );
    const core = new PredictorCore(inference.run);
    core.swap(mode.worker ? inWorker : model);
    for (const fv of history) core.remember(fv);
    const stub = { getModel: async () => ({}) as never, listModels: async () => [] };
    const grpc = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      log: pino({ level: 'silent' }),
      core,
      catalog: stub,
      maxMessageBytes: 4 * 1024 * 1024,
      version: 'bench',
      domain: { maxBatchRequests: 1024, maxTexts: 1, maxStreamBacklog: 100 },
      oip: { maxElements: 1_000_000, maxTexts: 1 },
    });
    servers.push({ mode, inference, grpc, batchSize: registry.getSingleMetric('stockmlops_predict_batch_size') as Histogram });
  }
  for (const c of CONCURRENCY) {
    const acc = servers.map(() => ({ runs: [] as LoadResult[], base: [] as number[] }));
    for (const s of servers) s.batchSize.reset();
    for (let r = 0; r < ctx.repeats; r++) {
      for (const [i, s] of servers.entries()) {
        acc[i]!.base.push(inProcessRun(c));
        acc[i]!.runs.push(await runLoad(s.grpc.port, c));
      }
    }
    for (const [i, { mode, batchSize }] of servers.entries()) {
      const { runs, base } = acc[i]!;
      const pick = (k: keyof LoadResult) => median(runs.map((x) => x[k]));
      const res = {
        rps: pick('rps'),
        p50Ms: pick('p50Ms'),
        p99Ms: pick('p99Ms'),
        cpuUsPerRequest: pick('cpuUsPerRequest'),
        serverCpuUsPerRequest: pick('serverCpuUsPerRequest'),
        errors: runs.reduce((n, x) => n + x.errors, 0),
        meanBatch: await meanOf(batchSize),
        inProcess: median(base),
        runs,
        base,
      };
      served.set(`${mode.name}|${c}`, res);
      ctx.log(
        `${mode.name}, concurrency ${c}: ${fmt(res.rps, 0)} req/s (runs ${runs.map((x) => fmt(x.rps, 0)).join(', ')}), p50 ${fmt(res.p50Ms, 2)} ms, p99 ${fmt(res.p99Ms, 2)} ms, mean batch ${fmt(res.meanBatch, 1)}, ` +
          `in-process ${fmt(res.inProcess, 0)} windows/s (runs ${base.map((x) => fmt(x, 0)).join(', ')}), CPU/request: client ${fmt(res.cpuUsPerRequest, 0)} µs, server ${fmt(res.serverCpuUsPerRequest, 0)} µs, errors ${res.errors}`,
      );
    }
  }
  const defaultServer = servers.find((s) => s.mode.isDefault);
  if (defaultServer) {
    // Open loop: requests at a fixed share of the in-process batch-32 rate measured right before.
    for (let r = 0; r < ctx.repeats; r++) {
      const base = inProcessRun(32);
      const res = await runLoad(defaultServer.grpc.port, 32, OPEN_LOOP_SHARE * base);
      openLoop.push({ ...res, base });
      ctx.log(
        `open loop (${defaultServer.mode.name}): offered ${fmt(res.offeredRps, 0)} req/s (${fmt(100 * OPEN_LOOP_SHARE, 0)} % of in-process ${fmt(base, 0)}), served ${fmt(res.rps, 0)} req/s, p50 ${fmt(res.p50Ms, 2)} ms, p99 ${fmt(res.p99Ms, 2)} ms, skipped ${res.skipped}, unanswered at the end ${res.outstandingAtEnd}, errors ${res.errors}`,
      );
    }
  }
  for (const s of servers) {
    await s.grpc.close();
    s.inference.close();
  }
  await worker.close();

  const rows: string[] = [];
  for (const c of CONCURRENCY) {
    for (const mode of MODES) {
      const r = served.get(`${mode.name}|${c}`)!;
      rows.push(`| ${c} | ${mode.name} | ${fmt(r.rps, 0)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.meanBatch, 1)} | ${fmt(r.inProcess, 0)} | ${fmt((100 * r.rps) / r.inProcess, 0)} % | ${r.errors} |`);
    }
  }
  const at32 = (m: Mode) => served.get(`${m.name}|32`)!;
  const noBatching = at32(MODES[0]!).rps;
  const batching = MODES.filter((m) => m.maxBatch > 1);
  const speedups = batching.map((m) => `${m.name}: ${fmt(at32(m).rps / noBatching, 1)}×`);
  const ratios = batching.map((m) => `${m.name}: ${fmt((100 * at32(m).rps) / at32(m).inProcess, 0)} %`);
  // Every in-process batch-32 run of this bench, and each served run against the baseline run just before it.
  const pooled32 = median(MODES.flatMap((m) => at32(m).base));
  const perRun = batching.map((m) => `${m.name}: ${at32(m).runs.map((r, i) => `${fmt((100 * r.rps) / at32(m).base[i]!, 0)} %`).join(', ')}`);
  // CPU budget at concurrency 32: what one request costs the machine (client + server, the server's model work included).
  const budget = batching.map((m) => {
    const r = at32(m);
    const total = r.cpuUsPerRequest + r.serverCpuUsPerRequest;
    return `| ${m.name} | ${fmt(r.rps, 0)} | ${fmt(r.cpuUsPerRequest, 0)} | ${fmt(r.serverCpuUsPerRequest, 0)} | ${fmt(1e6 / r.inProcess, 0)} | ${fmt(1e6 / total, 0)} | ${fmt(2e6 / total, 0)} (${fmt((100 * 2e6) / total / r.inProcess, 0)} %) |`;
  });
  const markdown = [
    `Predict over gRPC (loopback, one channel, closed loop, ${DURATION_MS / 1000} s per run after 1 s warm-up, median of ${ctx.repeats} runs), tfjs backend \`${backend}\`.`,
    'Model: LSTM(32) over 20×8 windows (the default price architecture) with random weights; 64 symbols, each request cuts its window from the feature history.',
    'Server: the predictor\'s core, micro-batching queue and gRPC server in the bench process. Unless the row says otherwise the model runs in the inference worker thread (PREDICT_WORKER=1, the predictor\'s default: the serving thread validates, normalizes and packs each batch into a Float32Array and transfers it; the next batch is handed over before the previous one\'s callers are answered), loaded from the serialized weights of the in-process model. "2 in flight" (PREDICT_IN_FLIGHT=2): two batches are in the worker at once, and a batch taken while none is in flight takes half of what waits (at least 8 a side), so that the worker runs one batch while the serving thread and the client handle the other; "1 in flight" hands one batch at a time (PREDICT_IN_FLIGHT=1, the default).',
    `In-process = \`model.predictReturns\` on a batch of the same size as the concurrency, in this process\'s main thread, ${IN_PROCESS_MS / 1000} s right before each served run (median of those runs, per row), in windows/s: the ceiling serving could reach with full batches and free requests. The servers of all rows are up at once and take turns: each repeat runs every row once, in table order.`,
    'Load generator: services/predictor/src/tools/load.ts in its own process, a grpc-js client (retries and channelz off, one request object per symbol) making real Predict calls whose answers are decoded.',
    '',
    '| concurrency | server | req/s | p50 ms | p99 ms | mean batch | in-process windows/s (batch = concurrency) | served / in-process | errors |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Micro-batching speed-up at concurrency 32 over no batching (target ≥ 5×): ${speedups.join('; ')}.`,
    `Served with batching at concurrency 32 vs in-process batch 32 (target ≥ 70 %): ${ratios.join('; ')}.`,
    `Each served run at concurrency 32 against the in-process run just before it: ${perRun.join('; ')}. Median of all ${MODES.length * ctx.repeats} in-process batch-32 runs of this bench: ${fmt(pooled32, 0)} windows/s.`,
    `Machine load average (1 min) when the bench started: ${fmt(loadAverage, 1)}; other work shares the 2 cores, so figures swing between runs (see the per-run ratios).`,
    '',
    'Server and load generator share the 2 cores, so the served figures include the client\'s CPU cost. CPU time per answered request at concurrency 32 (process CPU time, all threads, divided by answered requests; medians of the runs); what one core would serve if client and server took turns (all 32 requests of the closed loop are in one batch, so model, server and client wait for each other), and what two fully busy cores could serve at that cost (needs two batches in flight, each paying the model\'s fixed per-call cost):',
    '',
    '| server | req/s | client µs | server µs (model included) | in-process model µs per window | 1 core / (client + server) req/s | 2 cores / (client + server) req/s (of in-process) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...budget,
    ...openLoopLines(openLoop, MODES.find((m) => m.isDefault)),
  ].join('\n');
  return { title: 'Serving: gRPC Predict with and without micro-batching', markdown };
};

/** The open-loop table (offered vs served), when the default mode was measured. */
function openLoopLines(runs: Array<OpenLoopResult & { base: number }>, mode: Mode | undefined): string[] {
  if (!mode || runs.length === 0) return [];
  const row = (r: OpenLoopResult & { base: number }, i: number) =>
    `| ${i + 1} | ${fmt(r.base, 0)} | ${fmt(r.offeredRps, 0)} | ${fmt(r.rps, 0)} | ${fmt((100 * r.rps) / r.offeredRps, 0)} % | ${fmt((100 * r.rps) / r.base, 0)} % | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${r.skipped} | ${r.outstandingAtEnd} | ${r.errors} |`;
  return [
    '',
    `Open loop (load.ts \`--rate\`, ${mode.name}): requests sent at ${fmt(100 * OPEN_LOOP_SHARE, 0)} % of the in-process batch-32 rate measured right before each run, whatever the answers do; latency counts from when a request was due, served = answers received while measuring. A server that keeps up serves what is offered with bounded latency; one that does not leaves requests unanswered at the end and its latency grows with the run.`,
    '',
    '| run | in-process windows/s (batch 32) | offered req/s | served req/s | served / offered | served / in-process | p50 ms | p99 ms | skipped (10,000 unanswered) | unanswered at the end | errors |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...runs.map(row),
  ];
}

export default bench;
