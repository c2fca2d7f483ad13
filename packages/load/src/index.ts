export * from './database.ts';
export * from './cache.ts';
