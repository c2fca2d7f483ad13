/** Financial-statement providers (the seed's financial_api): SEC EDGAR companyfacts, OpenDART. */
export * from './financials/common.ts';
export * from './financials/sec_edgar.ts';
export * from './financials/opendart.ts';
