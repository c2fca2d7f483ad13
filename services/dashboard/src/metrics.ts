import client from 'prom-client';

/** The dashboard's own metrics, registered next to the platform's common ones. */
export function createDashboardMetrics(registry: client.Registry) {
  const requestSeconds = new client.Histogram({
    name: 'stockmlops_dashboard_request_seconds',
    help: 'Dashboard HTTP request latency, by route and status',
    labelNames: ['route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  return {
    requestSeconds,
    /** The stream-clients gauge, read from the server at each scrape. */
    countStreamClients(streamClients: () => number): void {
      new client.Gauge({
        name: 'stockmlops_dashboard_stream_clients',
        help: 'WebSocket clients piped to the predictor through the dashboard (/ws)',
        registers: [registry],
        collect() {
          this.set(streamClients());
        },
      });
    },
  };
}
