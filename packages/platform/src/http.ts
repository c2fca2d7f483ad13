import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { bearerMatches } from './secrets.ts';

export type ReadinessCheck = () => { ready: boolean; detail?: Record<string, unknown> };

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  readiness: ReadinessCheck;
  /** When set, `/metrics` (and the extra routes) need `Authorization: Bearer <token>`; the probes stay open. */
  token?: string;
  /** Extra routes, e.g. the dashboard; return true when handled. */
  extra?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
}

/**
 * HTTP `/healthz` (process alive), `/readyz` (dependencies ready) and `/metrics` (Prometheus).
 * With a token, everything but the two probes answers 401 without `Authorization: Bearer <token>`.
 */
export async function startOpsServer(opts: OpsServerOptions): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (url === '/readyz') {
      const r = opts.readiness();
      res
        .writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: r.ready ? 'ready' : 'not_ready', ...(r.detail ?? {}) }));
      return;
    }
    if (opts.token !== undefined && !bearerMatches(opts.token, req.headers.authorization)) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' }).end('{"error":"unauthenticated"}');
      return;
    }
    if (url === '/metrics') {
      const body = await opts.registry.metrics();
      res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body);
      return;
    }
    if (opts.extra && (await opts.extra(req, res))) return;
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
