import type { RawFinancialFact, RawNewsArticle, RawPriceBar } from '@stock-mlops/contracts';

/**
 * A provider fetches one kind of raw data for one symbol from one source and returns it
 * validated against the contract schemas. It knows nothing about Kafka or MongoDB: adapters
 * elsewhere turn items into envelopes (`makeEnvelope(key, { data, idParts, eventTime, source: provider.name })`).
 */
export type ProviderKind = 'prices' | 'financials' | 'news';

export interface KindData {
  prices: RawPriceBar;
  financials: RawFinancialFact;
  news: RawNewsArticle;
}

export interface ProviderItem<T> {
  /** Natural key: `deterministicId(...idParts)` (and the envelope id derived from it) is stable across re-fetches. */
  idParts: Array<string | number>;
  /** ISO-8601 UTC: bar start, filing date (00:00 UTC) or publication time. */
  eventTime: string;
  data: T;
}

export interface FetchRequest {
  symbol: string;
  /** Opaque; from a previous result's `nextCursor`. Only items strictly after it are returned. */
  cursor?: string | undefined;
  /** Upper bound, inclusive: items with an event time after it are left for a later call. */
  until?: Date | undefined;
  signal?: AbortSignal | undefined;
}

export interface FetchResult<T> {
  /** Ascending by event time; every item valid per the contract schema. */
  items: ProviderItem<T>[];
  /** The cursor to pass next time; the request's cursor when nothing new was found. */
  nextCursor: string | undefined;
  /** Non-fatal problems (skipped rows, dropped tickers...), for logs. */
  warnings: string[];
}

export interface Provider<T, K extends ProviderKind = ProviderKind> {
  readonly name: string;
  readonly kind: K;
  fetchSince(req: FetchRequest): Promise<FetchResult<T>>;
}

/**
 * Splits and dividends that came with the bars (Yahoo `events`), in the same cursor window.
 * Returned to the caller only: the extractor does not publish them.
 */
export type CorporateAction =
  | { kind: 'split'; symbol: string; ts: string; date: string; numerator: number; denominator: number; ratio: string }
  | { kind: 'dividend'; symbol: string; ts: string; date: string; amount: number; currency?: string };

export interface PriceFetchResult extends FetchResult<RawPriceBar> {
  actions: CorporateAction[];
}

export interface PriceProvider extends Provider<RawPriceBar, 'prices'> {
  fetchSince(req: FetchRequest): Promise<PriceFetchResult>;
}
export type FinancialProvider = Provider<RawFinancialFact, 'financials'>;
export type NewsProvider = Provider<RawNewsArticle, 'news'>;
export type AnyProvider = PriceProvider | FinancialProvider | NewsProvider;

/** What to do with an item that fails validation: fail the whole fetch (default) or skip it with a warning. */
export type InvalidItemPolicy = 'error' | 'skip';
