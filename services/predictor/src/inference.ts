export * from '@stock-mlops/ml/inference/price-inference';
