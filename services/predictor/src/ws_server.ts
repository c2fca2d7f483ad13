import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  parseWsClientMessage,
  WS_CLOSE,
  WS_MAX_FRAME_BYTES,
  WS_PROTOCOL_VERSION,
  type PricePrediction,
  type WsServerMessage,
} from '@stock-mlops/contracts';
import type { Logger } from '@stock-mlops/platform';
import type { PredictorCore } from './core.ts';

export interface WsOptions {
  host: string;
  port: number;
  path: string;
  log: Logger;
  core: PredictorCore;
  heartbeatMs: number;
  /** A client whose unsent bytes exceed this is closed (slow consumer). */
  maxBufferedBytes: number;
  token?: string | undefined;
  allowedOrigins?: string[] | undefined;
}

interface Client {
  ws: WebSocket;
  all: boolean;
  symbols: Set<string>;
  errors: number;
}

export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7);
  const url = new URL(req.url ?? '/', 'http://x');
  return url.searchParams.get('token') ?? undefined;
}

/**
 * WebSocket live stream: subscribe/unsubscribe per symbol or to all ("*"), a snapshot of the
 * latest prediction on subscribe, heartbeats, error frames for bad requests, and a cap on each
 * client's send buffer (slow readers are closed with 4008 instead of growing server memory).
 */
export async function startWsServer(opts: WsOptions): Promise<{ port: number; clients: () => number; close: () => Promise<void> }> {
  const http = createServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('upgrade to websocket'));
  const wss = new WebSocketServer({
    server: http,
    path: opts.path,
    perMessageDeflate: false,
    maxPayload: WS_MAX_FRAME_BYTES,
    verifyClient: (info, done) => {
      if (opts.allowedOrigins?.length && !opts.allowedOrigins.includes(info.origin)) return done(false, 403, 'origin not allowed');
      if (opts.token) {
        const t = bearer(info.req);
        if (!t || !constantTimeEqual(t, opts.token)) return done(false, 401, 'unauthorized');
      }
      done(true);
    },
  });
  const clients = new Set<Client>();
  const send = (c: Client, msg: WsServerMessage): void => {
    if (c.ws.readyState !== c.ws.OPEN) return;
    if (c.ws.bufferedAmount > opts.maxBufferedBytes) {
      opts.log.warn({ buffered: c.ws.bufferedAmount }, 'closing slow websocket client');
      c.ws.close(WS_CLOSE.slowConsumer, 'slow consumer: send buffer limit exceeded');
      c.ws.terminate();
      clients.delete(c);
      return;
    }
    c.ws.send(JSON.stringify(msg));
  };

  wss.on('connection', (ws) => {
    const c: Client = { ws, all: false, symbols: new Set(), errors: 0 };
    clients.add(c);
    send(c, { type: 'welcome', protocol: WS_PROTOCOL_VERSION, heartbeatMs: opts.heartbeatMs });
    ws.on('message', (data, isBinary) => {
      const fail = (code: string, message: string, id?: string) => {
        c.errors++;
        send(c, { type: 'error', code, message, ...(id ? { id } : {}) });
        if (c.errors > 100) ws.close(WS_CLOSE.tooManyErrors, 'too many bad requests');
      };
      if (isBinary) return fail('E_BINARY', 'binary frames are not supported; send JSON text');
      const r = parseWsClientMessage(data.toString());
      if (!r.ok) return fail(r.code, r.message);
      const m = r.msg;
      if (m.op === 'ping') return send(c, { type: 'pong', ...(m.id ? { id: m.id } : {}) });
      if (m.op === 'subscribe') {
        for (const s of m.symbols) {
          if (s === '*') c.all = true;
          else c.symbols.add(s);
        }
        send(c, { type: 'subscribed', symbols: m.symbols, ...(m.id ? { id: m.id } : {}) });
        const snap = m.symbols.includes('*') ? [...opts.core.latest.keys()] : m.symbols;
        for (const s of snap) send(c, { type: 'snapshot', symbol: s, prediction: opts.core.latest.get(s) ?? null });
        return;
      }
      for (const s of m.symbols) {
        if (s === '*') c.all = false;
        else c.symbols.delete(s);
      }
      send(c, { type: 'unsubscribed', symbols: m.symbols, ...(m.id ? { id: m.id } : {}) });
    });
    ws.on('close', () => clients.delete(c));
    ws.on('error', () => clients.delete(c));
  });

  const unsubscribe = opts.core.subscribe((p: PricePrediction) => {
    const frame: WsServerMessage = { type: 'prediction', data: p };
    for (const c of clients) if (c.all || c.symbols.has(p.symbol)) send(c, frame);
  });
  const hb = setInterval(() => {
    const frame: WsServerMessage = { type: 'heartbeat', ts: new Date().toISOString() };
    for (const c of clients) send(c, frame);
  }, opts.heartbeatMs);
  hb.unref();

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (http.address() as AddressInfo).port,
    clients: () => clients.size,
    close: async () => {
      clearInterval(hb);
      unsubscribe();
      for (const c of clients) c.ws.close(WS_CLOSE.goingAway, 'server shutting down');
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
