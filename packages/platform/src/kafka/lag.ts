import type { Admin } from 'kafkajs';

/**
 * Consumer-group lag: for each partition, the end offset minus the group's committed offset (a
 * partition the group never committed counts from its low watermark). `scope` is a list of
 * topics (all their partitions) or an assignment, topic → partitions (one member's share).
 */
export async function consumerLag(admin: Admin, groupId: string, scope: readonly string[] | Readonly<Record<string, readonly number[]>>): Promise<number> {
  const wanted: Array<[string, readonly number[] | undefined]> = Array.isArray(scope)
    ? (scope as readonly string[]).map((topic) => [topic, undefined])
    : Object.entries(scope as Readonly<Record<string, readonly number[]>>).filter(([, parts]) => parts.length > 0);
  let lag = 0;
  for (const [topic, partitions] of wanted) {
    const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    for (const p of ends) {
      if (partitions && !partitions.includes(p.partition)) continue;
      const c = done.get(p.partition) ?? -1;
      lag += Math.max(0, Number(p.high) - (c < 0 ? Number(p.low) : c));
    }
  }
  return lag;
}
