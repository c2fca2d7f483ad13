import { ExtractError, HttpError, redact, type ExtractErrorCode } from './errors.ts';
import { resolveRuntime, type Runtime } from './runtime.ts';

/**
 * The HTTP client every HTTP provider uses: a token-bucket rate limit, a timeout on every attempt,
 * retries with exponential backoff and full jitter on 429, 5xx, timeouts and socket errors,
 * Retry-After honoured up to a cap, bounded body size, and errors that name provider, symbol and
 * what went wrong, with credentials redacted.
 *
 * | option            | default  | meaning                                                             |
 * |-------------------|----------|---------------------------------------------------------------------|
 * | timeoutMs         | 15000    | per attempt, headers and body included (AbortSignal.timeout)        |
 * | retry.maxAttempts | 4        | attempts in total, first one included                               |
 * | retry.baseDelayMs | 250      | backoff before retry n is random() × min(maxDelayMs, base × 2^(n-1)) |
 * | retry.maxDelayMs  | 20000    | cap of the backoff window                                           |
 * | retry.maxRetryAfterMs | 60000 | a Retry-After up to this is waited for; a longer one ends the call with E_RATE_LIMITED/E_HTTP_STATUS and `retryAfterMs` set, so the scheduler can come back later instead of blocking |
 * | retry.retryBadBody | false   | retry when a 200 body does not parse (E_BAD_BODY)                   |
 * | rateLimit         | none     | `{capacity, refillPerSec}` or a shared `TokenBucket`                |
 * | maxBodyBytes      | 64 MiB   | larger bodies fail with E_TOO_LARGE                                 |
 * | secrets           | []       | literal values (API keys sent in headers) to redact from messages   |
 * | onEvent           | none     | `({provider, outcome: 'ok'|'retry'|'error', status?, code?})` per attempt outcome, for metrics |
 */

export interface RateLimit {
  capacity: number;
  refillPerSec: number;
}

export interface TokenBucket {
  readonly capacity: number;
  /** Resolves when a token has been taken; waits (via the runtime's sleep) while the bucket is empty. */
  take(signal?: AbortSignal): Promise<void>;
}

export function createTokenBucket(limit: RateLimit, runtime: Partial<Runtime> = {}): TokenBucket {
  const { capacity, refillPerSec } = limit;
  if (!(capacity >= 1) || !(refillPerSec > 0)) {
    throw new ExtractError('E_CONFIG', `rate limit needs capacity >= 1 and refillPerSec > 0, got ${JSON.stringify(limit)}`);
  }
  const rt = resolveRuntime(runtime);
  let tokens = capacity;
  let last = rt.now();
  let queue: Promise<void> = Promise.resolve();

  async function acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = rt.now();
      tokens = Math.min(capacity, tokens + ((now - last) / 1000) * refillPerSec);
      last = now;
      if (tokens >= 1) {
        tokens -= 1;
        return;
      }
      await rt.sleep(Math.ceil(((1 - tokens) / refillPerSec) * 1000), signal);
    }
  }

  return {
    capacity,
    take(signal) {
      // Waiters are served in arrival order.
      const turn = queue.then(() => acquire(signal));
      queue = turn.catch(() => undefined);
      return turn;
    },
  };
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
  retryBadBody: boolean;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 60_000,
  retryBadBody: false,
};

export interface HttpEvent {
  provider: string;
  outcome: 'ok' | 'retry' | 'error';
  status?: number;
  code?: ExtractErrorCode;
  attempt: number;
  durationMs: number;
}

export interface HttpClientOptions {
  /** Provider name: in every error message and metrics event. */
  provider: string;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  rateLimit?: RateLimit | TokenBucket;
  /** Headers sent with every request (e.g. `user-agent`, an API key header). */
  headers?: Record<string, string>;
  secrets?: readonly string[];
  maxBodyBytes?: number;
  onEvent?: (event: HttpEvent) => void;
  fetch?: typeof globalThis.fetch;
  runtime?: Partial<Runtime>;
}

export interface RequestOptions {
  /** The symbol the request is for, named in errors. */
  symbol?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
}

export interface HttpClient {
  readonly provider: string;
  getText(url: string | URL, opts?: RequestOptions): Promise<HttpResponse>;
  /** GET and JSON.parse; a body that does not parse is E_BAD_BODY. */
  getJson(url: string | URL, opts?: RequestOptions): Promise<unknown>;
  /** Redact this client's secrets (and secret query parameters) from text. */
  redact(text: string): string;
}

const RETRIABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const SNIPPET_CHARS = 300;

/**
 * The three HTTP-date forms (RFC 9110 §5.6.7: IMF-fixdate, RFC 850, asctime). Anything else is
 * unreadable: `Date.parse` alone would read garbage such as "soon, maybe -5" as a date in 2001,
 * i.e. "retry now", and turn a 429 into a retry loop without backoff.
 */
const HTTP_DATE_RE =
  /^(?:[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT|[A-Za-z]{6,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT|[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})$/;

/** Retry-After as delta-seconds or an HTTP-date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!HTTP_DATE_RE.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Full-jitter exponential backoff before retry number `attempt` (1-based). */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const window = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * window);
}

interface Failure {
  code: ExtractErrorCode;
  retriable: boolean;
  detail: string;
  status?: number;
  retryAfterMs?: number;
  cause?: unknown;
}

type Outcome = { ok: true; res: HttpResponse } | ({ ok: false } & Failure);

function networkCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown; cause?: { code?: unknown } } };
  const code = e?.cause?.code ?? e?.code ?? e?.cause?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

function charsetOf(contentType: string | null): string {
  const m = /charset=["']?([\w.:-]+)/i.exec(contentType ?? '');
  return m?.[1] ?? 'utf-8';
}

async function readBody(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new ExtractError('E_TOO_LARGE', `body of ${declared} bytes exceeds the ${maxBytes}-byte limit`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new ExtractError('E_TOO_LARGE', `body exceeds the ${maxBytes}-byte limit`);
      }
      chunks.push(value);
    }
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charsetOf(res.headers.get('content-type')));
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  return decoder.decode(Buffer.concat(chunks));
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const provider = options.provider;
  if (!provider) throw new ExtractError('E_CONFIG', 'http client needs a provider name');
  const rt = resolveRuntime(options.runtime);
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  if (!(policy.maxAttempts >= 1)) throw new ExtractError('E_CONFIG', `${provider}: retry.maxAttempts must be >= 1`);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const secrets = (options.secrets ?? []).filter(Boolean);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const bucket =
    options.rateLimit === undefined
      ? undefined
      : 'take' in options.rateLimit
        ? options.rateLimit
        : createTokenBucket(options.rateLimit, rt);
  const scrub = (text: string) => redact(text, secrets);

  function emit(event: HttpEvent): void {
    try {
      options.onEvent?.(event);
    } catch {
      // A metrics hook must never break extraction.
    }
  }

  async function once(url: string, opts: RequestOptions, accept: string): Promise<Outcome> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      const res = await fetchImpl(url, {
        method: 'GET',
        headers: { accept, ...options.headers, ...opts.headers },
        signal,
        redirect: 'follow',
      });
      if (res.ok) return { ok: true, res: { status: res.status, headers: res.headers, text: await readBody(res, maxBodyBytes) } };

      const snippet = await readBody(res, 16 * 1024).then(
        (t) => t.replace(/\s+/g, ' ').trim().slice(0, SNIPPET_CHARS),
        () => '',
      );
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), rt.now());
      const status = res.status;
      const detail = `HTTP ${status}${res.statusText ? ` ${res.statusText}` : ''}${snippet ? `: ${snippet}` : ''}`;
      if (status === 429) return { ok: false, code: 'E_RATE_LIMITED', retriable: true, status, detail, ...(retryAfterMs !== undefined && { retryAfterMs }) };
      const retriable = status === 408 || (status >= 500 && status !== 501 && status !== 505);
      return { ok: false, code: 'E_HTTP_STATUS', retriable, status, detail, ...(retryAfterMs !== undefined && { retryAfterMs }) };
    } catch (err) {
      if (opts.signal?.aborted) return { ok: false, code: 'E_ABORTED', retriable: false, detail: 'aborted by caller', cause: err };
      if (timeout.aborted) {
        return { ok: false, code: 'E_TIMEOUT', retriable: true, detail: `no complete response within ${timeoutMs} ms`, cause: err };
      }
      if (err instanceof ExtractError) return { ok: false, code: err.code, retriable: err.retriable, detail: err.message, cause: err };
      const code = networkCode(err);
      const retriable = code !== undefined && RETRIABLE_NETWORK_CODES.has(code);
      return {
        ok: false,
        code: 'E_NETWORK',
        retriable,
        detail: `network error ${code ?? ''} ${(err as Error)?.message ?? String(err)}`.replace(/\s+/g, ' ').trim(),
        cause: err,
      };
    }
  }

  async function request<T>(url: string | URL, opts: RequestOptions, accept: string, parse: (r: HttpResponse) => T): Promise<T> {
    const target = String(url);
    const shown = scrub(target);
    const symbol = opts.symbol;
    const fail = (f: Failure, attempt: number) =>
      new HttpError(f.code, scrub(`GET ${shown}: ${f.detail} (attempt ${attempt}/${policy.maxAttempts})`), {
        provider,
        symbol,
        retriable: f.retriable,
        status: f.status,
        attempts: attempt,
        url: shown,
        retryAfterMs: f.retryAfterMs,
        cause: f.cause,
      });

    for (let attempt = 1; ; attempt++) {
      const started = rt.now();
      let failure: Failure;
      try {
        await bucket?.take(opts.signal);
      } catch (err) {
        throw fail({ code: 'E_ABORTED', retriable: false, detail: 'aborted while waiting for the rate limiter', cause: err }, attempt);
      }
      const out = await once(target, opts, accept);
      if (out.ok) {
        try {
          const value = parse(out.res);
          emit({ provider, outcome: 'ok', status: out.res.status, attempt, durationMs: rt.now() - started });
          return value;
        } catch (err) {
          const bytes = Buffer.byteLength(out.res.text);
          failure = {
            code: 'E_BAD_BODY',
            retriable: policy.retryBadBody,
            status: out.res.status,
            detail: `body does not parse (${bytes} bytes, ${out.res.headers.get('content-type') ?? 'no content-type'}): ${(err as Error).message}`,
            cause: err,
          };
        }
      } else {
        failure = out;
      }

      let wait: number | undefined;
      if (failure.retriable && attempt < policy.maxAttempts) {
        if (failure.retryAfterMs === undefined) wait = backoffDelay(attempt, policy, rt.random);
        else if (failure.retryAfterMs <= policy.maxRetryAfterMs) wait = failure.retryAfterMs;
      }
      if (wait === undefined) {
        emit({ provider, outcome: 'error', status: failure.status, code: failure.code, attempt, durationMs: rt.now() - started });
        throw fail(failure, attempt);
      }
      emit({ provider, outcome: 'retry', status: failure.status, code: failure.code, attempt, durationMs: rt.now() - started });
      try {
        await rt.sleep(wait, opts.signal);
      } catch (err) {
        throw fail({ code: 'E_ABORTED', retriable: false, detail: 'aborted during retry backoff', cause: err }, attempt);
      }
    }
  }

  return {
    provider,
    redact: scrub,
    getText: (url, opts = {}) => request(url, opts, '*/*', (r) => r),
    getJson: (url, opts = {}) => request(url, opts, 'application/json', (r) => JSON.parse(r.text) as unknown),
  };
}
