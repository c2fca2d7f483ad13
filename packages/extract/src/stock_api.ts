/** Price providers (the seed's stock_api): Yahoo chart, Alpha Vantage, CSV replay, synthetic. */
export * from './prices/common.ts';
export * from './prices/yahoo_chart.ts';
export * from './prices/alphavantage.ts';
export * from './prices/csv_replay.ts';
export * from './prices/synthetic.ts';
