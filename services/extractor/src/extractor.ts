export * from '@stock-mlops/extract/extractor';
