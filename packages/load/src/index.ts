export * from './database.ts';
export * from './cache.ts';
export * from './lru.ts';
export * from './labels.ts';
export * from './feature_schemas.ts';
