import { MongoClient, type Db } from 'mongodb';
import type { Logger } from 'pino';

export interface MongoHandle {
  client: MongoClient;
  db: Db;
  close: () => Promise<void>;
}

/**
 * Connect to a MongoDB-wire server (MongoDB or FerretDB). The driver reconnects on its own
 * after a server restart; operations fail fast (serverSelectionTimeoutMS) so callers can
 * back off and retry without blocking shutdown. A request the server leaves unanswered for
 * `socketTimeoutMs` fails with a network timeout, which withDbRetry retries on a fresh
 * connection: without it one unanswered request (FerretDB 1.24 was seen to leave some for good
 * after a restart) stalls a stage silently, its heartbeats keeping the group membership alive.
 */
export async function connectMongo(url: string, dbName: string, log?: Logger, opts: { socketTimeoutMs?: number } = {}): Promise<MongoHandle> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 5_000,
    connectTimeoutMS: 5_000,
    socketTimeoutMS: opts.socketTimeoutMs ?? 120_000,
    retryWrites: false,
    maxPoolSize: 20,
  });
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await client.connect();
      await client.db(dbName).command({ ping: 1 });
      break;
    } catch (err) {
      if (Date.now() - started > 60_000) throw err;
      log?.warn({ err: (err as Error).message, attempt }, 'mongo not reachable yet; retrying');
      await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** attempt)));
    }
  }
  return { client, db: client.db(dbName), close: () => client.close() };
}

/** Retry an operation with capped exponential backoff while the database is unavailable. */
export async function withDbRetry<T>(
  op: () => Promise<T>,
  opts: { log?: Logger; isStopping?: () => boolean; maxDelayMs?: number } = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isTransientMongoError(err) || opts.isStopping?.()) throw err;
      const delay = Math.min(opts.maxDelayMs ?? 5_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
      opts.log?.warn({ err: `${(err as Error).name}: ${(err as Error).message}`, attempt, delay }, 'database unavailable; backing off');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

export function isTransientMongoError(err: unknown): boolean {
  const name = (err as { name?: string })?.name ?? '';
  const msg = (err as Error)?.message ?? '';
  return (
    /MongoServerSelectionError|MongoNetworkError|MongoNetworkTimeoutError|MongoTopologyClosedError|PoolClearedError|MongoPoolClearedError/.test(name) ||
    // A bulk write that lost its connection is a MongoBulkWriteError carrying the network message.
    /ECONNREFUSED|ECONNRESET|connection .* (closed|timed out)|Topology is closed|not connected/i.test(msg)
  );
}
