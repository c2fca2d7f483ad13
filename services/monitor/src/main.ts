/**
 * monitor: watches the served models and closes the loop.
 * - consumes clean prices, features, price predictions (production and the challenger's shadow
 *   ones), sentiment predictions, model events;
 * - joins each price prediction with its realized outcome (the bar `horizon` bars later) and
 *   keeps rolling MAE / directional accuracy / IC per model version and symbol;
 * - measures feature, prediction and sentiment-label drift against the serving version's
 *   reference (stored with the version in the registry);
 * - on a breach publishes one `retrain_requested` monitor event per incident (cool-down,
 *   de-duplication) and records an alert; reports go to MongoDB and gRPC GetMonitoringReport;
 * - compares production with the registry's challenger over the same events and, when live
 *   promotion is on (MONITOR_PROMOTION), promotes it on the evidence (promoter.ts).
 * The logic is in packages/monitor and loop.ts; this file wires Kafka, MongoDB and gRPC around it.
 */
import { startService } from '@stock-mlops/platform';
import { MonitorEnv } from './config.ts';
import { startMonitorGrpc, SERVICE_NAME } from './grpc_server.ts';
import { createMonitorLoop, SUBSCRIBE } from './loop.ts';

const svc = await startService({ name: 'monitor', env: MonitorEnv, mongo: true });
const { config, log, topics, producer, shutdown, metrics } = svc;
const monitor = createMonitorLoop({ db: svc.mongo!.db, config, log, metrics, producer, topics, isStopping: () => shutdown.isStopping });
await monitor.restore();

const grpc = await startMonitorGrpc({
  host: config.MONITOR_GRPC_HOST,
  port: config.MONITOR_GRPC_PORT,
  log,
  store: monitor.store,
  latest: monitor.latestReport,
});
shutdown.add('grpc', grpc.close);
log.info({ grpc: `${config.MONITOR_GRPC_HOST}:${grpc.port}` }, 'monitor listening');

await svc.consume({
  group: 'monitor',
  subscribe: SUBSCRIBE,
  stage: 'monitor',
  // Keep the group membership alive while an evaluation holds the core.
  heartbeatWhileHandling: true,
  handle: monitor.handle,
});
shutdown.add('evaluation', monitor.startEvaluation());

grpc.health.setStatus('', 'SERVING');
grpc.health.setStatus(SERVICE_NAME, 'SERVING');
svc.setReady('monitor', true);
log.info({ settings: monitor.settings }, 'monitor running');
