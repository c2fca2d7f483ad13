/**
 * dashboard: a web page over the system. Serves the page and a small JSON API: bars,
 * predictions and symbols from memory (stored history read once, then the clean prices and
 * price predictions topics; the challenger's shadow predictions likewise), registry, news with
 * sentiment, monitoring and the champion-versus-challenger comparison from MongoDB, and the
 * labelling panel (label_desk.ts: its queue, and POST /api/labels onto the labels topic); the page
 * takes live predictions from the predictor's WebSocket stream, by default proxied on the
 * dashboard's own origin (`/ws`, see stream_config.ts).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { createLabelPublisher, startService } from '@stock-mlops/platform';
import { createApi } from './api.ts';
import { createChallengerQueries } from './challenger.ts';
import { ChartStore } from './chart_store.ts';
import { DashboardEnv } from './config.ts';
import { startChartFeed } from './feed.ts';
import { createLabelDesk } from './label_desk.ts';
import { createDashboardMetrics } from './metrics.ts';
import { createQueries } from './queries.ts';
import { loadAssets, startDashboardServer } from './server.ts';
import { STREAM_PATH, streamSettings } from './stream_config.ts';

const svc = await startService({ name: 'dashboard', env: DashboardEnv, mongo: true });
const { config, log, shutdown, metrics } = svc;
const stream = streamSettings(config);

const chartsDist = path.join(path.dirname(createRequire(import.meta.url).resolve('lightweight-charts/package.json')), 'dist');
const assets = loadAssets(path.resolve(import.meta.dirname, '..', 'public'), {
  '/vendor/lightweight-charts.mjs': path.join(chartsDist, 'lightweight-charts.standalone.production.mjs'),
});
const queries = createQueries(svc.mongo!.db);
const store = new ChartStore();
const challenger = { queries: createChallengerQueries(svc.mongo!.db), shadow: new ChartStore() };
// The chart feed's consumer group is named by the stable instance id (INSTANCE_ID, the pod name, or
// a reclaimed local slot), so restarts reuse one group instead of leaving one behind per start.
const feed = await startChartFeed({ svc, queries, store, instance: svc.instanceId, shadow: { store: challenger.shadow, eachPrediction: challenger.queries.eachShadowPrediction } });
shutdown.add('chart-feed', feed.stop);
const labels = createLabelDesk({ db: svc.mongo!.db, publish: createLabelPublisher(svc.producer, svc.topics, 'dashboard') });
// Readiness does not wait for the stored chart history: reading it costs what the database holds
// (bench/startup: > 60 s at 500k bars), so it loads in the background while the topics feed the store.
const api = createApi({
  queries,
  labelQueue: labels.queue,
  chart: { store, loaded: feed.loaded, isLoaded: feed.isLoaded },
  challenger,
  publicConfig: stream.publicConfig,
});
const dashboardMetrics = createDashboardMetrics(metrics.registry);
const wsProxy =
  stream.mode === 'proxy'
    ? { path: STREAM_PATH, upstreamUrl: config.PREDICTOR_WS_URL, upstreamToken: config.PREDICTOR_WS_TOKEN, maxBufferedBytes: config.DASHBOARD_WS_MAX_BUFFERED_BYTES }
    : undefined;
const server = await startDashboardServer({ host: config.DASHBOARD_HOST, port: config.DASHBOARD_PORT, log, api, assets, post: { '/api/labels': labels.submit }, token: config.DASHBOARD_TOKEN, requestSeconds: dashboardMetrics.requestSeconds, wsProxy });
dashboardMetrics.countStreamClients(server.streamClients);
shutdown.add('dashboard-http', server.close);
svc.setReady('http', true);
log.info({ url: `http://${config.DASHBOARD_HOST}:${server.port}/`, stream: stream.mode, predictorWs: config.PREDICTOR_WS_URL, auth: Boolean(config.DASHBOARD_TOKEN) }, 'dashboard listening');
