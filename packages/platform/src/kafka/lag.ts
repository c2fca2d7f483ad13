import type { Admin } from 'kafkajs';

/**
 * Consumer-group lag: for each partition of the topics, the end offset minus the group's
 * committed offset (a partition the group never committed counts from its low watermark).
 */
export async function consumerLag(admin: Admin, groupId: string, topics: readonly string[]): Promise<number> {
  let lag = 0;
  for (const topic of topics) {
    const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    for (const p of ends) {
      const c = done.get(p.partition) ?? -1;
      lag += Number(p.high) - (c < 0 ? Number(p.low) : c);
    }
  }
  return lag;
}
