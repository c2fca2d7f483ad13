/**
 * Provider wiring from environment variables: which providers run, for which symbols, how often,
 * against which base URLs and with which credentials. Everything is validated with zod; a bad
 * value fails fast with `VARIABLE: what is wrong`. API keys come only from the environment, are
 * handed to the providers and never appear in what `describeSettings` returns (the thing we log).
 */
import path from 'node:path';
import { z } from 'zod';
import { SYMBOL_RE } from '@stock-mlops/contracts';
import type { Logger } from 'pino';
import { ConfigError, REPO_ROOT } from '@stock-mlops/platform/config';
import { REDACT_PATHS } from '@stock-mlops/platform/logger';
import {
  createProviderRegistry,
  PROVIDER_TYPES,
  type ProviderConfig,
  type ProviderRegistry,
  type ProviderType,
  type RegistryConfig,
  type RegistryDeps,
} from './registry.ts';
import type { CsvReplayProvider } from './prices/csv_replay.ts';
import type { NewsReplayProvider } from './news/replay.ts';
import type { AnyProvider, ProviderKind } from './provider.ts';

/** Short names accepted in EXTRACT_PROVIDERS (and the CLI's --providers) → registry types. */
export const PROVIDER_ALIASES: Record<string, ProviderType> = {
  csv: 'csv-replay',
  synthetic: 'synthetic',
  yahoo: 'yahoo-chart',
  alphavantage: 'alphavantage-prices',
  edgar: 'sec-edgar',
  sec: 'sec-edgar',
  opendart: 'opendart',
  dart: 'opendart',
  rss: 'rss',
  newsapi: 'newsapi',
  'av-news': 'alphavantage-news',
  'yahoo-news': 'yahoo-news',
  ...(Object.fromEntries(Object.keys(PROVIDER_TYPES).map((t) => [t, t])) as Record<string, ProviderType>),
};

/** Poll interval per provider type when EXTRACT_POLL_INTERVALS does not name it (free-tier friendly). */
export const DEFAULT_POLL_MS: Record<ProviderType, number | 'EXTRACT_POLL_MS'> = {
  'csv-replay': 'EXTRACT_POLL_MS',
  synthetic: 'EXTRACT_POLL_MS',
  'yahoo-chart': 60_000,
  'alphavantage-prices': 3_600_000,
  'sec-edgar': 6 * 3_600_000,
  opendart: 6 * 3_600_000,
  rss: 300_000,
  newsapi: 900_000,
  'alphavantage-news': 3_600_000,
  'yahoo-news': 300_000,
  'news-replay': 'EXTRACT_POLL_MS',
};

const SYMBOL = SYMBOL_RE.source.slice(1, -1);
const list = (re: string) => new RegExp(`^${re}(,${re})*$`);
const DURATION_RE = /^(\d+)(ms|s|m|h)?$/;

/** `250`, `250ms`, `30s`, `5m`, `6h` → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] ?? 'ms']!;
  return Number(m[1]) * unit;
}

/** `K=V,K=V` (or `;`/whitespace separated) → entries; the value is everything after the first `=`. */
export function parsePairs(text: string, separators: RegExp = /[,;\s]+/): Array<[string, string]> {
  return text
    .split(separators)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const eq = entry.indexOf('=');
      return eq < 0 ? [entry, ''] : [entry.slice(0, eq).trim(), entry.slice(eq + 1).trim()];
    });
}

/** What the extractor does once the CSV replay of a symbol has ended (see after_replay.ts). */
export const AFTER_REPLAY_MODES = ['stop', 'synthetic', 'live', 'live-or-synthetic'] as const;
export type AfterReplayMode = (typeof AFTER_REPLAY_MODES)[number];

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const emptyAsUndefined = (v: unknown) => (v === '' ? undefined : v);
const opt = <T extends z.ZodType>(s: T) => z.preprocess(emptyAsUndefined, s.optional());

/** The provider part of the extractor's environment (also read by `npm run etl`). */
export const ProviderEnv = z.object({
  EXTRACT_PROVIDERS: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .superRefine((names, ctx) => {
      const unknown = names.filter((x) => !(x in PROVIDER_ALIASES));
      if (unknown.length) ctx.addIssue({ code: 'custom', message: `unknown provider(s) ${unknown.join(', ')}; known: ${Object.keys(PROVIDER_ALIASES).join(', ')}` });
      if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'name at least one provider' });
    })
    .default(['csv']),
  EXTRACT_SYMBOLS: opt(z.string().regex(list(SYMBOL), 'comma-separated symbols, e.g. AAPL,MSFT,005930.KS')),
  EXTRACT_ROUTES: opt(z.string()),
  EXTRACT_SYMBOL_ROUTES: opt(z.string()),
  EXTRACT_POLL_MS: z.coerce.number().int().min(100).default(5_000),
  EXTRACT_POLL_INTERVALS: opt(z.string()),
  EXTRACT_INTERVAL: z.enum(['1m', '5m', '15m', '30m', '60m', '1h', '1d', '1wk']).default('1d'),
  EXTRACT_REPLAY_PATH: z.string().min(1).default(path.join(REPO_ROOT, 'data', 'prices')),
  EXTRACT_REPLAY_SPEED: z.coerce.number().min(0).default(0),
  EXTRACT_SYNTHETIC_SEED: z.string().min(1).default('42'),
  EXTRACT_SYNTHETIC_START: z.string().regex(/^\d{4}-\d{2}-\d{2}/, 'a date, YYYY-MM-DD').default('2020-01-01'),
  EXTRACT_AFTER_REPLAY: z.enum(AFTER_REPLAY_MODES).default('stop'),
  EXTRACT_AFTER_REPLAY_INTERVAL: z
    .string()
    .default('1s')
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined || ms < 100) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration >= 100ms (e.g. 500ms, 1s, 2s)` });
        return z.NEVER;
      }
      return ms;
    }),
  EXTRACT_NEWS_REPLAY_PATH: opt(z.string().regex(/^[^,]+(,[^,]+)*$/, 'comma-separated JSON files (recorded NewsAPI or Yahoo search responses)')),
  EXTRACT_NEWS_REPLAY_TICKERS: z.string().regex(list(SYMBOL), 'comma-separated symbols, e.g. SPY').default('SPY'),
  EXTRACT_HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  EXTRACT_MAX_RETRY_AFTER_MS: z.coerce.number().int().min(0).default(60_000),
  EXTRACT_HTTP_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(64 * 1024 * 1024),
  EXTRACT_YAHOO_BASE_URL: opt(httpUrl),
  EXTRACT_ALPHAVANTAGE_BASE_URL: opt(httpUrl),
  EXTRACT_SEC_BASE_URL: opt(httpUrl),
  EXTRACT_OPENDART_BASE_URL: opt(httpUrl),
  EXTRACT_NEWSAPI_BASE_URL: opt(httpUrl),
  EXTRACT_FEEDS: opt(z.string()),
  EXTRACT_RSS_URL_TEMPLATE: opt(z.string().regex(/^https?:\/\/\S*\{symbol\}\S*$/, 'an http(s) URL containing {symbol}')),
  ALPHAVANTAGE_API_KEY: opt(z.string().min(4, 'too short for an API key')),
  ALPHAVANTAGE_RATE_PER_MIN: z.coerce.number().positive().default(5),
  NEWSAPI_API_KEY: opt(z.string().min(4, 'too short for an API key')),
  OPENDART_API_KEY: opt(z.string().min(4, 'too short for an API key')),
  OPENDART_CORP_CODES: opt(z.string()),
  SEC_USER_AGENT: opt(z.string().regex(/\S+@\S+\.\S+/, 'must name a contact e-mail (SEC fair-access policy), e.g. "Acme data@acme.example"')),
  SEC_CIKS: opt(z.string()),
});
export type ProviderEnv = z.infer<typeof ProviderEnv>;

/** Everything the extractor needs to build its providers and schedule them (secrets included, never logged). */
export interface ProviderSettings {
  types: ProviderType[];
  symbols: string[] | undefined;
  registry: RegistryConfig;
  intervals: Record<string, number>;
  replayPath: string;
  afterReplay: AfterReplaySettings;
}

/** The continuation after the CSV replay (after_replay.ts). */
export interface AfterReplaySettings {
  mode: AfterReplayMode;
  /** One synthetic bar per symbol every this many ms. */
  paceMs: number;
  seed: string;
  /** Poll interval of the live (Yahoo chart) continuation. */
  livePollMs: number;
  /** The live provider's configuration (Yahoo chart, daily bars like the replay). */
  live: ProviderConfig;
}

const KINDS: ProviderKind[] = ['prices', 'financials', 'news'];

/** Cross-field checks and parsing of the map-valued variables; every problem names its variable. */
export function resolveProviderSettings(env: ProviderEnv): ProviderSettings {
  const problems: string[] = [];
  const bad = (name: string, why: string) => problems.push(`${name}: ${why}`);
  const types = [...new Set(env.EXTRACT_PROVIDERS.map((p) => PROVIDER_ALIASES[p]!))];
  // Recorded headlines are replayed whenever their files are named.
  if (env.EXTRACT_NEWS_REPLAY_PATH !== undefined && !types.includes('news-replay')) types.push('news-replay');
  const on = (t: ProviderType) => types.includes(t);
  const symbols = env.EXTRACT_SYMBOLS?.split(',');

  const symbolMap = (name: string, text: string | undefined, value: RegExp, what: string): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of parsePairs(text ?? '')) {
      if (!SYMBOL_RE.test(k)) bad(name, `"${k}" is not a symbol`);
      else if (!value.test(v)) bad(name, `${k}: "${v}" is not ${what}`);
      else out[k] = v;
    }
    return out;
  };
  const ciks = symbolMap('SEC_CIKS', env.SEC_CIKS, /^\d{1,10}$/, 'a CIK (digits)');
  const corpCodes = symbolMap('OPENDART_CORP_CODES', env.OPENDART_CORP_CODES, /^\d{8}$/, 'an 8-digit corp_code');
  const feeds = symbolMap('EXTRACT_FEEDS', env.EXTRACT_FEEDS, /^https?:\/\/\S+$/, 'an http(s) URL');

  const need = (t: ProviderType, name: keyof ProviderEnv, why = `required when EXTRACT_PROVIDERS includes ${t}`) => {
    if (on(t) && env[name] === undefined) bad(name, why);
  };
  need('alphavantage-prices', 'ALPHAVANTAGE_API_KEY');
  need('alphavantage-news', 'ALPHAVANTAGE_API_KEY');
  need('newsapi', 'NEWSAPI_API_KEY');
  need('opendart', 'OPENDART_API_KEY');
  need('sec-edgar', 'SEC_USER_AGENT');
  if (on('sec-edgar') && Object.keys(ciks).length === 0) bad('SEC_CIKS', 'map symbols to CIKs (e.g. AAPL=320193,MSFT=789019) when EXTRACT_PROVIDERS includes sec-edgar');
  if (on('opendart') && Object.keys(corpCodes).length === 0) bad('OPENDART_CORP_CODES', 'map symbols to corp_codes (e.g. 005930.KS=00126380) when EXTRACT_PROVIDERS includes opendart');
  need('news-replay', 'EXTRACT_NEWS_REPLAY_PATH');
  if (env.EXTRACT_AFTER_REPLAY !== 'stop') {
    const why = `EXTRACT_AFTER_REPLAY=${env.EXTRACT_AFTER_REPLAY}`;
    if (!on('csv-replay')) bad('EXTRACT_AFTER_REPLAY', `${why} continues the CSV replay: EXTRACT_PROVIDERS must include csv`);
    if (env.EXTRACT_AFTER_REPLAY !== 'live' && on('synthetic')) bad('EXTRACT_AFTER_REPLAY', `${why} cannot run with the synthetic provider in EXTRACT_PROVIDERS (both would use the cursors synthetic|SYMBOL)`);
    if (env.EXTRACT_AFTER_REPLAY !== 'synthetic' && on('yahoo-chart')) bad('EXTRACT_AFTER_REPLAY', `${why} cannot run with the yahoo provider in EXTRACT_PROVIDERS (both would use the cursors yahoo-chart|SYMBOL)`);
  }
  if (on('rss') && Object.keys(feeds).length === 0 && !env.EXTRACT_RSS_URL_TEMPLATE) bad('EXTRACT_FEEDS', 'set EXTRACT_FEEDS or EXTRACT_RSS_URL_TEMPLATE when EXTRACT_PROVIDERS includes rss');
  const perSymbol = (['yahoo-chart', 'alphavantage-prices', 'newsapi', 'alphavantage-news', 'yahoo-news'] as const).filter(on);
  if (perSymbol.length > 0 && !symbols) bad('EXTRACT_SYMBOLS', `required for ${perSymbol.join(', ')} (which symbols to poll)`);

  const intervals: Record<string, number> = {};
  for (const t of types) {
    const d = DEFAULT_POLL_MS[t];
    intervals[t] = d === 'EXTRACT_POLL_MS' ? env.EXTRACT_POLL_MS : d;
  }
  for (const [k, v] of parsePairs(env.EXTRACT_POLL_INTERVALS ?? '')) {
    const t = PROVIDER_ALIASES[k];
    const ms = parseDuration(v);
    if (!t) bad('EXTRACT_POLL_INTERVALS', `unknown provider "${k}"`);
    else if (ms === undefined || ms < 100) bad('EXTRACT_POLL_INTERVALS', `${k}: "${v}" is not a duration >= 100ms (e.g. 500ms, 30s, 5m, 6h)`);
    else intervals[t] = ms;
  }

  const http = { timeoutMs: env.EXTRACT_HTTP_TIMEOUT_MS, maxBodyBytes: env.EXTRACT_HTTP_MAX_BODY_BYTES, retry: { maxRetryAfterMs: env.EXTRACT_MAX_RETRY_AFTER_MS } };
  const base = (url: string | undefined) => (url ? { baseUrl: url } : {});
  const av = { rateLimitGroup: 'alphavantage', apiKey: env.ALPHAVANTAGE_API_KEY ?? '', ...base(env.EXTRACT_ALPHAVANTAGE_BASE_URL), http };
  const all: Record<ProviderType, () => ProviderConfig> = {
    'csv-replay': () => ({ type: 'csv-replay', path: env.EXTRACT_REPLAY_PATH, speed: env.EXTRACT_REPLAY_SPEED }),
    synthetic: () => ({ type: 'synthetic', seed: env.EXTRACT_SYNTHETIC_SEED, start: env.EXTRACT_SYNTHETIC_START, interval: env.EXTRACT_INTERVAL }),
    'yahoo-chart': () => ({ type: 'yahoo-chart', interval: env.EXTRACT_INTERVAL, ...base(env.EXTRACT_YAHOO_BASE_URL), http }),
    'alphavantage-prices': () => ({ type: 'alphavantage-prices', interval: env.EXTRACT_INTERVAL, ...av }),
    'sec-edgar': () => ({ type: 'sec-edgar', userAgent: env.SEC_USER_AGENT ?? '', ciks, ...base(env.EXTRACT_SEC_BASE_URL), http }),
    opendart: () => ({ type: 'opendart', apiKey: env.OPENDART_API_KEY ?? '', corpCodes, ...base(env.EXTRACT_OPENDART_BASE_URL), http }),
    rss: () => ({ type: 'rss', feeds, ...(env.EXTRACT_RSS_URL_TEMPLATE && { urlTemplate: env.EXTRACT_RSS_URL_TEMPLATE }), http }),
    newsapi: () => ({ type: 'newsapi', apiKey: env.NEWSAPI_API_KEY ?? '', ...base(env.EXTRACT_NEWSAPI_BASE_URL), http }),
    'alphavantage-news': () => ({ type: 'alphavantage-news', ...av }),
    'yahoo-news': () => ({ type: 'yahoo-news', ...base(env.EXTRACT_YAHOO_BASE_URL), http }),
    'news-replay': () => ({
      type: 'news-replay',
      files: (env.EXTRACT_NEWS_REPLAY_PATH ?? '').split(',').map((f) => path.resolve(REPO_ROOT, f.trim())),
      defaultTickers: env.EXTRACT_NEWS_REPLAY_TICKERS.split(','),
      ...(symbols && { symbols }),
    }),
  };
  const providers: Record<string, ProviderConfig> = {};
  for (const t of types) providers[t] = all[t]();

  // Routes: by default every enabled provider of a kind serves every market ('*');
  // EXTRACT_ROUTES (`kind:MARKET=p,p;…`) and EXTRACT_SYMBOL_ROUTES (`SYMBOL:kind=p,p;…`) narrow it.
  const routes: RegistryConfig['routes'] = {};
  for (const kind of KINDS) {
    const ofKind = types.filter((t) => PROVIDER_TYPES[t] === kind);
    if (ofKind.length) routes[kind] = { '*': ofKind };
  }
  const providerList = (name: string, text: string, kind: ProviderKind): string[] => {
    const names = text.split(',').map((s) => s.trim()).filter(Boolean);
    const out: string[] = [];
    for (const n of names) {
      const t = PROVIDER_ALIASES[n];
      if (!t || !on(t)) bad(name, `"${n}" is not an enabled provider (EXTRACT_PROVIDERS)`);
      else if (PROVIDER_TYPES[t] !== kind) bad(name, `"${n}" is a ${PROVIDER_TYPES[t]} provider, listed under ${kind}`);
      else out.push(t);
    }
    return out;
  };
  const KIND_RE = /^(prices|financials|news)$/;
  for (const [lhs, rhs] of parsePairs(env.EXTRACT_ROUTES ?? '', /[;\s]+/)) {
    const [kind, market] = lhs.split(':');
    if (!kind || !KIND_RE.test(kind) || !market || !/^(\*|[A-Z]{2,8})$/.test(market)) {
      bad('EXTRACT_ROUTES', `"${lhs}" should be kind:MARKET (kind: prices|financials|news; market: US, KR, … or *)`);
      continue;
    }
    (routes[kind as ProviderKind] ??= {})[market] = providerList('EXTRACT_ROUTES', rhs, kind as ProviderKind);
  }
  const symbolRoutes: NonNullable<RegistryConfig['symbols']> = {};
  for (const [lhs, rhs] of parsePairs(env.EXTRACT_SYMBOL_ROUTES ?? '', /[;\s]+/)) {
    const i = lhs.lastIndexOf(':');
    const symbol = lhs.slice(0, i);
    const kind = lhs.slice(i + 1);
    if (i < 0 || !SYMBOL_RE.test(symbol) || !KIND_RE.test(kind)) {
      bad('EXTRACT_SYMBOL_ROUTES', `"${lhs}" should be SYMBOL:kind (kind: prices|financials|news)`);
      continue;
    }
    (symbolRoutes[symbol] ??= {})[kind as ProviderKind] = providerList('EXTRACT_SYMBOL_ROUTES', rhs, kind as ProviderKind);
  }

  if (problems.length) throw new ConfigError(problems);
  const livePoll = intervals['yahoo-chart'] ?? DEFAULT_POLL_MS['yahoo-chart'];
  return {
    types,
    symbols,
    intervals,
    replayPath: env.EXTRACT_REPLAY_PATH,
    afterReplay: {
      mode: env.EXTRACT_AFTER_REPLAY,
      paceMs: env.EXTRACT_AFTER_REPLAY_INTERVAL,
      seed: env.EXTRACT_SYNTHETIC_SEED,
      livePollMs: typeof livePoll === 'number' ? livePoll : env.EXTRACT_POLL_MS,
      live: all['yahoo-chart'](),
    },
    registry: {
      providers,
      routes,
      symbols: symbolRoutes,
      rateLimitGroups: { alphavantage: { capacity: 1, refillPerSec: env.ALPHAVANTAGE_RATE_PER_MIN / 60 } },
    },
  };
}

export interface PlannedTask {
  provider: AnyProvider;
  symbol: string;
  intervalMs: number;
}

/** The symbols a provider can serve, before routing. */
async function universe(type: ProviderType, p: AnyProvider, s: ProviderSettings): Promise<string[]> {
  const wanted = (xs: string[]) => (s.symbols ? xs.filter((x) => s.symbols!.includes(x)) : xs);
  const cfg = s.registry.providers[type]!;
  switch (cfg.type) {
    case 'csv-replay':
      return wanted(await (p as CsvReplayProvider).symbols());
    case 'synthetic':
      return s.symbols ?? ['SYNTH'];
    case 'news-replay':
      return (p as NewsReplayProvider).symbols();
    case 'sec-edgar':
      return wanted(Object.keys(cfg.ciks));
    case 'opendart':
      return wanted(Object.keys(cfg.corpCodes));
    case 'rss': {
      const fixed = Object.keys(cfg.feeds ?? {});
      return [...new Set([...fixed, ...(cfg.urlTemplate ? (s.symbols ?? []) : [])])];
    }
    default:
      return s.symbols ?? [];
  }
}

/** Providers from the settings, and one task per (provider, symbol) that the routes allow. */
export async function buildTasks(s: ProviderSettings, deps: RegistryDeps = {}): Promise<{ registry: ProviderRegistry; tasks: PlannedTask[] }> {
  const news = s.registry.providers['news-replay'];
  // Without EXTRACT_SYMBOLS the replayed headlines keep the tickers that have a CSV file.
  const config =
    news?.type === 'news-replay' && !news.symbols && s.registry.providers['csv-replay']
      ? { ...s.registry, providers: { ...s.registry.providers, 'news-replay': { ...news, symbols: () => (registry.get('csv-replay') as CsvReplayProvider).symbols() } } }
      : s.registry;
  const registry: ProviderRegistry = createProviderRegistry(config, deps);
  const tasks: PlannedTask[] = [];
  for (const type of s.types) {
    const p = registry.get(type)!;
    for (const symbol of await universe(type, p, s)) {
      if (registry.select(p.kind, symbol).some((x) => x.name === p.name)) tasks.push({ provider: p, symbol, intervalMs: s.intervals[type]! });
    }
  }
  return { registry, tasks };
}

/** What is safe to log about the settings: no keys, no user agent contact, no feed URLs' query strings. */
export function describeSettings(s: ProviderSettings): Record<string, unknown> {
  return {
    providers: s.types,
    symbols: s.symbols ?? 'all available',
    intervalsMs: s.intervals,
    routes: s.registry.routes,
    symbolRoutes: s.registry.symbols,
    baseUrls: Object.fromEntries(
      Object.entries(s.registry.providers)
        .map(([n, c]) => [n, (c as { baseUrl?: string }).baseUrl] as const)
        .filter(([, u]) => u !== undefined),
    ),
  };
}

/** Log paths that must never be written, on top of the platform's: the env names of our secrets. */
export const SECRET_LOG_PATHS = [
  'ALPHAVANTAGE_API_KEY',
  'NEWSAPI_API_KEY',
  'OPENDART_API_KEY',
  '*.ALPHAVANTAGE_API_KEY',
  '*.NEWSAPI_API_KEY',
  '*.OPENDART_API_KEY',
  'providers.*.apiKey',
  '*.providers.*.apiKey',
  'registry.providers.*.apiKey',
  '*.registry.providers.*.apiKey',
];

/** A child logger that also censors the extractor's secret paths (on top of the platform's). */
export function withSecretRedaction(log: Logger): Logger {
  return log.child({}, { redact: { paths: [...REDACT_PATHS, ...SECRET_LOG_PATHS], censor: '***' } });
}
