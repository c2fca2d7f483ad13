/**
 * Broker-failover probes for test/chaos/cluster_failover.test.ts, all through the Kafka admin API:
 * which node leads the busiest partitions, how far each pipeline stage has got, and whether every
 * partition is fully replicated again.
 */
import type { Admin } from 'kafkajs';
import { resolveTopics } from '@stock-mlops/contracts';
import { consumerLag } from '@stock-mlops/platform';
import { pipelineGroups } from './chaos_verify.ts';

export const STAGES = ['extractor', 'transformer', 'predictor', 'loader'] as const;
export type Stage = (typeof STAGES)[number];

/** Progress counters: the extractor's records on the raw topic, each consumer group's committed offsets. */
export async function stageProgress(admin: Admin, prefix: string): Promise<Record<Stage, number>> {
  const raw = await admin.fetchTopicOffsets(resolveTopics(prefix).rawPrices);
  const out: Record<Stage, number> = { extractor: raw.reduce((s, p) => s + Number(p.high), 0), transformer: 0, predictor: 0, loader: 0 };
  for (const [stage, topics] of pipelineGroups(prefix)) {
    const committed = await admin.fetchOffsets({ groupId: `${prefix}${stage}`, topics });
    out[stage] = committed.flatMap((t) => t.partitions).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
  }
  return out;
}

/** Which stages have nothing left to do: the replay is all on the raw topic, or the group has no lag. */
async function idleStages(admin: Admin, prefix: string, progress: Record<Stage, number>, rawRows: number): Promise<Set<Stage>> {
  const idle = new Set<Stage>();
  if (progress.extractor >= rawRows) idle.add('extractor');
  for (const [stage, topics] of pipelineGroups(prefix)) if ((await consumerLag(admin, `${prefix}${stage}`, topics)) === 0) idle.add(stage);
  return idle;
}

export type Resume = Record<Stage, { ms: number; how: 'progress' | 'idle' } | undefined>;

/**
 * For each stage, how long after `since` it made progress past `before` (or had nothing left to do:
 * `idle`); undefined for a stage that did neither within `limitMs`. Admin calls that fail while a
 * broker is down are retried on the next poll.
 */
export async function timeToResume(admin: Admin, prefix: string, since: number, before: Record<Stage, number>, rawRows: number, limitMs: number): Promise<Resume> {
  const out: Resume = { extractor: undefined, transformer: undefined, predictor: undefined, loader: undefined };
  while (Date.now() - since < limitMs && STAGES.some((s) => out[s] === undefined)) {
    try {
      const now = await stageProgress(admin, prefix);
      const at = Date.now() - since;
      const idle = await idleStages(admin, prefix, now, rawRows);
      for (const s of STAGES) {
        if (out[s] !== undefined) continue;
        if (now[s] > before[s]) out[s] = { ms: at, how: 'progress' };
        else if (idle.has(s)) out[s] = { ms: at, how: 'idle' };
      }
    } catch {
      /* a broker is down: ask again */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return out;
}

/** The node that leads most of the busiest third of the partitions (by records) of these topics, other than `exclude`. */
export async function busiestLeader(admin: Admin, topics: string[], exclude: number[] = []): Promise<{ node: number; leads: number; of: number }> {
  const meta = await admin.fetchTopicMetadata({ topics });
  const parts: Array<{ leader: number; high: number }> = [];
  for (const t of meta.topics) {
    const ends = new Map((await admin.fetchTopicOffsets(t.name)).map((p) => [p.partition, Number(p.high)]));
    for (const p of t.partitions) parts.push({ leader: p.leader, high: ends.get(p.partitionId) ?? 0 });
  }
  parts.sort((a, b) => b.high - a.high);
  const busiest = parts.slice(0, Math.max(1, Math.ceil(parts.length / 3)));
  const count = new Map<number, number>();
  for (const p of busiest) if (!exclude.includes(p.leader)) count.set(p.leader, (count.get(p.leader) ?? 0) + 1);
  const best = [...count].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0];
  if (!best) throw new Error(`no leader of the busiest partitions outside nodes ${exclude.join(', ')}`);
  return { node: best[0], leads: best[1], of: busiest.length };
}

/** True when every partition of these topics has all its replicas in sync. */
export async function fullyReplicated(admin: Admin, topics: string[]): Promise<boolean> {
  const meta = await admin.fetchTopicMetadata({ topics });
  return meta.topics.every((t) => t.partitions.every((p) => p.isr.length === p.replicas.length && p.leader >= 0));
}
