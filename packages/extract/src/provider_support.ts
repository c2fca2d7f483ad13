import type { z } from 'zod';
import { parseCursor } from './cursor.ts';
import { ExtractError } from './errors.ts';
import { createHttpClient, type HttpClient, type HttpClientOptions } from './http.ts';
import type { FetchRequest, FetchResult, InvalidItemPolicy, Provider, ProviderKind } from './provider.ts';
import { resolveRuntime, type Runtime } from './runtime.ts';
import { assertSymbol } from './validate.ts';

/** Options every HTTP provider accepts. */
export interface HttpProviderOptions {
  /** Instance name: the envelope `source`, the cursor-store key, and the name in errors. */
  name?: string;
  /** Base URL of the API (tests point it at a local server). */
  baseUrl?: string;
  /** Timeouts, retries, rate limit, metrics hook, fetch implementation. */
  http?: Omit<HttpClientOptions, 'provider' | 'runtime' | 'secrets'>;
  runtime?: Partial<Runtime>;
  onInvalid?: InvalidItemPolicy;
  /** Our symbol → the provider's symbol, where they differ. */
  symbolMap?: Record<string, string>;
}

export interface ProviderContext {
  name: string;
  baseUrl: string;
  client: HttpClient;
  runtime: Runtime;
  onInvalid: InvalidItemPolicy;
  remote(symbol: string): string;
  url(path: string, query?: Record<string, string | number | boolean | undefined>): URL;
}

export function providerContext(
  opts: HttpProviderOptions,
  defaults: {
    name: string;
    /** '' for providers that are given full URLs (feeds). */
    baseUrl: string;
    secrets?: string[];
    headers?: Record<string, string>;
    onInvalid?: InvalidItemPolicy;
    /** The provider's documented request budget; `opts.http.rateLimit` overrides it. */
    rateLimit?: HttpClientOptions['rateLimit'];
  },
): ProviderContext {
  const name = opts.name ?? defaults.name;
  const baseUrl = (opts.baseUrl ?? defaults.baseUrl).replace(/\/+$/, '');
  if (baseUrl && !URL.canParse(baseUrl)) throw new ExtractError('E_CONFIG', `baseUrl "${baseUrl}" is not a URL`, { provider: name });
  const runtime = resolveRuntime(opts.runtime);
  const client = createHttpClient({
    rateLimit: defaults.rateLimit,
    ...opts.http,
    headers: { ...defaults.headers, ...opts.http?.headers },
    provider: name,
    runtime,
    secrets: defaults.secrets ?? [],
  });
  return {
    name,
    baseUrl,
    client,
    runtime,
    onInvalid: opts.onInvalid ?? defaults.onInvalid ?? 'error',
    remote: (symbol) => opts.symbolMap?.[symbol] ?? symbol,
    url(path, query = {}) {
      if (!baseUrl) throw new ExtractError('E_CONFIG', 'this provider has no baseUrl', { provider: name });
      const u = new URL(`${baseUrl}${path}`);
      for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
      return u;
    },
  };
}

export function requireOption<T>(value: T | undefined | null | '', what: string, provider: string): T {
  if (value === undefined || value === null || value === '') {
    throw new ExtractError('E_CONFIG', `missing required option: ${what}`, { provider });
  }
  return value;
}

/** Narrow an unknown JSON body to an object, or fail with E_SCHEMA naming provider and symbol. */
export function expectObject(body: unknown, provider: string, symbol: string, what: string): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ExtractError('E_SCHEMA', `${what}: expected a JSON object, got ${Array.isArray(body) ? 'an array' : typeof body}`, {
      provider,
      symbol,
    });
  }
  return body as Record<string, unknown>;
}

/** Check a response against the shape the parser relies on; E_SCHEMA with the first issues otherwise. */
export function parseShape<S extends z.ZodType>(schema: S, body: unknown, provider: string, symbol: string, what: string): z.infer<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issues = r.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
  throw new ExtractError('E_SCHEMA', `unexpected ${what} response: ${issues}`, { provider, symbol });
}

/** Where a fetch starts (epoch ms): the cursor's time, else `lookbackDays` (default 7) before now. */
export function fetchStart(ctx: ProviderContext, req: FetchRequest, lookbackDays?: number): number {
  const since = parseCursor(req.cursor, ctx.name, req.symbol);
  return since?.time ?? ctx.runtime.now() - (lookbackDays ?? 7) * 86_400_000;
}

/** A provider named after `ctx` whose `fetchSince` checks the symbol before running `fetch`. */
export function symbolProvider<T, K extends ProviderKind>(ctx: ProviderContext, kind: K, fetch: (req: FetchRequest) => Promise<FetchResult<T>>): Provider<T, K> {
  return {
    name: ctx.name,
    kind,
    async fetchSince(req: FetchRequest): Promise<FetchResult<T>> {
      assertSymbol(ctx.name, req.symbol);
      return fetch(req);
    },
  };
}
