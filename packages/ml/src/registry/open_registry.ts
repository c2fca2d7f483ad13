import type { Logger } from 'pino';
import { connectMongo, type MongoHandle } from '@stock-mlops/platform/mongo';
import { ModelStore } from './model_store.ts';

/** The model registry for a command-line tool: connect, make sure the indexes exist. */
export async function openRegistry(env: { MONGO_URL: string; MONGO_DB: string }, log: Logger): Promise<{ mongo: MongoHandle; store: ModelStore }> {
  const mongo = await connectMongo(env.MONGO_URL, env.MONGO_DB, log);
  const store = new ModelStore(mongo.db);
  await store.ensureIndexes();
  return { mongo, store };
}
