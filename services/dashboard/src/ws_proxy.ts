import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { WS_CLOSE, WS_MAX_FRAME_BYTES } from '@stock-mlops/contracts';
import { sameSecret, type Logger } from '@stock-mlops/platform';

/**
 * The predictor's live stream on the dashboard's own origin: a browser that reaches the page
 * (through a forwarded port, a tunnel or another host) reaches `/ws` the same way, whereas the
 * predictor's own port is often not reachable from it. Each client connection gets its own
 * upstream connection to `PREDICTOR_WS_URL`, opened first: the client's handshake is answered
 * only once the predictor has accepted (else 502, or 503 when the predictor is full), frames are
 * piped both ways unchanged, and either side closing closes the other. A client whose unsent
 * data exceeds `maxBufferedBytes` is closed with 4008 like the predictor does, and so is its
 * upstream. With `token` (DASHBOARD_TOKEN) set, the client must present it (bearer header, or
 * `?token=` from a browser); the predictor's token stays on the server.
 */
export interface WsProxyOptions {
  /** Path the proxy answers on, e.g. '/ws'. */
  path: string;
  /** The predictor's stream as this server reaches it. */
  upstreamUrl: string;
  /** Sent to the predictor as a bearer token (PREDICTOR_WS_TOKEN). */
  upstreamToken?: string | undefined;
  /** Required from clients (DASHBOARD_TOKEN). */
  token?: string | undefined;
  maxBufferedBytes: number;
  /** How long the predictor may take to accept (default 10 s). */
  connectTimeoutMs?: number;
  /** Clients and upstreams that do not answer a ping within this interval are dropped (default 30 s). */
  pingIntervalMs?: number;
  /** A side that does not take its close frame within this time is cut off (default 5 s). */
  closeGraceMs?: number;
  log: Logger;
}

export interface WsProxy {
  /** Client connections currently piped. */
  clients(): number;
  close(): Promise<void>;
}

interface Pair {
  client: WebSocket;
  upstream: WebSocket;
  alive: boolean;
}

/** Close codes a peer may send; the reserved ones (1005, 1006, 1015) become 1011. */
const sendableCode = (code: number): number => (code === 1000 || (code >= 1001 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999) ? code : 1011);

function reject(socket: Duplex, status: number, text: string): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

function clientToken(req: IncomingMessage, url: URL): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7);
  return url.searchParams.get('token') ?? undefined;
}

/** Answers WebSocket upgrades on `opts.path` of `server`; any other upgrade gets 404. */
export function attachWsProxy(server: Server, opts: WsProxyOptions): WsProxy {
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: WS_MAX_FRAME_BYTES, clientTracking: false });
  const pairs = new Set<Pair>();
  const log = opts.log.child({ component: 'ws-proxy' });

  const closeBoth = (p: Pair, code: number, reason: string): void => {
    if (!pairs.delete(p)) return; // already closing
    for (const ws of [p.client, p.upstream]) {
      if (ws.readyState === WebSocket.OPEN) ws.close(sendableCode(code), reason.slice(0, 120));
      else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    }
    // A peer that does not take the close is cut off.
    setTimeout(() => {
      p.client.terminate();
      p.upstream.terminate();
    }, opts.closeGraceMs ?? 5_000).unref();
  };

  const pipe = (p: Pair): void => {
    const { client, upstream } = p;
    pairs.add(p);
    upstream.on('message', (data: RawData, isBinary: boolean) => {
      if (client.readyState !== WebSocket.OPEN) return;
      if (client.bufferedAmount > opts.maxBufferedBytes) {
        log.warn({ buffered: client.bufferedAmount, limit: opts.maxBufferedBytes }, 'closing slow websocket client');
        closeBoth(p, WS_CLOSE.slowConsumer, 'slow consumer: send buffer limit exceeded');
        return;
      }
      client.send(data, { binary: isBinary });
    });
    client.on('message', (data: RawData, isBinary: boolean) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
    });
    client.on('pong', () => (p.alive = true));
    upstream.on('close', (code, reason) => closeBoth(p, code, reason.toString() || 'upstream closed'));
    client.on('close', (code, reason) => closeBoth(p, code, reason.toString()));
    // Errors end in 'close' (handled above); without listeners they would be thrown.
    client.on('error', (err) => log.debug({ err: err.message }, 'client websocket error'));
    upstream.on('error', (err) => log.warn({ err: err.message }, 'upstream websocket error'));
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard');
    } catch {
      return reject(socket, 400, 'Bad Request');
    }
    if (url.pathname !== opts.path) return reject(socket, 404, 'Not Found');
    if (opts.token) {
      const t = clientToken(req, url);
      if (!t || !sameSecret(t, opts.token)) return reject(socket, 401, 'Unauthorized');
    }
    const upstream = new WebSocket(opts.upstreamUrl, {
      perMessageDeflate: false,
      handshakeTimeout: connectTimeoutMs,
      headers: opts.upstreamToken ? { authorization: `Bearer ${opts.upstreamToken}` } : {},
    });
    let failed = false;
    const fail = (status: number, text: string, detail: Record<string, unknown>): void => {
      if (failed) return;
      failed = true;
      log.warn({ upstream: opts.upstreamUrl, status, ...detail }, 'predictor stream unreachable: websocket client refused');
      upstream.terminate();
      reject(socket, status, text);
    };
    upstream.once('unexpected-response', (_req, res) => {
      res.resume();
      fail(res.statusCode === 503 ? 503 : 502, res.statusCode === 503 ? 'Service Unavailable' : 'Bad Gateway', { upstreamStatus: res.statusCode });
    });
    upstream.once('error', (err) => {
      if (upstream.readyState !== WebSocket.OPEN) fail(502, 'Bad Gateway', { err: err.message });
    });
    socket.once('close', () => {
      if (upstream.readyState !== WebSocket.CONNECTING) return;
      failed = true; // the client left first: nothing to answer
      upstream.terminate();
    });
    upstream.once('open', () => {
      if (socket.destroyed) {
        upstream.close(WS_CLOSE.goingAway, 'client went away');
        return;
      }
      // Synchronous: no upstream frame is emitted before `pipe` listens.
      wss.handleUpgrade(req, socket, head, (client) => pipe({ client, upstream, alive: true }));
    });
  };
  server.on('upgrade', onUpgrade);

  const ping = setInterval(() => {
    for (const p of pairs) {
      if (!p.alive) {
        log.debug('dropping a websocket client that missed a pong');
        pairs.delete(p);
        p.client.terminate();
        p.upstream.terminate();
        continue;
      }
      p.alive = false;
      if (p.client.readyState === WebSocket.OPEN) p.client.ping();
    }
  }, opts.pingIntervalMs ?? 30_000);
  ping.unref();

  return {
    clients: () => pairs.size,
    close: async () => {
      clearInterval(ping);
      server.off('upgrade', onUpgrade);
      const closing = [...pairs];
      for (const p of closing) closeBoth(p, WS_CLOSE.goingAway, 'server shutting down');
      const closed = (ws: WebSocket) => ws.readyState === WebSocket.CLOSED;
      const deadline = Date.now() + 2_000;
      while (closing.some((p) => !closed(p.client) || !closed(p.upstream)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const p of closing) {
        p.client.terminate();
        p.upstream.terminate();
      }
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
