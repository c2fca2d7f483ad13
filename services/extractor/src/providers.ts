export * from '@stock-mlops/extract/provider-settings';
