/**
 * `npm start`: provisions local Kafka and the database (unless KAFKA_BROKERS and MONGO_URL name
 * external ones), starts every service under one supervisor with prefixed logs, replays the
 * bundled real prices, trains, serves, and prints where to connect. Ctrl-C stops everything.
 *
 * Progress: one status line per stage (infrastructure, replay, features, training, serving),
 * gathered from Kafka offsets and the services' /metrics and /readyz — never from the database —
 * by one poll every 2 s that never overlaps the previous one (scripts/lib/progress.ts). The URLs
 * are printed as soon as the endpoints answer, with what is still coming; "✔ stock-mlops is
 * serving" once price predictions stream.
 *
 * START_LOG_LEVEL (default warn) sets the services' console log level (kafkajs client lines only
 * at debug or trace); full logs are written to artifacts/logs/<service>.log at LOG_LEVEL (default
 * info). START_OPS_PORT_BASE (default 9101) numbers the services' ops ports from there; 0 lets
 * each pick a free port (the port each one logs is used).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { resolveTopics } from '@stock-mlops/contracts';
import { parseCommandLine } from '@stock-mlops/platform';
import { parseYahooCsv } from '@stock-mlops/transform';
import { infraDown, infraUp } from './lib/infra.ts';
import { metricSum, parseMetrics, ProgressPrinter, isServing, endpointsUp, statusLines, stillComing, type Sample, type Snapshot, type TaskTraining } from './lib/progress.ts';
import { DEFAULT_OPS_PORT_BASE, opsPortFor, REPO_ROOT, serviceSpec, SERVICES, Supervisor } from './lib/supervisor.ts';

const USAGE = `usage: npm start

Starts the local infrastructure (unless KAFKA_BROKERS and MONGO_URL name external ones), every
service, the replay of the bundled prices and news, training and serving; prints the URLs.
Ctrl-C stops everything. Settings are environment variables (README.md, "npm start"):
  GRPC_PORT (50051), WS_PORT (8081), DASHBOARD_PORT (8080), START_OPS_PORT_BASE (9101; 0 = free ports),
  START_LOG_LEVEL (warn), LOG_LEVEL (info), EXTRACT_AFTER_REPLAY (live-or-synthetic).

  -h, --help   print this help`;
parseCommandLine(USAGE, { options: {} });

const GRPC_PORT = process.env.GRPC_PORT ?? '50051';
const WS_PORT = process.env.WS_PORT ?? '8081';
const DASHBOARD_PORT = process.env.DASHBOARD_PORT ?? '8080';
const OPS_BASE = Number(process.env.START_OPS_PORT_BASE ?? String(DEFAULT_OPS_PORT_BASE));
if (!Number.isInteger(OPS_BASE) || OPS_BASE < 0 || OPS_BASE > 65_000) {
  console.error(`START_OPS_PORT_BASE must be 0 (any free port) or a port number, got "${process.env.START_OPS_PORT_BASE}"`);
  process.exit(2);
}
const CONSOLE_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const consoleLevel = process.env.START_LOG_LEVEL ?? 'warn';
const POLL_MS = 2_000;
const t0 = Date.now();
const stamp = () => `[${String(Math.round((Date.now() - t0) / 1000)).padStart(4)} s]`;

console.log('▶ stock-mlops: starting local infrastructure (Kafka 3.9 KRaft + MongoDB-wire server)');
const infra = infraUp();
console.log(`  Kafka:   ${infra.env.KAFKA_BROKERS}\n  MongoDB: ${infra.env.MONGO_URL}${infra.started ? '' : ' (external)'}`);
console.log(`${stamp()} ▶ infrastructure ready; starting the services`);

const env: NodeJS.ProcessEnv = {
  ...process.env,
  ...infra.env,
  GRPC_PORT,
  WS_PORT,
  DASHBOARD_PORT,
  PREDICTOR_WS_URL: process.env.PREDICTOR_WS_URL ?? `ws://127.0.0.1:${WS_PORT}/ws`,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  // Live after the historical replay: the real providers when the network answers, else a seeded
  // synthetic continuation labelled `synthetic` (docs/raw-topics.md, "After the replay").
  EXTRACT_AFTER_REPLAY: process.env.EXTRACT_AFTER_REPLAY ?? 'live-or-synthetic',
  // The bundled dated headlines (MIT-licensed recorded responses), so news sentiment streams too.
  EXTRACT_NEWS_REPLAY_PATH: process.env.EXTRACT_NEWS_REPLAY_PATH ?? 'data/fixtures/newsapi_v2_everything_business_2020-02-22.json,data/fixtures/yahoo_v1_search_AAPL_quotes_and_news.json',
};
const minLevel = CONSOLE_LEVELS.indexOf(consoleLevel);
const showKafkajs = minLevel >= 0 && minLevel <= CONSOLE_LEVELS.indexOf('debug');
/** Ops port of each service, as it logged it ("ops http listening"); a restart logs its new one. */
const opsPorts = new Map<string, number>();
const sup = new Supervisor({
  env,
  logDir: path.join(REPO_ROOT, 'artifacts', 'logs'),
  colors: process.stdout.isTTY,
  onLine: (svc, line) => {
    let o: Record<string, unknown> | undefined;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      o = undefined;
    }
    if (o?.msg === 'ops http listening (/healthz, /readyz, /metrics)' && typeof o.port === 'number') opsPorts.set(svc, o.port);
    if (o) {
      if (CONSOLE_LEVELS.indexOf(String(o.level)) < minLevel) return;
      if (o.component === 'kafkajs' && !showKafkajs) return;
      const { level, time, service, pid, msg, component, ...rest } = o;
      void [time, service, pid, component];
      const extra = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join(' ');
      process.stdout.write(`${svc.padEnd(11)}| ${String(level).padEnd(5)} ${String(msg)}${extra ? `  ${extra.slice(0, 300)}` : ''}\n`);
      return;
    }
    process.stdout.write(`${svc.padEnd(11)}| ${line}\n`);
  },
});
const services = SERVICES.filter((s) => existsSync(path.join(REPO_ROOT, 'services', s, 'src', 'main.ts')));
for (const name of services) sup.start(serviceSpec(name, { HTTP_PORT: String(opsPortFor(name, OPS_BASE)) }));

// ---------------------------------------------------------------------------------------------
// Progress: Kafka offsets and the services' ops endpoints; no database connection.

/** Bars the extractor's CSV replay will publish: the bars the stream's own parser accepts in the replay files. */
function replayRows(): number {
  const providers = (process.env.EXTRACT_PROVIDERS ?? 'csv').split(',').map((s) => s.trim());
  if (!providers.includes('csv') && !providers.includes('csv-replay')) return 0;
  const p = path.resolve(REPO_ROOT, process.env.EXTRACT_REPLAY_PATH ?? 'data/prices');
  const symbols = process.env.EXTRACT_SYMBOLS?.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  try {
    const files = statSync(p).isDirectory() ? readdirSync(p).filter((f) => /\.csv$/i.test(f)).map((f) => path.join(p, f)) : [p];
    let total = 0;
    for (const f of files) {
      const symbol = path.basename(f).replace(/\.(csv|txt)$/i, '').toUpperCase();
      if (symbols && symbols.length > 0 && !symbols.includes(symbol)) continue;
      total += parseYahooCsv(readFileSync(f, 'utf8'), symbol, 'yahoo-csv').bars.length;
    }
    return total;
  } catch {
    return 0;
  }
}
const REPLAY_ROWS = replayRows();

const topics = resolveTopics(process.env.KAFKA_TOPIC_PREFIX ?? '');
const prefix = process.env.KAFKA_TOPIC_PREFIX ?? '';
const kafka = new Kafka({ clientId: 'npm-start-progress', brokers: infra.env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING, retry: { retries: 0 } });
let admin: Admin | undefined;

async function topicTotal(topic: string): Promise<number> {
  try {
    const offsets = await admin!.fetchTopicOffsets(topic);
    return offsets.reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
  } catch {
    return 0; // not created yet
  }
}
async function committed(groupId: string, topic: string): Promise<number> {
  try {
    const r = await admin!.fetchOffsets({ groupId, topics: [topic] });
    return (r[0]?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
  } catch {
    return 0;
  }
}
const opsHeaders = process.env.OPS_TOKEN ? { authorization: `Bearer ${process.env.OPS_TOKEN}` } : undefined;
/**
 * A service training a model (tfjs) or computing features can miss a probe under load: it counts
 * as up when it answered /healthz within the last 20 s, and its last /metrics stay in use meanwhile.
 */
const lastHealthy = new Map<string, number>();
const lastMetrics = new Map<string, Sample[]>();
async function healthy(svc: string): Promise<boolean> {
  const port = opsPorts.get(svc);
  if (port && (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3_000) }).then((r) => r.ok, () => false))) lastHealthy.set(svc, Date.now());
  return Date.now() - (lastHealthy.get(svc) ?? Number.NEGATIVE_INFINITY) < 20_000;
}
async function scrape(svc: string): Promise<Sample[]> {
  const port = opsPorts.get(svc);
  if (!port) return [];
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3_000), ...(opsHeaders ? { headers: opsHeaders } : {}) });
    if (r.ok) lastMetrics.set(svc, parseMetrics(await r.text()));
  } catch {
    /* busy: keep the last answer */
  }
  return lastMetrics.get(svc) ?? [];
}
function answers(port: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: Number(port) });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1_000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
function training(task: 'price' | 'sentiment', trainer: Sample[], predictor: Sample[]): TaskTraining {
  const served = predictor.find((s) => s.name === 'stockmlops_model_version_info' && s.labels.task === task && s.value === 1);
  return {
    active: metricSum(trainer, 'stockmlops_training_active', { task }) > 0,
    epoch: metricSum(trainer, 'stockmlops_training_epoch', { task }),
    epochs: metricSum(trainer, 'stockmlops_training_epochs', { task }),
    etaSeconds: metricSum(trainer, 'stockmlops_training_eta_seconds', { task }),
    promoted: metricSum(trainer, 'stockmlops_trainings_total', { task, outcome: 'promoted' }),
    rejected: metricSum(trainer, 'stockmlops_trainings_total', { task, outcome: 'rejected' }),
    failed: metricSum(trainer, 'stockmlops_trainings_total', { task, outcome: 'failed' }),
    ...(served ? { served: Number(served.labels.version) } : {}),
  };
}

let predictionsAtStart: number | undefined;
async function snapshot(): Promise<Snapshot> {
  if (!admin) {
    const a = kafka.admin();
    await a.connect();
    admin = a;
  }
  const [up, barsPublished, featuresComputed, featuresStored, pricePredictions, sentimentPredictions, trainer, predictor, grpc, ws, dashboard] = await Promise.all([
    Promise.all(services.map((s) => healthy(s))).then((r) => r.filter(Boolean).length),
    topicTotal(topics.rawPrices),
    topicTotal(topics.features),
    committed(`${prefix}loader`, topics.features),
    topicTotal(topics.pricePredictions),
    topicTotal(topics.sentimentPredictions),
    scrape('trainer'),
    scrape('predictor'),
    answers(GRPC_PORT),
    answers(WS_PORT),
    services.includes('dashboard') ? answers(DASHBOARD_PORT) : Promise.resolve(undefined),
  ]);
  predictionsAtStart ??= pricePredictions;
  return {
    elapsedMs: Date.now() - t0,
    up,
    services: services.length,
    barsPublished,
    replayRows: REPLAY_ROWS,
    featuresComputed,
    featuresStored,
    price: training('price', trainer, predictor),
    sentiment: training('sentiment', trainer, predictor),
    endpoints: { grpc, ws, dashboard },
    pricePredictions,
    pricePredictionsAtStart: predictionsAtStart,
    sentimentPredictions,
  };
}

const urlLines = () => [
  `  gRPC:        127.0.0.1:${GRPC_PORT}   e.g. grpcurl -plaintext -d '{"symbol":"AAPL"}' 127.0.0.1:${GRPC_PORT} stockmlops.v1.PredictionService/Predict`,
  `  WebSocket:   ws://127.0.0.1:${WS_PORT}/ws   send {"op":"subscribe","symbols":["*"]}`,
  ...(services.includes('dashboard') ? [`  Dashboard:   http://127.0.0.1:${DASHBOARD_PORT}/`] : []),
];
let printer = new ProgressPrinter({ minIntervalMs: 5_000, heartbeatMs: 9_000 });
let urlsPrinted = false;
let serving = false;
let polling = false;
async function poll(): Promise<void> {
  if (polling || stopping) return; // never two polls at once
  polling = true;
  try {
    const s = await snapshot();
    for (const line of printer.update(statusLines(s), Date.now())) console.log(`${stamp()} ${line}`);
    if (!urlsPrinted && endpointsUp(s)) {
      urlsPrinted = true;
      const coming = stillComing(s);
      console.log([``, `${stamp()} ▶ the endpoints answer${coming.length ? `; still coming: ${coming.join('; ')}` : ''}`, ...urlLines(), ''].join('\n'));
    }
    if (!serving && isServing(s)) {
      serving = true;
      printer = new ProgressPrinter({ minIntervalMs: 60_000, heartbeatMs: Number.POSITIVE_INFINITY });
      printer.update(statusLines(s), Date.now());
      console.log(
        [
          '',
          `${stamp()} ✔ stock-mlops is serving`,
          ...urlLines(),
          `  Metrics:     ${services.map((x) => `${x} :${opsPorts.get(x) ?? '?'}`).join(', ')} (/metrics, /healthz, /readyz)`,
          `  Logs:        artifacts/logs/<service>.log`,
          '  Ctrl-C stops everything.',
          '',
        ].join('\n'),
      );
    }
  } catch {
    /* the broker is not reachable yet; the next poll tries again */
  } finally {
    polling = false;
  }
}
const progress = setInterval(() => void poll(), POLL_MS);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(progress);
  console.log(`\n▶ ${signal}: stopping services`);
  await sup.stop();
  await admin?.disconnect().catch(() => {});
  if (infra.started && process.env.KEEP_INFRA !== '1') {
    console.log('▶ stopping local infrastructure');
    infraDown();
  }
  console.log('✔ stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
