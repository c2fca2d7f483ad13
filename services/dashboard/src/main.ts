/**
 * dashboard: a read-only web page over the system. Serves the page and a small JSON API: bars,
 * predictions and symbols from memory (stored history read once, then the clean prices and
 * price predictions topics), registry, news with sentiment and monitoring from MongoDB; the page
 * takes live predictions straight from the predictor's WebSocket stream.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import client from 'prom-client';
import { z } from 'zod';
import { envPort, startService } from '@stock-mlops/platform';
import { createApi } from './api.ts';
import { ChartStore } from './chart_store.ts';
import { startChartFeed } from './feed.ts';
import { createQueries } from './queries.ts';
import { loadAssets, startDashboardServer } from './server.ts';

const Env = z.object({
  DASHBOARD_HOST: z.string().default('127.0.0.1'),
  DASHBOARD_PORT: envPort.default(8080),
  DASHBOARD_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  PREDICTOR_WS_URL: z
    .string()
    .regex(/^wss?:\/\/\S+$/, 'must be a ws:// or wss:// URL ({host} stands for the host the page was loaded from)')
    .default('ws://127.0.0.1:8081/ws'),
  PREDICTOR_WS_TOKEN: z.string().min(16).optional(),
});

const svc = await startService({ name: 'dashboard', env: Env, mongo: true });
const { config, log, shutdown, metrics } = svc;

const chartsDist = path.join(path.dirname(createRequire(import.meta.url).resolve('lightweight-charts/package.json')), 'dist');
const assets = loadAssets(path.resolve(import.meta.dirname, '..', 'public'), {
  '/vendor/lightweight-charts.mjs': path.join(chartsDist, 'lightweight-charts.standalone.production.mjs'),
});
const queries = createQueries(svc.mongo!.db);
const store = new ChartStore();
const feed = await startChartFeed({ svc, queries, store, instance: randomBytes(4).toString('hex') });
shutdown.add('chart-feed', feed.stop);
void feed.loaded.then(() => svc.setReady('chart-history', true));
svc.setReady('chart-history', false);
const api = createApi({
  queries,
  chart: { store, loaded: feed.loaded, isLoaded: feed.isLoaded },
  publicConfig: { wsUrl: config.PREDICTOR_WS_URL, ...(config.PREDICTOR_WS_TOKEN ? { wsToken: config.PREDICTOR_WS_TOKEN } : {}) },
});
const requestSeconds = new client.Histogram({
  name: 'stockmlops_dashboard_request_seconds',
  help: 'Dashboard HTTP request latency, by route and status',
  labelNames: ['route', 'status'] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  registers: [metrics.registry],
});
const server = await startDashboardServer({ host: config.DASHBOARD_HOST, port: config.DASHBOARD_PORT, log, api, assets, token: config.DASHBOARD_TOKEN, requestSeconds });
shutdown.add('dashboard-http', server.close);
svc.setReady('http', true);
log.info({ url: `http://${config.DASHBOARD_HOST}:${server.port}/`, predictorWs: config.PREDICTOR_WS_URL, auth: Boolean(config.DASHBOARD_TOKEN) }, 'dashboard listening');
