import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Co-partitioned assignment: partition p of every subscribed topic goes to the member that owns
 * group p mod g, g = gcd of the topics' partition counts. Records keyed by the same key land in
 * partitions with the same residue mod g on every topic (Java-compatible murmur2 partitioner:
 * partition = hash mod n, and g divides every n), so one member sees all records of a key across
 * topics — what a per-key join (the transformer's per-symbol state) needs. Groups are dealt to
 * the sorted member ids round robin; members beyond g get nothing.
 */
export function copartitionAssignment(memberIds: readonly string[], partitionCounts: Readonly<Record<string, number>>): Map<string, Record<string, number[]>> {
  const counts = Object.values(partitionCounts).filter((n) => n > 0);
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const groups = counts.length ? counts.reduce(gcd) : 1;
  const members = [...memberIds].sort();
  const out = new Map<string, Record<string, number[]>>(members.map((m) => [m, {}]));
  if (members.length === 0) return out;
  for (const [topic, n] of Object.entries(partitionCounts).sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (let p = 0; p < n; p++) {
      const owner = out.get(members[(p % groups) % members.length] as string) as Record<string, number[]>;
      (owner[topic] ??= []).push(p);
    }
  }
  return out;
}

export const CopartitionAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'CopartitionAssigner',
  version: 0,
  async assign({ members, topics }) {
    await cluster.refreshMetadataIfNecessary();
    const counts: Record<string, number> = {};
    for (const topic of topics) counts[topic] = cluster.findTopicPartitionMetadata(topic).length;
    const plan = copartitionAssignment(members.map((m) => m.memberId), counts);
    return [...plan].map(([memberId, assignment]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: 'CopartitionAssigner', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});
