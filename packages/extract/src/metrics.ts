import client from 'prom-client';
import type { HttpEvent } from './http.ts';

/** The extractor's own metrics, registered next to the platform's common ones. */
export function createExtractorMetrics(registry: client.Registry) {
  const fetches = new client.Counter({
    name: 'stockmlops_extract_fetches_total',
    help: 'Scheduled fetches per provider, by outcome (ok, empty, error, rescheduled) and error code',
    labelNames: ['provider', 'outcome', 'code'] as const,
    registers: [registry],
  });
  const httpRequests = new client.Counter({
    name: 'stockmlops_extract_http_requests_total',
    help: 'HTTP attempts per provider, by outcome (ok, retry, error) and error code or status',
    labelNames: ['provider', 'outcome', 'code'] as const,
    registers: [registry],
  });
  const events = new client.Counter({
    name: 'stockmlops_extract_events_total',
    help: 'Raw events per provider and topic: published, or skipped because already on the topic',
    labelNames: ['provider', 'topic', 'outcome'] as const,
    registers: [registry],
  });
  const recoveries = new client.Counter({
    name: 'stockmlops_extract_recovered_events_total',
    help: 'Events found on a raw topic beyond the saved cursor after a crash or failed publish',
    labelNames: ['provider'] as const,
    registers: [registry],
  });
  const lastSuccess = new client.Gauge({
    name: 'stockmlops_extract_last_success_timestamp_seconds',
    help: 'When a fetch for (provider, symbol) last succeeded',
    labelNames: ['provider', 'symbol'] as const,
    registers: [registry],
  });
  return {
    fetches,
    httpRequests,
    events,
    recoveries,
    lastSuccess,
    onHttpEvent(e: HttpEvent): void {
      httpRequests.inc({ provider: e.provider, outcome: e.outcome, code: e.code ?? (e.status !== undefined ? String(e.status) : '') });
    },
  };
}
export type ExtractorMetrics = ReturnType<typeof createExtractorMetrics>;
