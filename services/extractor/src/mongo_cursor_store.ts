export * from '@stock-mlops/extract/mongo-cursor-store';
