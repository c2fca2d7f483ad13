/**
 * `npm start`: provisions local Kafka and the database (unless KAFKA_BROKERS and MONGO_URL name
 * external ones), starts every service under one supervisor with prefixed logs, replays the
 * bundled real prices, trains, serves, and prints where to connect. Ctrl-C stops everything.
 *
 * START_LOG_LEVEL (default warn) sets the services' console log level; full logs are written to
 * artifacts/logs/<service>.log at LOG_LEVEL (default info).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { infraDown, infraUp } from './lib/infra.ts';
import { REPO_ROOT, serviceSpec, SERVICES, Supervisor } from './lib/supervisor.ts';

const GRPC_PORT = process.env.GRPC_PORT ?? '50051';
const WS_PORT = process.env.WS_PORT ?? '8081';
const DASHBOARD_PORT = process.env.DASHBOARD_PORT ?? '8080';
const OPS_PORTS: Record<string, string> = { extractor: '9101', transformer: '9102', loader: '9103', trainer: '9104', predictor: '9105', monitor: '9106', dashboard: '9107' };
const CONSOLE_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const consoleLevel = process.env.START_LOG_LEVEL ?? 'info';

console.log('▶ stock-mlops: starting local infrastructure (Kafka 3.9 KRaft + MongoDB-wire server)');
const infra = infraUp();
console.log(`  Kafka:   ${infra.env.KAFKA_BROKERS}\n  MongoDB: ${infra.env.MONGO_URL}${infra.started ? '' : ' (external)'}`);

const env: NodeJS.ProcessEnv = {
  ...process.env,
  ...infra.env,
  GRPC_PORT,
  WS_PORT,
  DASHBOARD_PORT,
  PREDICTOR_WS_URL: process.env.PREDICTOR_WS_URL ?? `ws://127.0.0.1:${WS_PORT}/ws`,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
};
const minLevel = CONSOLE_LEVELS.indexOf(consoleLevel);
const sup = new Supervisor({
  env,
  logDir: path.join(REPO_ROOT, 'artifacts', 'logs'),
  colors: process.stdout.isTTY,
  onLine: (svc, line) => {
    const m = /"level":"(\w+)"/.exec(line);
    if (m && CONSOLE_LEVELS.indexOf(m[1]!) < minLevel) return;
    const pretty = (() => {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        const { level, time, service, pid, msg, ...rest } = o;
        void time;
        void service;
        void pid;
        const extra = Object.entries(rest)
          .filter(([k]) => k !== 'component')
          .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
          .join(' ');
        return `${String(level).padEnd(5)} ${String(msg)}${extra ? `  ${extra.slice(0, 300)}` : ''}`;
      } catch {
        return line;
      }
    })();
    process.stdout.write(`${svc.padEnd(11)}| ${pretty}\n`);
  },
});
const services = SERVICES.filter((s) => existsSync(path.join(REPO_ROOT, 'services', s, 'src', 'main.ts')));
for (const name of services) sup.start(serviceSpec(name, { HTTP_PORT: OPS_PORTS[name] }));

// Progress until the first prediction is served.
const mongo = new MongoClient(infra.env.MONGO_URL, { serverSelectionTimeoutMS: 5_000 });
const dbName = process.env.MONGO_DB ?? 'stock_mlops';
let printed = false;
let lastLine = '';
const progress = setInterval(async () => {
  try {
    await mongo.connect();
    const db = mongo.db(dbName);
    const [bars, features, predictions, models] = await Promise.all(
      ['bars', 'features', 'price_predictions', 'model_versions'].map((c) => db.collection(c).estimatedDocumentCount()),
    );
    const ready = await fetch(`http://127.0.0.1:${OPS_PORTS.predictor}/readyz`).then((r) => r.ok, () => false);
    const line = `▶ progress: ${bars} bars, ${features} feature rows, ${models} model versions, ${predictions} predictions stored${ready ? '' : ' (predictor waiting for a model)'}`;
    if (line !== lastLine) console.log(line);
    lastLine = line;
    if (ready && !printed) {
      printed = true;
      const dash = services.includes('dashboard') ? `\n  Dashboard:   http://127.0.0.1:${DASHBOARD_PORT}/` : '';
      console.log(
        [
          '',
          '✔ stock-mlops is serving',
          `  gRPC:        127.0.0.1:${GRPC_PORT}   e.g. grpcurl -plaintext -d '{"symbol":"AAPL"}' 127.0.0.1:${GRPC_PORT} stockmlops.v1.PredictionService/Predict`,
          `  WebSocket:   ws://127.0.0.1:${WS_PORT}/ws   send {"op":"subscribe","symbols":["*"]}${dash}`,
          `  Metrics:     ${services.map((s) => `${s} :${OPS_PORTS[s]}`).join(', ')} (/metrics, /healthz, /readyz)`,
          `  Logs:        artifacts/logs/<service>.log`,
          '  Ctrl-C stops everything.',
          '',
        ].join('\n'),
      );
    }
  } catch {
    /* not up yet */
  }
}, 5_000);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(progress);
  console.log(`\n▶ ${signal}: stopping services`);
  await sup.stop();
  await mongo.close().catch(() => {});
  if (infra.started && process.env.KEEP_INFRA !== '1') {
    console.log('▶ stopping local infrastructure');
    infraDown();
  }
  console.log('✔ stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
