/** Test support: a WebSocket client that keeps every JSON frame it receives and waits for one matching a predicate. */
import WebSocket from 'ws';

export type Frame = Record<string, unknown> & { type: string };

export interface WsTestClient {
  ws: WebSocket;
  frames: Frame[];
  /** The first received frame matching `pred` (already received or arriving within `ms`). */
  next: (pred: (f: Frame) => boolean, ms?: number) => Promise<Frame>;
  /** Resolves with the close code and reason once the connection is closed. */
  closed: Promise<{ code: number; reason: string }>;
}

/** Connect (rejects on a refused handshake with `status` = the HTTP answer). Non-JSON frames are kept as `{type: 'non-json'}`. */
export function connectWs(url: string, opts: WebSocket.ClientOptions = {}): Promise<WsTestClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...opts });
    const frames: Frame[] = [];
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('message', (d) => {
      try {
        frames.push(JSON.parse(d.toString()) as Frame);
      } catch {
        frames.push({ type: 'non-json', raw: d.toString().slice(0, 200) });
      }
    });
    ws.once('open', () =>
      resolve({
        ws,
        frames,
        closed,
        next: async (pred, ms = 5_000) => {
          const end = Date.now() + ms;
          for (;;) {
            const f = frames.find(pred);
            if (f) return f;
            if (Date.now() > end) throw new Error(`no matching frame within ${ms} ms (got ${frames.map((x) => x.type).join(',')})`);
            await new Promise((r) => setTimeout(r, 10));
          }
        },
      }),
    );
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
  });
}
