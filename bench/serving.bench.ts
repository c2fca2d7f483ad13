/**
 * Serving: gRPC Predict throughput and latency at concurrency 1, 8 and 32, without and with
 * dynamic micro-batching, beside the in-process model's throughput at the same batch sizes.
 *
 * The server (the predictor's real core, queue and gRPC server, LSTM(32) over 20×8 windows, the
 * default price architecture) runs in this process; the load generator
 * (services/predictor/src/tools/load.ts, closed loop, one channel) in a child process. The
 * in-process baseline calls the model directly on batches of 1, 8 and 32 windows: what serving
 * would reach if every request were free and every batch full.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { ServingPriceModel } from '@stock-mlops/ml/inference/predictor';
import { initTf } from '@stock-mlops/ml/tf';
import { PredictorCore } from '../services/predictor/src/core.ts';
import { startGrpcServer } from '../services/predictor/src/grpc_server.ts';
import { createPriceInference } from '../services/predictor/src/inference.ts';
import { featureSeries, randomPriceModel } from '../test/unit/predictor/fixtures.ts';
import { fmt, median, type Bench } from './lib.ts';

const LOOKBACK = 20;
const N_FEATURES = 8;
const CONCURRENCY = [1, 8, 32] as const;
const DURATION_MS = Number(process.env.BENCH_SERVING_MS ?? 3_000);
const SYMBOLS = Array.from({ length: 64 }, (_, i) => `S${i}`);
const LOAD = path.join(import.meta.dirname, '../services/predictor/src/tools/load.ts');

interface Mode {
  name: string;
  maxBatch: number;
  maxDelayMs: number;
}
const MODES: Mode[] = [
  { name: 'no batching (PREDICT_BATCH_MAX=1)', maxBatch: 1, maxDelayMs: 0 },
  { name: 'micro-batching (max 64, delay 0 ms)', maxBatch: 64, maxDelayMs: 0 },
  { name: 'micro-batching (max 64, delay 2 ms, the default)', maxBatch: 64, maxDelayMs: 2 },
];

interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

async function runLoad(port: number, concurrency: number): Promise<LoadResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', LOAD, '--port', String(port), '--concurrency', String(concurrency), '--duration-ms', String(DURATION_MS), '--warmup-ms', '1000', '--symbols', SYMBOLS.join(',')],
    { encoding: 'utf8', timeout: DURATION_MS + 60_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadResult;
}

const bench: Bench = async (ctx) => {
  const { backend } = await initTf();
  const model = new ServingPriceModel({ name: 'price', version: 1 }, await randomPriceModel(1, { arch: 'lstm', hidden: 32, lookback: LOOKBACK, nFeatures: N_FEATURES }));
  const history = SYMBOLS.flatMap((s, i) => featureSeries(s, LOOKBACK + 5, i + 1, N_FEATURES));
  const windows = SYMBOLS.map((s) => history.filter((f) => f.symbol === s).slice(-LOOKBACK).map((f) => f.values));

  // In-process baseline: windows per second at each batch size.
  const inProcess = new Map<number, number>();
  for (const b of CONCURRENCY) {
    const runs: number[] = [];
    for (let r = 0; r < ctx.repeats; r++) {
      const batch = windows.slice(0, b);
      model.predictReturns(batch);
      let n = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < 1_500) {
        model.predictReturns(batch);
        n += b;
      }
      runs.push(n / ((performance.now() - t0) / 1000));
    }
    inProcess.set(b, median(runs));
    ctx.log(`in-process batch ${b}: ${fmt(inProcess.get(b)!, 0)} windows/s`);
  }

  const served = new Map<string, LoadResult & { meanBatch: number }>();
  for (const mode of MODES) {
    const inference = createPriceInference({ maxBatch: mode.maxBatch, maxDelayMs: mode.maxDelayMs, maxQueue: 4096 });
    const core = new PredictorCore(inference.run);
    core.swap(model);
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
    let calls = 0;
    let items = 0;
    const orig = model.predictReturns.bind(model);
    model.predictReturns = (ws) => {
      calls++;
      items += ws.length;
      return orig(ws);
    };
    for (const c of CONCURRENCY) {
      const runs: LoadResult[] = [];
      calls = 0;
      items = 0;
      for (let r = 0; r < ctx.repeats; r++) runs.push(await runLoad(grpc.port, c));
      const pick = (k: keyof LoadResult) => median(runs.map((x) => x[k]));
      const res = { rps: pick('rps'), p50Ms: pick('p50Ms'), p99Ms: pick('p99Ms'), errors: runs.reduce((s, x) => s + x.errors, 0), meanBatch: items / Math.max(1, calls) };
      served.set(`${mode.name}|${c}`, res);
      ctx.log(`${mode.name}, concurrency ${c}: ${fmt(res.rps, 0)} req/s, p50 ${fmt(res.p50Ms, 2)} ms, p99 ${fmt(res.p99Ms, 2)} ms, mean batch ${fmt(res.meanBatch, 1)}, errors ${res.errors}`);
    }
    model.predictReturns = orig;
    await grpc.close();
    inference.close();
  }

  const rows: string[] = [];
  for (const c of CONCURRENCY) {
    for (const mode of MODES) {
      const r = served.get(`${mode.name}|${c}`)!;
      const base = inProcess.get(c)!;
      rows.push(`| ${c} | ${mode.name} | ${fmt(r.rps, 0)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.meanBatch, 1)} | ${fmt(base, 0)} | ${fmt((100 * r.rps) / base, 0)} % | ${r.errors} |`);
    }
  }
  const nb = (c: number) => served.get(`${MODES[0]!.name}|${c}`)!.rps;
  const speedups = MODES.slice(1).map((m) => `${m.name}: ${fmt(served.get(`${m.name}|32`)!.rps / nb(32), 1)}×`);
  const best32 = Math.max(...MODES.slice(1).map((m) => served.get(`${m.name}|32`)!.rps));
  const markdown = [
    `Predict over gRPC (loopback, one channel, closed loop, ${DURATION_MS / 1000} s per run after 1 s warm-up, median of ${ctx.repeats} runs), tfjs backend \`${backend}\`.`,
    'Model: LSTM(32) over 20×8 windows (the default price architecture) with random weights; 64 symbols, each request cuts its window from the feature history.',
    'In-process = `model.predict` on a batch of the same size as the concurrency, in windows/s: the ceiling serving could reach with full batches and free requests.',
    '',
    '| concurrency | server | req/s | p50 ms | p99 ms | mean batch | in-process windows/s (batch = concurrency) | served / in-process | errors |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Micro-batching speed-up at concurrency 32 over no batching (target ≥ 5×): ${speedups.join('; ')}.`,
    `Served with batching at concurrency 32 vs in-process batch 32 (target ≥ 70 %): ${fmt((100 * best32) / inProcess.get(32)!, 0)} %.`,
    'Server and load generator share the 2 cores, so the served figures include the client\'s CPU cost.',
  ].join('\n');
  return { title: 'Serving: gRPC Predict with and without micro-batching', markdown };
};

export default bench;
