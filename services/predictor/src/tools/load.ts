/**
 * Closed-loop load generator for the predictor's gRPC Predict (used by bench/serving.bench.ts;
 * runs in its own process so the client does not share the server's event loop).
 *
 *   tsx services/predictor/src/tools/load.ts --port 50051 --concurrency 32 --duration-ms 5000 \
 *     --symbols S0,S1,… [--warmup-ms 1000] [--token …]
 *
 * Prints one JSON line: { requests, allRequests, errors, seconds, rps, p50Ms, p99Ms, cpuUsPerRequest, errorCodes }.
 */
import { parseCommandLine } from '@stock-mlops/platform';
import * as grpc from '@grpc/grpc-js';
import { loadProtos } from '../protos.ts';

const USAGE = `usage: tsx services/predictor/src/tools/load.ts --port N [--host H] [--concurrency N] [--duration-ms N]
         [--warmup-ms N] [--symbols S0,S1,…] [--token T]
Prints one JSON line: { requests, allRequests, errors, seconds, rps, p50Ms, p99Ms, cpuUsPerRequest, errorCodes }.`;
const a = parseCommandLine(USAGE, {
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    'duration-ms': { type: 'string', default: '5000' },
    'warmup-ms': { type: 'string', default: '1000' },
    symbols: { type: 'string', default: 'AAA' },
    token: { type: 'string' },
  },
}).values;
if (!a.port) {
  console.error(`error E_USAGE: --port is required\n${USAGE}`);
  process.exit(2);
}
const concurrency = Number(a.concurrency);
const durationMs = Number(a['duration-ms']);
const warmupMs = Number(a['warmup-ms']);
const symbols = a.symbols!.split(',');

const { pkg } = loadProtos();
// A lean client: it shares the machine with the server, so it spends no CPU on features it does
// not use (transparent retries and channelz bookkeeping, both per call) and reuses one request
// object per symbol. Every call is still a real Predict: serialized, sent, answered and decoded.
const client = new pkg.stockmlops.v1.PredictionService(`${a.host}:${a.port}`, grpc.credentials.createInsecure(), {
  'grpc.enable_retries': 0,
  'grpc.enable_channelz': 0,
}) as unknown as grpc.Client & {
  Predict: (req: unknown, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: { prediction?: unknown }) => void) => void;
};
const md = new grpc.Metadata();
if (a.token) md.set('authorization', `Bearer ${a.token}`);
const requests = symbols.map((symbol) => ({ symbol }));

/** One Predict; resolves with undefined on success, else the status code (an answer without a prediction counts as an error). */
const call = (req: { symbol: string }) =>
  new Promise<number | undefined>((resolve) => client.Predict(req, md, (err, res) => resolve(err ? err.code : res?.prediction ? undefined : -1)));

const latencies: number[] = [];
const errorCodes: Record<string, number> = {};
let measuring = false;
let stop = false;
let answered = 0;
async function worker(i: number): Promise<void> {
  for (let n = i; !stop; n += concurrency) {
    const t0 = performance.now();
    const code = await call(requests[n % requests.length]!);
    if (code === undefined) answered++;
    if (!measuring) continue;
    if (code === undefined) latencies.push(performance.now() - t0);
    else errorCodes[String(code)] = (errorCodes[String(code)] ?? 0) + 1;
  }
}

await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())));
const workers = Array.from({ length: concurrency }, (_, i) => worker(i));
await new Promise((r) => setTimeout(r, warmupMs));
measuring = true;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await new Promise((r) => setTimeout(r, durationMs));
measuring = false;
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
stop = true;
await Promise.all(workers);
client.close();
const sorted = [...latencies].sort((x, y) => x - y);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
const errors = Object.values(errorCodes).reduce((s, x) => s + x, 0);
// The client's own CPU time (all threads of this process) while measuring, per answered request.
const cpuUsPerRequest = (cpu.user + cpu.system) / Math.max(1, latencies.length);
// allRequests: every answered call, warm-up included (lets the server side count its CPU per request).
console.log(JSON.stringify({ requests: latencies.length, allRequests: answered, errors, seconds, rps: latencies.length / seconds, p50Ms: pct(50), p99Ms: pct(99), cpuUsPerRequest, errorCodes }));
