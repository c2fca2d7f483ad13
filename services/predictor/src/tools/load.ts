/**
 * Load generator for the predictor's gRPC Predict (used by bench/serving.bench.ts; runs in its
 * own process so the client does not share the server's event loop).
 *
 *   tsx services/predictor/src/tools/load.ts --port 50051 --concurrency 32 --duration-ms 5000 \
 *     --symbols S0,S1,… [--warmup-ms 1000] [--token …] [--rate N [--max-outstanding N]]
 *
 * Closed loop (default): `--concurrency` callers, each sending its next request when its previous
 * one is answered, so the offered rate is whatever the server serves.
 * Open loop (`--rate N`): requests are sent at N per second whatever the answers do (a timer
 * sends what is due every millisecond), as independent clients would; latency counts from the
 * moment a request was due, so a server that falls behind shows it in the percentiles instead of
 * slowing the sender. At most `--max-outstanding` (default 10000) requests are unanswered at
 * once; a due request beyond that is counted in `skipped` and not sent. Served = answers received
 * while measuring, per second: below the offered rate when the server cannot keep up (the backlog
 * left is `outstandingAtEnd`).
 *
 * Prints one JSON line: { mode, offeredRps, requests, allRequests, errors, skipped,
 * outstandingAtEnd, seconds, rps, p50Ms, p99Ms, cpuUsPerRequest, errorCodes } (rps = answered
 * per second while measuring; in the closed loop offeredRps = rps).
 */
import { parseCommandLine } from '@stock-mlops/platform';
import * as grpc from '@grpc/grpc-js';
import { loadProtos } from '../protos.ts';

const USAGE = `usage: tsx services/predictor/src/tools/load.ts --port N [--host H] [--concurrency N] [--duration-ms N]
         [--warmup-ms N] [--symbols S0,S1,…] [--token T] [--rate N [--max-outstanding N]]
Closed loop with --concurrency callers; open loop at --rate requests/s when given.
Prints one JSON line: { mode, offeredRps, requests, allRequests, errors, skipped, outstandingAtEnd, seconds, rps, p50Ms, p99Ms, cpuUsPerRequest, errorCodes }.`;
const a = parseCommandLine(USAGE, {
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    'duration-ms': { type: 'string', default: '5000' },
    'warmup-ms': { type: 'string', default: '1000' },
    symbols: { type: 'string', default: 'AAA' },
    token: { type: 'string' },
    rate: { type: 'string' },
    'max-outstanding': { type: 'string', default: '10000' },
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
const rate = a.rate === undefined ? undefined : Number(a.rate);
const maxOutstanding = Number(a['max-outstanding']);
for (const [flag, v] of [['--concurrency', concurrency], ['--duration-ms', durationMs], ['--rate', rate ?? 1], ['--max-outstanding', maxOutstanding]] as const) {
  if (!(Number.isFinite(v) && v > 0)) {
    console.error(`error E_USAGE: ${flag} must be a positive number\n${USAGE}`);
    process.exit(2);
  }
}

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
let skipped = 0;
let outstanding = 0;

/** Send one request due at `due` (performance clock) and record its outcome. */
async function send(n: number, due: number): Promise<void> {
  outstanding++;
  const code = await call(requests[n % requests.length]!);
  outstanding--;
  if (code === undefined) answered++;
  // Answers that arrive while measuring count (served rate); their latency runs from when they were due.
  if (!measuring) return;
  if (code === undefined) latencies.push(performance.now() - due);
  else errorCodes[String(code)] = (errorCodes[String(code)] ?? 0) + 1;
}

async function closedLoopCaller(i: number): Promise<void> {
  for (let n = i; !stop; n += concurrency) await send(n, performance.now());
}

/**
 * Open loop: every millisecond, send the requests due since the start at `rate` per second. Stops
 * sending at the end without waiting for the backlog (the process exits once it has reported).
 */
function openLoop(ratePerS: number): Promise<void> {
  const start = performance.now();
  let sent = 0;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (stop) {
        clearInterval(timer);
        resolve();
        return;
      }
      const due = Math.floor(((performance.now() - start) / 1000) * ratePerS);
      for (; sent < due; sent++) {
        if (outstanding >= maxOutstanding) {
          if (measuring) skipped++;
          continue;
        }
        void send(sent, start + (sent / ratePerS) * 1000);
      }
    }, 1);
  });
}

await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())));
const running = rate === undefined ? Promise.all(Array.from({ length: concurrency }, (_, i) => closedLoopCaller(i))) : openLoop(rate);
await new Promise((r) => setTimeout(r, warmupMs));
measuring = true;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await new Promise((r) => setTimeout(r, durationMs));
measuring = false;
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const outstandingAtEnd = outstanding;
stop = true;
await running;
client.close();
const sorted = [...latencies].sort((x, y) => x - y);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
const errors = Object.values(errorCodes).reduce((s, x) => s + x, 0);
// The client's own CPU time (all threads of this process) while measuring, per answered request.
const cpuUsPerRequest = (cpu.user + cpu.system) / Math.max(1, latencies.length);
// allRequests: every answered call, warm-up included (lets the server side count its CPU per request).
const rps = latencies.length / seconds;
process.stdout.write(
  `${JSON.stringify({ mode: rate === undefined ? 'closed' : 'open', offeredRps: rate ?? rps, requests: latencies.length, allRequests: answered, errors, skipped, outstandingAtEnd, seconds, rps, p50Ms: pct(50), p99Ms: pct(99), cpuUsPerRequest, errorCodes })}\n`,
  // Exit once the line is written: an open loop may leave requests unanswered.
  () => process.exit(0),
);
