import type { Admin } from 'kafkajs';

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

/** Records past the committed offsets on the given partitions (a partition never committed counts from its low watermark). */
export async function assignedLag(admin: Admin, groupId: string, assignment: Readonly<Record<string, readonly number[]>>): Promise<number> {
  let lag = 0;
  for (const [topic, partitions] of Object.entries(assignment)) {
    if (partitions.length === 0) continue;
    const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    for (const p of ends) {
      if (!partitions.includes(p.partition)) continue;
      const c = done.get(p.partition) ?? -1;
      lag += Math.max(0, Number(p.high) - (c < 0 ? Number(p.low) : c));
    }
  }
  return lag;
}
