/**
 * Liveness of a group member: a consumer that owns partitions with unprocessed records but has
 * not been handed a batch for a long time, while no batch of its own is in flight, has stopped
 * consuming without an error (seen in the chaos test: a loader restarted after a broker restart
 * idled for ten minutes with 100k records of lag, no log line, heartbeats keeping its membership).
 * runConsumer then rejoins the group, as after a crash.
 */
export interface StallInput {
  /** Milliseconds since the last batch started or ended, or the member (re)joined. */
  idleMs: number;
  /** Batches of this member being handled right now (a slow handler is not a stall). */
  inFlight: number;
  /** Records on this member's partitions past the group's committed offsets. */
  lag: number;
  /** Whether the member has joined the group since it (re)started: a join that never completes is a stall too. */
  joined: boolean;
  stallMs: number;
}

export function isStalled(s: StallInput): boolean {
  return s.stallMs > 0 && s.inFlight === 0 && s.idleMs >= s.stallMs && (!s.joined || s.lag > 0);
}
