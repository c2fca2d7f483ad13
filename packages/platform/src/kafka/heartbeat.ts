/**
 * Heartbeats of a consumer group member while a batch handler runs.
 *
 * kafkajs sends heartbeats only between batches and when the handler calls `heartbeat()`, so a
 * handler that waits longer than the session timeout (for a lock, for acks, for a database that
 * is down and retried with backoff) loses its membership. `heartbeatWhile` calls `heartbeat()`
 * every `everyMs` until the work settles (returns or throws). kafkajs throttles the requests to
 * its own heartbeat interval and shares one request among concurrent callers.
 *
 * The calls are not awaited and their errors are ignored: a failed heartbeat (REBALANCE_IN_PROGRESS,
 * UNKNOWN_MEMBER_ID, a lost connection) must not abort side effects half done. The batch is then
 * committed under the old generation, the commit is refused, and the consumer rejoins (runConsumer).
 * The timer is cleared before the result reaches the caller, so no heartbeat starts during the
 * commit (one already sent may still be answered then; kafkajs's own heartbeat after the commit
 * shares it).
 */
export const HEARTBEAT_EVERY_MS = 1_000;

export async function heartbeatWhile<T>(heartbeat: () => Promise<void>, work: () => Promise<T>, everyMs = HEARTBEAT_EVERY_MS): Promise<T> {
  const timer = setInterval(() => void heartbeat().catch(() => {}), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
