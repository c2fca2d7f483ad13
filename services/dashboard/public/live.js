// Client of the predictor's WebSocket stream (packages/contracts/src/ws.ts, protocol 1), by
// default through the dashboard's same-origin proxy (/ws):
// subscribes to every symbol, reports predictions and snapshots, watches heartbeats and
// reconnects with capped exponential backoff plus jitter.

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;

export class LiveStream {
  /**
   * @param {string} url   ws:// or wss:// URL of the stream (the dashboard's /ws, or the predictor's)
   * @param {{ onStatus?: (s: {state: string, attempt: number, retryAt?: number, error?: string}) => void,
   *           onPrediction?: (p: object) => void, onSnapshot?: (symbol: string, p: object|null) => void }} handlers
   */
  constructor(url, handlers = {}) {
    this.url = url;
    this.handlers = handlers;
    this.attempt = 0;
    this.ws = undefined;
    this.retryTimer = undefined;
    this.watchdog = undefined;
    this.heartbeatMs = 15_000;
    this.lastFrameAt = 0;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    this.ws?.close(1000, 'page closed');
  }

  status(state, extra = {}) {
    this.handlers.onStatus?.({ state, attempt: this.attempt, ...extra });
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.status('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.scheduleReconnect(String(err?.message ?? err));
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.lastFrameAt = Date.now();
      ws.send(JSON.stringify({ op: 'subscribe', symbols: ['*'], id: 'dashboard' }));
    });
    ws.addEventListener('message', (ev) => this.onFrame(ev.data));
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return;
      clearInterval(this.watchdog);
      this.ws = undefined;
      if (!this.stopped) this.scheduleReconnect(ev.code === 1000 || ev.code === 1005 ? undefined : `closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`);
    });
  }

  onFrame(raw) {
    this.lastFrameAt = Date.now();
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    switch (msg.type) {
      case 'welcome':
        this.heartbeatMs = Number(msg.heartbeatMs) || this.heartbeatMs;
        this.startWatchdog();
        break;
      case 'subscribed':
        this.attempt = 0;
        this.status('open');
        break;
      case 'snapshot':
        this.handlers.onSnapshot?.(msg.symbol, msg.prediction ?? null);
        break;
      case 'prediction':
        this.handlers.onPrediction?.(msg.data);
        break;
      case 'error':
        console.warn('stream error frame', msg.code, msg.message);
        break;
      default:
        break;
    }
  }

  /** A connection that goes silent for 2.5 heartbeats is dead even if TCP has not noticed. */
  startWatchdog() {
    clearInterval(this.watchdog);
    const limit = this.heartbeatMs * 2.5;
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastFrameAt > limit) this.ws?.close(4000, 'heartbeat timeout');
    }, Math.min(5_000, this.heartbeatMs));
  }

  scheduleReconnect(error) {
    this.attempt += 1;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.attempt - 1));
    const delay = Math.round(base * (0.5 + Math.random() / 2));
    this.status('reconnecting', { retryAt: Date.now() + delay, ...(error ? { error } : {}) });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}

/**
 * The stream URL from /api/config. A path (the default, `/ws`) is the dashboard's own proxy on
 * this page's origin, authorised with the dashboard token when there is one; a full URL is the
 * predictor itself (`{host}` = the host the page was loaded from) with the predictor's token.
 */
export function resolveStreamUrl(config, dashboardToken) {
  if (config.wsUrl.startsWith('/')) {
    const url = new URL(config.wsUrl, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    if (dashboardToken) url.searchParams.set('token', dashboardToken);
    return url.toString();
  }
  const url = new URL(config.wsUrl.replaceAll('{host}', location.hostname));
  if (config.wsToken) url.searchParams.set('token', config.wsToken);
  return url.toString();
}
