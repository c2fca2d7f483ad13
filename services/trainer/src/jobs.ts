export * from '@stock-mlops/ml/training/jobs';
