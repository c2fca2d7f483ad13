/**
 * Which consumer crashes a rejoin fixes, and how long to wait before each rejoin.
 *
 * kafkajs rejoins by itself on a rebalance or an unknown member seen while fetching, but when
 * such an error surfaces from a commit or a join it arrives wrapped in a
 * `KafkaJSNonRetriableError` and the consumer crashes without a restart (e.g. "The coordinator is
 * not aware of this member" after the group evicted a member that was paused longer than its
 * session timeout). Those errors concern the group membership or the connection, not the
 * records, so a fresh join fixes them.
 */

/** kafkajs protocol error types (`err.type`) of group membership, coordinator and leadership trouble. */
const REJOIN_TYPES = new Set([
  'UNKNOWN_MEMBER_ID',
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
  'NOT_LEADER_FOR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'BROKER_NOT_AVAILABLE',
]);

/** kafkajs error classes (`err.name`) of connection and metadata trouble, or of transient errors whose retries ran out. */
const REJOIN_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSNumberOfRetriesExceeded',
]);

/** Socket errors (`err.code`) of a broker that went away. */
const REJOIN_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * The reason a rejoin fixes this crash (the matching type, class or socket code anywhere in the
 * error's cause chain), or undefined when it does not (a bug, a bad configuration, an
 * authorization failure): those stay fatal.
 */
export function rejoinReason(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  for (let e = err; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const { type, name, code } = e as { type?: unknown; name?: unknown; code?: unknown };
    if (typeof type === 'string' && REJOIN_TYPES.has(type)) return type;
    if (typeof name === 'string' && REJOIN_NAMES.has(name)) return name;
    if (typeof code === 'string' && REJOIN_ERRNO.has(code)) return code;
  }
  return undefined;
}

export interface BackoffOptions {
  /** First delay (default 500 ms). */
  initialMs?: number;
  /** Largest delay (default 30 s). */
  maxMs?: number;
  /** A crash this long after the previous one starts again from the first delay (default 60 s). */
  resetAfterMs?: number;
  /** Clock and jitter source (tests). */
  now?: () => number;
  random?: () => number;
}

/** Bounded exponential backoff with ±20 % jitter; a long quiet period resets it. */
export function createBackoff(opts: BackoffOptions = {}): { next: () => { attempt: number; delayMs: number } } {
  const initialMs = opts.initialMs ?? 500;
  const maxMs = opts.maxMs ?? 30_000;
  const resetAfterMs = opts.resetAfterMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  let attempt = 0;
  let last = -Infinity;
  return {
    next: () => {
      const t = now();
      if (t - last > resetAfterMs) attempt = 0;
      last = t;
      attempt++;
      const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
      return { attempt, delayMs: Math.round(Math.min(maxMs, base * (0.8 + 0.4 * random()))) };
    },
  };
}
