/**
 * One error type for the whole package. Every error carries a `code`, a `retriable` flag, and
 * names the provider and symbol it is about; messages never contain API keys (see `redact`).
 */
import { AppError } from '@stock-mlops/contracts';

/** Error codes are data: each one documented, each with its default retriability. */
export const EXTRACT_ERROR_CODES = {
  E_CONFIG: { retriable: false, description: 'provider or registry configuration is missing or invalid' },
  E_INVALID_SYMBOL: { retriable: false, description: 'the requested symbol does not match the contract symbol format' },
  E_CURSOR: { retriable: false, description: 'a cursor (or the cursor file) could not be parsed' },
  E_HTTP_STATUS: { retriable: false, description: 'HTTP error status (5xx are retried; other 4xx are not)' },
  E_RATE_LIMITED: { retriable: true, description: 'HTTP 429; `retryAfterMs` says when to come back if known' },
  E_TIMEOUT: { retriable: true, description: 'the request did not complete within the per-attempt timeout' },
  E_NETWORK: { retriable: true, description: 'connection refused/reset or socket error' },
  E_ABORTED: { retriable: false, description: "the caller's AbortSignal fired" },
  E_BAD_BODY: { retriable: false, description: 'the response body is not valid JSON/XML/CSV (e.g. truncated)' },
  E_TOO_LARGE: { retriable: false, description: 'the response body exceeds maxBodyBytes' },
  E_PROVIDER: { retriable: false, description: 'the provider answered with an error document (HTTP 200 but an error body)' },
  E_PROVIDER_LIMIT: { retriable: true, description: "the provider's quota or rate limit was hit (reported in the body)" },
  E_PROVIDER_AUTH: { retriable: false, description: 'the provider rejected the API key' },
  E_SCHEMA: { retriable: false, description: 'the response or an item in it violates the expected shape or the contract schema' },
  E_PRECISION: { retriable: false, description: 'a numeric value cannot be represented exactly as a JSON number (> 2^53)' },
  E_IO: { retriable: false, description: 'a local file could not be read or written' },
} as const;

export type ExtractErrorCode = keyof typeof EXTRACT_ERROR_CODES;

export interface ExtractErrorInit {
  provider?: string | undefined;
  symbol?: string | undefined;
  retriable?: boolean;
  cause?: unknown;
}

/** Query parameters that carry credentials at the providers we talk to. */
const SECRET_PARAM_RE = /([?&;](?:apikey|api_key|api-key|crtfc_key|token|access_token)=)[^&\s#"'<>]*/gi;
const REDACTED = '***';

/**
 * Remove credentials from text meant for humans: secret query parameters of any URL in the text,
 * plus every literal secret value passed in (e.g. a key sent in a header, echoed by a server).
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(SECRET_PARAM_RE, `$1${REDACTED}`);
  for (const secret of secrets) {
    // Very short values would redact ordinary words; real keys are long.
    if (secret.length < 4) continue;
    out = out.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join(REDACTED);
  }
  return out;
}

export class ExtractError extends AppError<ExtractErrorCode> {
  /** Always known here: from the code's table entry unless the thrower says otherwise. */
  declare readonly retriable: boolean;
  readonly provider: string | undefined;
  readonly symbol: string | undefined;

  constructor(code: ExtractErrorCode, detail: string, init: ExtractErrorInit = {}) {
    const where = init.provider ? `${init.provider}${init.symbol ? ` [${init.symbol}]` : ''}: ` : '';
    super(code, redact(`${where}${detail}`), { cause: init.cause, retriable: init.retriable ?? EXTRACT_ERROR_CODES[code].retriable });
    this.name = 'ExtractError';
    this.provider = init.provider;
    this.symbol = init.symbol;
  }
}

export interface HttpErrorInit extends ExtractErrorInit {
  status?: number | undefined;
  attempts: number;
  url: string;
  retryAfterMs?: number | undefined;
}

/** An HTTP failure after the client gave up (retries exhausted or not retriable). */
export class HttpError extends ExtractError {
  readonly status: number | undefined;
  readonly attempts: number;
  /** The request URL with credentials redacted. */
  readonly url: string;
  /** Set for 429/503 with a Retry-After the client did not wait for (longer than its cap). */
  readonly retryAfterMs: number | undefined;

  constructor(code: ExtractErrorCode, detail: string, init: HttpErrorInit) {
    super(code, detail, init);
    this.name = 'HttpError';
    this.status = init.status;
    this.attempts = init.attempts;
    this.url = redact(init.url);
    this.retryAfterMs = init.retryAfterMs;
  }
}

export function isExtractError(err: unknown): err is ExtractError {
  return err instanceof ExtractError;
}
