/**
 * `npm start`: provisions local Kafka and the database (unless KAFKA_BROKERS and MONGO_URL name
 * external ones), starts every service under one supervisor with prefixed logs, replays the
 * bundled real prices, trains, serves, and prints where to connect. Ctrl-C stops everything.
 */
import { infraDown, infraUp } from './lib/infra.ts';
import { serviceSpec, Supervisor, SERVICES, REPO_ROOT } from './lib/supervisor.ts';
import path from 'node:path';
import { existsSync } from 'node:fs';

const GRPC_PORT = process.env.GRPC_PORT ?? '50051';
const WS_PORT = process.env.WS_PORT ?? '8081';
const OPS_PORTS: Record<string, string> = { extractor: '9101', transformer: '9102', loader: '9103', trainer: '9104', predictor: '9105', monitor: '9106' };

console.log('▶ stock-mlops: starting local infrastructure');
const infra = infraUp();
console.log(`  Kafka:   ${infra.env.KAFKA_BROKERS}\n  MongoDB: ${infra.env.MONGO_URL}${infra.started ? '' : ' (external)'}`);

const env: NodeJS.ProcessEnv = {
  ...process.env,
  ...infra.env,
  GRPC_PORT,
  WS_PORT,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
};
const sup = new Supervisor({ env, logDir: path.join(REPO_ROOT, 'artifacts', 'logs'), colors: process.stdout.isTTY });
const services = SERVICES.filter((s) => existsSync(path.join(REPO_ROOT, 'services', s, 'src', 'main.ts')));
for (const name of services) sup.start(serviceSpec(name, { HTTP_PORT: OPS_PORTS[name] }));

let printed = false;
const banner = setInterval(async () => {
  try {
    const r = await fetch(`http://127.0.0.1:${OPS_PORTS.predictor}/readyz`);
    if (r.ok && !printed) {
      printed = true;
      console.log(
        [
          '',
          '✔ stock-mlops is serving',
          `  gRPC:        127.0.0.1:${GRPC_PORT}   (grpcurl -plaintext -d '{"symbol":"AAPL"}' 127.0.0.1:${GRPC_PORT} stockmlops.v1.PredictionService/Predict)`,
          `  WebSocket:   ws://127.0.0.1:${WS_PORT}/ws   (send {"op":"subscribe","symbols":["*"]})`,
          `  Metrics:     ${services.map((s) => `${s} http://127.0.0.1:${OPS_PORTS[s]}/metrics`).join(', ')}`,
          '  Ctrl-C stops everything.',
          '',
        ].join('\n'),
      );
    }
  } catch {
    /* not up yet */
  }
}, 2_000);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(banner);
  console.log(`\n▶ ${signal}: stopping services`);
  await sup.stop();
  if (infra.started && process.env.KEEP_INFRA !== '1') {
    console.log('▶ stopping local infrastructure');
    infraDown();
  }
  console.log('✔ stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
