export * from '@stock-mlops/extract/metrics';
