export * from '@stock-mlops/platform/kafka/raw-sink';
