import { z } from 'zod';
import { Interval, Symbol } from '@stock-mlops/contracts';
import { AppError } from '@stock-mlops/platform';
import type { ChartStore } from './chart_store.ts';
import { challengerView, type ChallengerDeps } from './challenger.ts';
import type { DashboardQueries } from './queries.ts';

/**
 * The dashboard's JSON API as a plain function of (path, query): no HTTP in here, so it can be
 * exercised without a port. Query strings are validated strictly (unknown or repeated
 * parameters are rejected) and every list is capped.
 */
export class ApiError extends AppError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
    this.name = 'ApiError';
  }
}

export interface ApiResult {
  status: number;
  body: unknown;
}

export interface PublicConfig {
  /** The predictor's WebSocket URL; `{host}` is replaced by the page's host name. */
  wsUrl: string;
  wsToken?: string | undefined;
}

const limit = (def: number, max: number) => z.coerce.number().int().min(1).max(max).default(def);

const ROUTES = {
  '/api/config': { query: z.strictObject({}), run: (_q: object, d: ApiDeps) => Promise.resolve(d.publicConfig) },
  '/api/symbols': {
    query: z.strictObject({ limit: limit(200, 1000) }),
    run: async (q: { limit: number }, d: ApiDeps) => {
      const c = await chart(d);
      return { symbols: c.store.symbols(q.limit), historyComplete: c.historyComplete };
    },
  },
  '/api/bars': {
    query: z.strictObject({ symbol: Symbol, interval: Interval.default('1d'), limit: limit(500, 5000) }),
    run: async (q: { symbol: string; interval: string; limit: number }, d: ApiDeps) => {
      const c = await chart(d);
      return { symbol: q.symbol, interval: q.interval, bars: c.store.bars(q.symbol, q.interval, q.limit), historyComplete: c.historyComplete };
    },
  },
  '/api/predictions': {
    query: z.strictObject({ symbol: Symbol, limit: limit(500, 5000) }),
    run: async (q: { symbol: string; limit: number }, d: ApiDeps) => {
      const c = await chart(d);
      return { symbol: q.symbol, predictions: c.store.predictions(q.symbol, q.limit), historyComplete: c.historyComplete };
    },
  },
  '/api/models': {
    query: z.strictObject({ limit: limit(50, 500) }),
    run: (q: { limit: number }, d: ApiDeps) => d.queries.models(q.limit),
  },
  '/api/news': {
    query: z.strictObject({ symbol: Symbol.optional(), limit: limit(20, 200) }),
    run: async (q: { symbol?: string | undefined; limit: number }, d: ApiDeps) => ({ news: await d.queries.news(q.symbol, q.limit) }),
  },
  '/api/monitoring': {
    query: z.strictObject({ limit: limit(20, 200) }),
    run: (q: { limit: number }, d: ApiDeps) => d.queries.monitoring(q.limit),
  },
  '/api/labels/queue': {
    query: z.strictObject({ limit: limit(10, 50) }),
    run: (q: { limit: number }, d: ApiDeps) => d.labelQueue(q.limit),
  },
  '/api/challenger': {
    query: z.strictObject({ symbol: Symbol, limit: limit(500, 5000) }),
    run: async (q: { symbol: string; limit: number }, d: ApiDeps) => challengerView(d.challenger, q.symbol, q.limit, (await chart(d)).historyComplete),
  },
} as const;

export type ApiPath = keyof typeof ROUTES;
export const API_PATHS = Object.keys(ROUTES) as ApiPath[];

export interface ApiDeps {
  queries: DashboardQueries;
  publicConfig: PublicConfig;
  /** The labelling panel's queue (label_desk.ts; POST /api/labels is served by server.ts's `post` routes). */
  labelQueue: (limit: number) => Promise<unknown>;
  /** Bars, predictions and the symbol list, served from memory once the stored history is loaded. */
  chart: { store: ChartStore; loaded: Promise<void>; isLoaded: () => boolean };
  /** The champion-versus-challenger panel (challenger.ts): its queries and the shadow predictions in memory. */
  challenger: ChallengerDeps;
  /** How long a request waits for that history before answering with what memory holds (default 5 s). */
  loadWaitMs?: number;
}

/**
 * The in-memory chart store. While the stored history is still being read (start-up reads it in
 * the background; readiness does not wait for it), a request waits up to `loadWaitMs` for it and
 * then answers with what the store holds: the topics have been feeding it since start-up.
 */
async function chart(d: ApiDeps): Promise<{ store: ChartStore; historyComplete: boolean }> {
  if (!d.chart.isLoaded()) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      d.chart.loaded.then(
        () => true,
        () => false,
      ),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), d.loadWaitMs ?? 5_000))),
    ]).finally(() => clearTimeout(timer));
  }
  return { store: d.chart.store, historyComplete: d.chart.isLoaded() };
}

export function createApi(deps: ApiDeps): (path: string, params: URLSearchParams) => Promise<ApiResult> {
  return async (path, params) => {
    const route = Object.hasOwn(ROUTES, path) ? (ROUTES as Record<string, { query: z.ZodType; run: (q: never, d: ApiDeps) => Promise<unknown> }>)[path] : undefined;
    if (!route) throw new ApiError(404, 'E_NOT_FOUND', `no API route ${path}`);
    const parsed = route.query.safeParse(queryObject(params));
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      const where = i?.path.join('.') || (i && 'keys' in i ? String((i as { keys: string[] }).keys.join(',')) : '') || 'query';
      throw new ApiError(400, 'E_BAD_REQUEST', `${where}: ${i?.message ?? 'invalid query'}`);
    }
    return { status: 200, body: await route.run(parsed.data as never, deps) };
  };
}

/** Query parameters as an object; a repeated parameter becomes an array, which the schemas reject. */
function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [k, v] of params) {
    const cur = out[k];
    out[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [cur, v];
  }
  return out;
}
