export * from '@stock-mlops/ml/inference/predictor-core';
