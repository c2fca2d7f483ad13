import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  parseWsClientMessage,
  WS_CLOSE,
  WS_ERROR,
  WS_MAX_FRAME_BYTES,
  WS_MAX_SUBSCRIPTIONS,
  WS_PROTOCOL_VERSION,
  type PricePrediction,
  type WsServerMessage,
} from '@stock-mlops/contracts';
import type { Logger } from '@stock-mlops/platform';
import type { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { constantTimeEqual } from './grpc_util.ts';

export { constantTimeEqual };

export interface WsOptions {
  host: string;
  port: number;
  path: string;
  log: Logger;
  core: Pick<PredictorCore, 'latest' | 'subscribe'>;
  heartbeatMs: number;
  /** A client whose unsent bytes exceed this is closed (slow consumer). */
  maxBufferedBytes: number;
  /** Connections beyond this are refused (HTTP 503). */
  maxClients?: number;
  /** How long a slow client gets to take its close frame before the socket is destroyed. */
  closeGraceMs?: number;
  token?: string | undefined;
  allowedOrigins?: string[] | undefined;
}

export interface WsStats {
  clients: number;
  slowClosed: number;
  frames: number;
}

export interface WsHandle {
  port: number;
  clients: () => number;
  stats: () => WsStats;
  close: () => Promise<void>;
}

interface Client {
  ws: WebSocket;
  all: boolean;
  symbols: Set<string>;
  errors: number;
  alive: boolean;
  closing: boolean;
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7);
  // Browsers cannot set headers on a WebSocket: they pass the token as a query parameter.
  const url = new URL(req.url ?? '/', 'http://x');
  return url.searchParams.get('token') ?? undefined;
}

/**
 * WebSocket live stream (protocol in packages/contracts/src/ws.ts): subscribe/unsubscribe per
 * symbol or to all ("*"), a snapshot of the latest prediction on subscribe, heartbeats (a
 * `heartbeat` frame plus a WebSocket ping; peers that miss a pong are dropped), error frames for
 * bad requests, and a cap on each client's send buffer: a slow reader is closed with 4008 and
 * gets no more frames, so it cannot grow the server's memory. Each prediction is serialized once
 * and sent only to its subscribers (an index by symbol, not a scan of all clients).
 */
export async function startWsServer(opts: WsOptions): Promise<WsHandle> {
  const maxClients = opts.maxClients ?? 10_000;
  const closeGraceMs = opts.closeGraceMs ?? 5_000;
  const clients = new Set<Client>();
  const bySymbol = new Map<string, Set<Client>>();
  const all = new Set<Client>();
  let slowClosed = 0;
  let frames = 0;

  const http = createServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('upgrade to websocket'));
  const wss = new WebSocketServer({
    server: http,
    path: opts.path,
    perMessageDeflate: false,
    maxPayload: WS_MAX_FRAME_BYTES,
    clientTracking: false,
    verifyClient: (info, done) => {
      if (opts.allowedOrigins?.length && !opts.allowedOrigins.includes(info.origin)) return done(false, 403, 'origin not allowed');
      if (opts.token) {
        const t = bearer(info.req);
        if (!t || !constantTimeEqual(t, opts.token)) return done(false, 401, 'unauthorized');
      }
      if (clients.size >= maxClients) return done(false, 503, 'too many clients');
      done(true);
    },
  });

  const forget = (c: Client): void => {
    clients.delete(c);
    all.delete(c);
    for (const s of c.symbols) {
      const set = bySymbol.get(s);
      set?.delete(c);
      if (set?.size === 0) bySymbol.delete(s);
    }
    c.symbols.clear();
  };

  /** Send a serialized frame; a client over its buffer cap is closed instead. */
  const sendRaw = (c: Client, frame: string): void => {
    if (c.closing || c.ws.readyState !== c.ws.OPEN) return;
    if (c.ws.bufferedAmount > opts.maxBufferedBytes) {
      c.closing = true;
      slowClosed++;
      opts.log.warn({ buffered: c.ws.bufferedAmount, limit: opts.maxBufferedBytes }, 'closing slow websocket client');
      forget(c);
      c.ws.close(WS_CLOSE.slowConsumer, 'slow consumer: send buffer limit exceeded');
      setTimeout(() => c.ws.terminate(), closeGraceMs).unref();
      return;
    }
    frames++;
    c.ws.send(frame);
  };
  const send = (c: Client, msg: WsServerMessage): void => sendRaw(c, JSON.stringify(msg));

  wss.on('connection', (ws) => {
    const c: Client = { ws, all: false, symbols: new Set(), errors: 0, alive: true, closing: false };
    clients.add(c);
    send(c, { type: 'welcome', protocol: WS_PROTOCOL_VERSION, heartbeatMs: opts.heartbeatMs });
    ws.on('pong', () => (c.alive = true));
    ws.on('message', (data, isBinary) => {
      const fail = (code: string, message: string, id?: string) => {
        c.errors++;
        send(c, { type: 'error', code, message, ...(id ? { id } : {}) });
        if (c.errors > 100) ws.close(WS_CLOSE.tooManyErrors, 'too many bad requests');
      };
      if (isBinary) return fail(WS_ERROR.binary, 'binary frames are not supported; send JSON text');
      const r = parseWsClientMessage(data.toString());
      if (!r.ok) return fail(r.code, r.message, r.id);
      const m = r.msg;
      const id = m.id ? { id: m.id } : {};
      if (m.op === 'ping') return send(c, { type: 'pong', ...id });
      if (m.op === 'subscribe') {
        const fresh = m.symbols.filter((s) => s !== '*' && !c.symbols.has(s));
        if (c.symbols.size + fresh.length > WS_MAX_SUBSCRIPTIONS) {
          return fail(WS_ERROR.tooManySubscriptions, `at most ${WS_MAX_SUBSCRIPTIONS} symbols per connection (use "*" for all)`, m.id);
        }
        for (const s of m.symbols) {
          if (s === '*') {
            c.all = true;
            all.add(c);
          } else {
            c.symbols.add(s);
            let set = bySymbol.get(s);
            if (!set) bySymbol.set(s, (set = new Set()));
            set.add(c);
          }
        }
        send(c, { type: 'subscribed', symbols: m.symbols, ...id });
        const snap = m.symbols.includes('*') ? [...opts.core.latest.keys()] : m.symbols;
        for (const s of snap) send(c, { type: 'snapshot', symbol: s, prediction: opts.core.latest.get(s) ?? null });
        return;
      }
      for (const s of m.symbols) {
        if (s === '*') {
          c.all = false;
          all.delete(c);
        } else {
          c.symbols.delete(s);
          bySymbol.get(s)?.delete(c);
        }
      }
      send(c, { type: 'unsubscribed', symbols: m.symbols, ...id });
    });
    ws.on('close', () => forget(c));
    ws.on('error', () => forget(c));
  });

  const unsubscribe = opts.core.subscribe((p: PricePrediction) => {
    const targets = bySymbol.get(p.symbol);
    if (all.size === 0 && !targets) return;
    const frame = JSON.stringify({ type: 'prediction', data: p } satisfies WsServerMessage);
    for (const c of all) sendRaw(c, frame);
    if (targets) for (const c of targets) if (!c.all) sendRaw(c, frame);
  });
  const hb = setInterval(() => {
    const frame = JSON.stringify({ type: 'heartbeat', ts: new Date().toISOString() } satisfies WsServerMessage);
    for (const c of clients) {
      if (!c.alive) {
        forget(c);
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
      sendRaw(c, frame);
    }
  }, opts.heartbeatMs);
  hb.unref();

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (http.address() as AddressInfo).port,
    clients: () => clients.size,
    stats: () => ({ clients: clients.size, slowClosed, frames }),
    close: async () => {
      clearInterval(hb);
      unsubscribe();
      for (const c of clients) c.ws.close(WS_CLOSE.goingAway, 'server shutting down');
      const t = setTimeout(() => {
        for (const c of clients) c.ws.terminate();
      }, 2_000);
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
      clearTimeout(t);
    },
  };
}
