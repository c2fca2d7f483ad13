import { ExtractError } from './errors.ts';
import { createOpenDartProvider, type OpenDartOptions } from './financials/opendart.ts';
import { createSecEdgarProvider, type SecEdgarOptions } from './financials/sec_edgar.ts';
import { createTokenBucket, type HttpEvent, type RateLimit, type TokenBucket } from './http.ts';
import { createAlphaVantageNewsProvider, type AlphaVantageNewsOptions } from './news/alphavantage_news.ts';
import { createNewsApiProvider, type NewsApiOptions } from './news/newsapi.ts';
import { createNewsReplayProvider, type NewsReplayOptions } from './news/replay.ts';
import { createRssProvider, type RssOptions } from './news/rss.ts';
import { createYahooSearchNewsProvider, type YahooSearchNewsOptions } from './news/yahoo_search.ts';
import { createAlphaVantagePriceProvider, type AlphaVantagePricesOptions } from './prices/alphavantage.ts';
import { createCsvReplayProvider, type CsvReplayOptions } from './prices/csv_replay.ts';
import { createSyntheticProvider, type SyntheticOptions } from './prices/synthetic.ts';
import { createYahooChartProvider, type YahooChartOptions } from './prices/yahoo_chart.ts';
import type { AnyProvider, FinancialProvider, NewsProvider, PriceProvider, ProviderKind } from './provider.ts';
import { resolveRuntime, type Runtime } from './runtime.ts';
import { assertSymbol } from './validate.ts';

/**
 * Builds providers from a plain configuration object and picks them per symbol.
 *
 * ```ts
 * const registry = createProviderRegistry({
 *   providers: {
 *     yahoo: { type: 'yahoo-chart', interval: '1d' },
 *     edgar: { type: 'sec-edgar', userAgent: 'Acme data@acme.test', ciks: { AAPL: 320193 } },
 *     dart: { type: 'opendart', apiKey: env.DART_API_KEY, corpCodes: { '005930.KS': '00126380' } },
 *     av: { type: 'alphavantage-prices', apiKey: env.AV_KEY, rateLimitGroup: 'alphavantage' },
 *   },
 *   rateLimitGroups: { alphavantage: { capacity: 5, refillPerSec: 5 / 60 } },
 *   routes: {
 *     prices: { US: ['yahoo', 'av'], KR: ['yahoo'] },
 *     financials: { US: ['edgar'], KR: ['dart'] },
 *   },
 *   symbols: { SPY: { prices: ['av'] } },
 * });
 * registry.select('financials', '005930.KS'); // → [dart]
 * ```
 *
 * Markets are matched in declaration order by symbol suffix or explicit symbol list
 * (default: KR = `.KS`/`.KQ`); anything else is `defaultMarket` ('US'). `routes[kind][market]`
 * lists provider names in preference order (`'*'` routes any market without its own entry);
 * `symbols[symbol][kind]` overrides it. Providers in one `rateLimitGroup` share a token bucket
 * (Alpha Vantage prices and news share one key's quota).
 */
export type ProviderConfig = (
  | ({ type: 'yahoo-chart' } & YahooChartOptions)
  | ({ type: 'alphavantage-prices' } & AlphaVantagePricesOptions)
  | ({ type: 'csv-replay' } & CsvReplayOptions)
  | ({ type: 'synthetic' } & SyntheticOptions)
  | ({ type: 'sec-edgar' } & SecEdgarOptions)
  | ({ type: 'opendart' } & OpenDartOptions)
  | ({ type: 'rss' } & RssOptions)
  | ({ type: 'newsapi' } & NewsApiOptions)
  | ({ type: 'alphavantage-news' } & AlphaVantageNewsOptions)
  | ({ type: 'yahoo-news' } & YahooSearchNewsOptions)
  | ({ type: 'news-replay' } & NewsReplayOptions)
) & { rateLimitGroup?: string };

export type ProviderType = ProviderConfig['type'];

export const PROVIDER_TYPES: Record<ProviderType, ProviderKind> = {
  'yahoo-chart': 'prices',
  'alphavantage-prices': 'prices',
  'csv-replay': 'prices',
  synthetic: 'prices',
  'sec-edgar': 'financials',
  opendart: 'financials',
  rss: 'news',
  newsapi: 'news',
  'alphavantage-news': 'news',
  'yahoo-news': 'news',
  'news-replay': 'news',
};

export interface MarketRule {
  suffixes?: string[];
  symbols?: string[];
}

export const DEFAULT_MARKETS: Record<string, MarketRule> = { KR: { suffixes: ['.KS', '.KQ'] } };

export interface RegistryConfig {
  providers: Record<string, ProviderConfig>;
  markets?: Record<string, MarketRule>;
  defaultMarket?: string;
  routes: Partial<Record<ProviderKind, Record<string, string[]>>>;
  symbols?: Record<string, Partial<Record<ProviderKind, string[]>>>;
  rateLimitGroups?: Record<string, RateLimit>;
}

/** What the composition root injects; never part of the (serializable) config. */
export interface RegistryDeps {
  runtime?: Partial<Runtime>;
  fetch?: typeof globalThis.fetch;
  onEvent?: (event: HttpEvent) => void;
}

type ProviderFor<K extends ProviderKind> = K extends 'prices' ? PriceProvider : K extends 'financials' ? FinancialProvider : NewsProvider;

export interface ProviderRegistry {
  marketOf(symbol: string): string;
  /** Providers for `kind` and `symbol`, preferred first; empty when none is routed. */
  select<K extends ProviderKind>(kind: K, symbol: string): Array<ProviderFor<K>>;
  get(name: string): AnyProvider | undefined;
  list(): AnyProvider[];
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

function build(name: string, config: ProviderConfig, deps: RegistryDeps, bucket: TokenBucket | undefined): AnyProvider {
  const runtime = deps.runtime;
  const { type: _type, rateLimitGroup: _group, ...options } = config;
  const http = {
    ...(options as { http?: object }).http,
    ...(deps.fetch && { fetch: deps.fetch }),
    ...(deps.onEvent && { onEvent: deps.onEvent }),
    ...(bucket && { rateLimit: bucket }),
  };
  const common = { ...options, name, ...(runtime && { runtime }), http };
  switch (config.type) {
    case 'yahoo-chart':
      return createYahooChartProvider(common as YahooChartOptions);
    case 'alphavantage-prices':
      return createAlphaVantagePriceProvider(common as AlphaVantagePricesOptions);
    case 'csv-replay':
      return createCsvReplayProvider({ ...(options as CsvReplayOptions), name, ...(runtime && { runtime }) });
    case 'synthetic':
      return createSyntheticProvider({ ...(options as SyntheticOptions), name, ...(runtime && { runtime }) });
    case 'sec-edgar':
      return createSecEdgarProvider(common as SecEdgarOptions);
    case 'opendart':
      return createOpenDartProvider(common as OpenDartOptions);
    case 'rss':
      return createRssProvider(common as RssOptions);
    case 'newsapi':
      return createNewsApiProvider(common as NewsApiOptions);
    case 'alphavantage-news':
      return createAlphaVantageNewsProvider(common as AlphaVantageNewsOptions);
    case 'yahoo-news':
      return createYahooSearchNewsProvider(common as YahooSearchNewsOptions);
    case 'news-replay':
      return createNewsReplayProvider({ ...(options as NewsReplayOptions), name });
    default:
      throw new ExtractError('E_CONFIG', `unknown provider type "${(config as { type?: unknown }).type}"`, { provider: name });
  }
}

export function createProviderRegistry(config: RegistryConfig, deps: RegistryDeps = {}): ProviderRegistry {
  const rt = resolveRuntime(deps.runtime);
  const buckets = new Map<string, TokenBucket>();
  for (const [group, limit] of Object.entries(config.rateLimitGroups ?? {})) buckets.set(group, createTokenBucket(limit, rt));

  const providers = new Map<string, AnyProvider>();
  for (const [name, pc] of Object.entries(config.providers ?? {})) {
    if (!NAME_RE.test(name)) throw new ExtractError('E_CONFIG', `provider name "${name}" must match ${NAME_RE}`);
    if (!pc || !(pc.type in PROVIDER_TYPES)) {
      throw new ExtractError('E_CONFIG', `unknown provider type "${String(pc?.type)}"`, { provider: name });
    }
    let bucket: TokenBucket | undefined;
    if (pc.rateLimitGroup !== undefined) {
      bucket = buckets.get(pc.rateLimitGroup);
      if (!bucket) throw new ExtractError('E_CONFIG', `unknown rateLimitGroup "${pc.rateLimitGroup}"`, { provider: name });
    }
    providers.set(name, build(name, pc, deps, bucket));
  }

  const markets = Object.entries(config.markets ?? DEFAULT_MARKETS);
  const defaultMarket = config.defaultMarket ?? 'US';

  function check(kind: ProviderKind, names: string[], where: string): void {
    for (const n of names) {
      const p = providers.get(n);
      if (!p) throw new ExtractError('E_CONFIG', `${where} names unknown provider "${n}"`);
      if (p.kind !== kind) throw new ExtractError('E_CONFIG', `${where} lists "${n}", a ${p.kind} provider, under ${kind}`);
    }
  }
  for (const [kind, byMarket] of Object.entries(config.routes ?? {}) as Array<[ProviderKind, Record<string, string[]>]>) {
    for (const [market, names] of Object.entries(byMarket)) check(kind, names, `routes.${kind}.${market}`);
  }
  for (const [symbol, byKind] of Object.entries(config.symbols ?? {})) {
    for (const [kind, names] of Object.entries(byKind) as Array<[ProviderKind, string[]]>) check(kind, names, `symbols["${symbol}"].${kind}`);
  }

  function marketOf(symbol: string): string {
    for (const [market, rule] of markets) {
      if (rule.symbols?.includes(symbol) || rule.suffixes?.some((s) => symbol.endsWith(s))) return market;
    }
    return defaultMarket;
  }

  return {
    marketOf,
    select<K extends ProviderKind>(kind: K, symbol: string) {
      assertSymbol('registry', symbol);
      const byMarket: Record<string, string[]> = config.routes?.[kind] ?? {};
      const names = config.symbols?.[symbol]?.[kind] ?? byMarket[marketOf(symbol)] ?? byMarket['*'] ?? [];
      return names.map((n) => providers.get(n)!) as Array<ProviderFor<K>>;
    },
    get: (name) => providers.get(name),
    list: () => [...providers.values()],
  };
}
