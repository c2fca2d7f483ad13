import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Histogram } from 'prom-client';
import { sameSecret, type Logger } from '@stock-mlops/platform';
import { API_PATHS, ApiError, type ApiResult } from './api.ts';
import { readJsonBody } from './request_body.ts';
import { attachWsProxy, type WsProxyOptions } from './ws_proxy.ts';

/**
 * The dashboard's HTTP server: the static page (an allow-list of files read at start, so no
 * request path ever reaches the file system), the charting library from node_modules, the
 * JSON API behind an optional bearer token (GET and HEAD, and POST on the `post` routes only: a
 * JSON body, request_body.ts), and, when `wsProxy` is given,
 * the predictor's WebSocket stream on the same origin (ws_proxy.ts, same token).
 */
export interface StaticAsset {
  body: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

export interface DashboardServerOptions {
  host: string;
  port: number;
  log: Logger;
  api: (path: string, params: URLSearchParams) => Promise<ApiResult>;
  /** The API paths that take a POST (and only a POST), each with its handler of the JSON body. */
  post?: Record<string, (body: unknown) => Promise<ApiResult>>;
  assets: Map<string, StaticAsset>;
  token?: string | undefined;
  requestSeconds?: Histogram<'route' | 'status'>;
  /** Proxy WebSocket upgrades on this path to the predictor's stream (the token above applies). */
  wsProxy?: Omit<WsProxyOptions, 'log' | 'token'> | undefined;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

const SECURITY_HEADERS = {
  // The chart library injects one <style> element, hence 'unsafe-inline' for styles only.
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function asset(body: Buffer, file: string, cacheControl: string): StaticAsset {
  const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
  return { body, type, cacheControl, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/** Every file under `publicDir` by URL path (`/index.html` also as `/`), plus extra named files. */
export function loadAssets(publicDir: string, extra: Record<string, string> = {}): Map<string, StaticAsset> {
  const out = new Map<string, StaticAsset>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(`/${path.relative(publicDir, p).split(path.sep).join('/')}`, asset(readFileSync(p), p, 'no-cache'));
    }
  };
  walk(publicDir);
  const index = out.get('/index.html');
  if (!index) throw new Error(`${publicDir} has no index.html`);
  out.set('/', index);
  for (const [urlPath, file] of Object.entries(extra)) out.set(urlPath, asset(readFileSync(file), file, 'public, max-age=86400'));
  return out;
}

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...SECURITY_HEADERS });
  res.end(head ? undefined : text);
}

export async function startDashboardServer(opts: DashboardServerOptions): Promise<{ port: number; streamClients: () => number; close: () => Promise<void> }> {
  const { log, assets } = opts;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const head = req.method === 'HEAD';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard');
    } catch {
      sendJson(res, 400, { error: { code: 'E_BAD_REQUEST', message: 'malformed request URL' } }, head);
      return 'invalid';
    }
    const isApi = url.pathname === '/api' || url.pathname.startsWith('/api/');
    const post = isApi && opts.post && Object.hasOwn(opts.post, url.pathname) ? opts.post[url.pathname] : undefined;
    const route = !isApi ? 'static' : post || (API_PATHS as string[]).includes(url.pathname) ? url.pathname : 'api_unknown';
    if (post ? req.method !== 'POST' : req.method !== 'GET' && !head) {
      res.setHeader('allow', post ? 'POST' : 'GET, HEAD');
      const message = post ? `${url.pathname} takes POST only` : 'the dashboard is read-only here: GET and HEAD only';
      sendJson(res, 405, { error: { code: 'E_METHOD_NOT_ALLOWED', message } }, head);
      return route;
    }
    if (!isApi) {
      const a = assets.get(url.pathname);
      if (!a) {
        sendJson(res, 404, { error: { code: 'E_NOT_FOUND', message: 'not found' } }, head);
        return 'not_found';
      }
      if (req.headers['if-none-match'] === a.etag) {
        res.writeHead(304, { etag: a.etag, 'cache-control': a.cacheControl }).end();
        return route;
      }
      res.writeHead(200, { 'content-type': a.type, 'content-length': a.body.length, etag: a.etag, 'cache-control': a.cacheControl, ...SECURITY_HEADERS });
      res.end(head ? undefined : a.body);
      return route;
    }
    if (opts.token) {
      const h = req.headers.authorization;
      if (!h?.startsWith('Bearer ') || !sameSecret(h.slice(7), opts.token)) {
        res.setHeader('www-authenticate', 'Bearer realm="stock-mlops dashboard"');
        sendJson(res, 401, { error: { code: 'E_UNAUTHORIZED', message: 'missing or wrong bearer token' } }, head);
        return route;
      }
    }
    try {
      const r = post ? await post(await readJsonBody(req)) : await opts.api(url.pathname, url.searchParams);
      sendJson(res, r.status, r.body, head);
      return route;
    } catch (err) {
      if (err instanceof ApiError) {
        sendJson(res, err.status, { error: { code: err.code, message: err.message } }, head);
        return route;
      }
      const unavailable = /Mongo(ServerSelection|Network|TopologyClosed|PoolCleared)/.test((err as Error)?.name ?? '');
      log.error({ err, path: url.pathname }, 'dashboard API request failed');
      sendJson(
        res,
        unavailable ? 503 : 500,
        { error: unavailable ? { code: 'E_UNAVAILABLE', message: 'the database is unavailable; retry later' } : { code: 'E_INTERNAL', message: 'internal error' } },
        head,
      );
      return route;
    }
  }

  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    handle(req, res)
      .then((route) => opts.requestSeconds?.observe({ route, status: String(res.statusCode) }, Number(process.hrtime.bigint() - started) / 1e9))
      .catch((err) => {
        log.error({ err }, 'dashboard request crashed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });
  server.keepAliveTimeout = 5_000;
  const proxy = opts.wsProxy ? attachWsProxy(server, { ...opts.wsProxy, token: opts.token, log }) : undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    streamClients: () => proxy?.clients() ?? 0,
    close: async () => {
      await proxy?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
