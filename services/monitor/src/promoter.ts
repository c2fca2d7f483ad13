/**
 * Carries out the live promotion policy's decisions (packages/monitor/src/promotion.ts):
 * - `promote`: the registry's `production` alias moves to the challenger and `challenger` is
 *   cleared, compare-and-set (E_ALIAS_CHANGED when an alias moved since the decision: nothing
 *   happens, the decision is dropped); then a `challenger_promoted` monitor event with the
 *   evidence and a `promoted` model event (the predictor hot-swaps on it, the trainer's and the
 *   CLI's promotions publish the same) are published;
 * - `keep`: a `challenger_kept` monitor event with the evidence; the aliases stay.
 * Each decision carried out is also stored with its evidence (`promotion_decisions`, after its
 * event), for the dashboard's champion-versus-challenger panel.
 * The registry moves before the events are published: a crash in between loses the events, not
 * the promotion (the predictor also polls the registry).
 */
import { encode, makeEnvelope, type MonitorEvent, type Topics } from '@stock-mlops/contracts';
import { withDbRetry, type BatchingProducer, type Logger } from '@stock-mlops/platform';
import type { ModelStore } from '@stock-mlops/ml/registry/model_store';
import type { PromotionDecision } from '@stock-mlops/monitor';
import type { createMonitorMetrics } from './metrics.ts';
import type { MonitorStore, PromotionDecisionDoc } from './store.ts';

export interface PromoterDeps {
  registry: ModelStore;
  store: MonitorStore;
  producer: BatchingProducer;
  topics: Topics;
  log: Logger;
  metrics: ReturnType<typeof createMonitorMetrics>;
}

/** What happened: `promoted`, `kept`, `stale` (an alias moved: nothing done), or `none` (no decision). */
export type Applied = 'promoted' | 'kept' | 'stale' | 'none';

export function createPromoter({ registry, store, producer, topics, log, metrics }: PromoterDeps) {
  async function publish(kind: PromotionDecisionDoc['kind'], d: PromotionDecision, nowMs: number): Promise<void> {
    const data: MonitorEvent = { kind, task: 'price', model: d.challenger, reason: d.reason.slice(0, 2000), evidence: d.evidence };
    const idParts = [kind, d.challenger!.name, d.challenger!.version, nowMs] as const;
    const env = makeEnvelope('monitorEvents', { data, source: 'monitor', idParts: [...idParts] });
    await producer.send(topics.monitorEvents, [encode('monitorEvents', env)]);
    const doc: PromotionDecisionDoc = {
      _id: idParts.join('|'),
      kind,
      action: kind === 'challenger_promoted' ? 'promote' : 'keep',
      task: 'price',
      modelName: d.challenger!.name,
      productionVersion: d.production!.version,
      challengerVersion: d.challenger!.version,
      reason: data.reason,
      evidenceNames: Object.keys(d.evidence),
      evidenceValues: Object.values(d.evidence),
      decidedAt: new Date(nowMs).toISOString(),
      decidedAtMs: nowMs,
    };
    await withDbRetry(() => store.saveDecision(doc), { log });
  }

  async function apply(d: PromotionDecision, nowMs: number): Promise<Applied> {
    if ((d.action !== 'promote' && d.action !== 'keep') || !d.challenger || !d.production) return 'none';
    const { challenger, production } = d;
    if (d.action === 'promote') {
      try {
        await withDbRetry(() => registry.promoteChallenger(challenger.name, { challenger: challenger.version, production: production.version }, `live evidence: ${d.reason}`.slice(0, 500)), { log });
      } catch (err) {
        if ((err as { code?: string }).code !== 'E_ALIAS_CHANGED') throw err;
        log.warn({ err: (err as Error).message, challenger, production }, 'promotion dropped: the aliases moved since the decision');
        metrics.promotionDecisions.inc({ action: 'stale' });
        return 'stale';
      }
      await publish('challenger_promoted', d, nowMs);
      const modelEvent = makeEnvelope('modelEvents', {
        data: { kind: 'promoted', model: challenger, task: 'price', alias: 'production', previous: production, reason: `live evidence: ${d.reason}`.slice(0, 2000), metrics: d.evidence },
        source: 'monitor',
      });
      await producer.send(topics.modelEvents, [encode('modelEvents', modelEvent)]);
      log.warn({ challenger, production, evidence: d.evidence, reason: d.reason }, 'challenger promoted on live evidence');
    } else {
      await publish('challenger_kept', d, nowMs);
      log.info({ challenger, production, evidence: d.evidence, reason: d.reason }, 'challenger kept: the live evidence does not suffice');
    }
    metrics.promotionDecisions.inc({ action: d.action });
    await withDbRetry(() => store.savePromotionState(d.state), { log });
    return d.action === 'promote' ? 'promoted' : 'kept';
  }

  return { apply };
}
