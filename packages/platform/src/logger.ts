import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths that may carry secrets; pino replaces them before a line is written. */
export const REDACT_PATHS = [
  'apiKey',
  'token',
  'authorization',
  'password',
  'secret',
  '*.apiKey',
  '*.token',
  '*.authorization',
  '*.password',
  '*.secret',
  'headers.authorization',
  'req.headers.authorization',
];

export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '***' },
    formatters: { level: (label) => ({ level: label }) },
  });
}

/**
 * A frequent event (dropped work, say) logged at most once per `everyMs`: the first occurrence is
 * emitted at once; later ones are summed per key and emitted together when the interval is up (by
 * the next `add`, or by an unref'd timer, or by `flush` at shutdown), with the latest detail.
 */
export class LogThrottle<K extends string> {
  private counts = new Map<K, number>();
  private detail: Record<string, unknown> = {};
  private last = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly everyMs: number,
    private readonly emit: (counts: Partial<Record<K, number>>, detail: Record<string, unknown>) => void,
    private readonly now: () => number = Date.now,
  ) {}

  add(key: K, n: number, detail: Record<string, unknown> = {}): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
    this.detail = { ...this.detail, ...detail };
    const wait = this.last + this.everyMs - this.now();
    if (wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait).unref();
  }

  /** Emit what is pending now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.counts.size === 0) return;
    const counts = Object.fromEntries(this.counts) as Partial<Record<K, number>>;
    const detail = this.detail;
    this.counts = new Map();
    this.detail = {};
    this.last = this.now();
    this.emit(counts, detail);
  }
}
