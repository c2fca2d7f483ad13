/** News providers (the seed's news_api): RSS/Atom, NewsAPI, Alpha Vantage NEWS_SENTIMENT, Yahoo search, replay of recorded responses. */
export * from './news/common.ts';
export * from './news/rss.ts';
export * from './news/newsapi.ts';
export * from './news/alphavantage_news.ts';
export * from './news/yahoo_search.ts';
export * from './news/replay.ts';
