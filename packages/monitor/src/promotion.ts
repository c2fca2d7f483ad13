/**
 * Live promotion policy: promote the challenger when the realized evidence says it is better.
 *
 * - Off unless enabled (MONITOR_PROMOTION=on): then nothing is ever decided.
 * - No decision before `promotionMinOutcomes` paired outcomes (both versions, same events).
 * - With enough of them: `promote` when the Diebold–Mariano test (HLN, one-sided: the
 *   challenger's expected loss is lower) has p < `promotionMaxPValue`, else `keep` (the window
 *   was full and the evidence did not suffice).
 * - Cool-down: no two decisions for the same model name within `promotionCooldownMs`.
 * Every decision is published as a monitor event with the numbers behind it. The state is a
 * flat record so the service can persist it as is.
 */
import type { ModelRef } from '@stock-mlops/contracts';
import type { PairedComparison } from './challenger.ts';
import type { MonitorSettings } from './settings.ts';

export interface PromotionState {
  modelName: string;
  lastDecisionAtMs: number | undefined;
  lastAction: 'promote' | 'keep' | undefined;
  lastChallengerVersion: number | undefined;
  decisions: number;
}

export function initialPromotionState(modelName: string): PromotionState {
  return { modelName, lastDecisionAtMs: undefined, lastAction: undefined, lastChallengerVersion: undefined, decisions: 0 };
}

export type PromotionAction = 'off' | 'no_challenger' | 'waiting' | 'cooldown' | 'promote' | 'keep';

export interface PromotionDecision {
  action: PromotionAction;
  reason: string;
  /** The state after the decision, and before it (restored when the promotion cannot be carried out). */
  state: PromotionState;
  previous: PromotionState;
  production?: ModelRef;
  challenger?: ModelRef;
  evidence: Record<string, number>;
}

type PromotionSettings = Pick<MonitorSettings, 'promotionEnabled' | 'promotionMaxPValue' | 'promotionMinOutcomes' | 'promotionCooldownMs'>;

const fmt = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(4)).toString() : String(x));

/** The numbers behind a decision (finite ones only: the event schema takes no NaN). */
export function promotionEvidence(c: PairedComparison, s: PromotionSettings): Record<string, number> {
  const all: Record<string, number> = {
    productionVersion: c.productionVersion,
    challengerVersion: c.challengerVersion,
    pairedOutcomes: c.n,
    minOutcomes: s.promotionMinOutcomes,
    maxPValue: s.promotionMaxPValue,
    horizon: c.horizon,
    meanLossDifference: c.meanLossDifference,
    dmStatistic: c.dmStatistic,
    dmHlnStatistic: c.dmHlnStatistic,
    dmPValue: c.dmPValue,
    dmPValueTwoSided: c.dmPValueTwoSided,
    maeRatio: c.maeRatio,
    rmseRatio: c.rmseRatio,
    productionMaeVsZero: c.productionMaeVsZero,
    productionRmseVsZero: c.productionRmseVsZero,
    challengerMaeVsZero: c.challengerMaeVsZero,
    challengerRmseVsZero: c.challengerRmseVsZero,
    productionIc: c.productionIc,
    challengerIc: c.challengerIc,
    productionRankIc: c.productionRankIc,
    challengerRankIc: c.challengerRankIc,
    productionDirectionalAccuracy: c.productionDirectionalAccuracy,
    challengerDirectionalAccuracy: c.challengerDirectionalAccuracy,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => Number.isFinite(v)));
}

export function decidePromotion(state: PromotionState, comparison: PairedComparison | undefined, nowMs: number, s: PromotionSettings): PromotionDecision {
  const base = { state, previous: state, evidence: {} };
  if (!s.promotionEnabled) return { ...base, action: 'off', reason: 'live promotion is off' };
  if (!comparison) return { ...base, action: 'no_challenger', reason: 'no challenger' };
  const production = { name: comparison.modelName, version: comparison.productionVersion };
  const challenger = { name: comparison.modelName, version: comparison.challengerVersion };
  const refs = { production, challenger };
  if (comparison.n < s.promotionMinOutcomes) {
    return { ...base, ...refs, action: 'waiting', reason: `${comparison.n} of ${s.promotionMinOutcomes} paired outcomes` };
  }
  if (state.lastDecisionAtMs !== undefined && nowMs - state.lastDecisionAtMs < s.promotionCooldownMs) {
    return { ...base, ...refs, action: 'cooldown', reason: `last decision (${state.lastAction} v${state.lastChallengerVersion}) ${Math.round((nowMs - state.lastDecisionAtMs) / 1000)} s ago` };
  }
  const evidence = promotionEvidence(comparison, s);
  const better = comparison.dmPValue < s.promotionMaxPValue;
  const action = better ? 'promote' : 'keep';
  const test = `Diebold–Mariano (HLN, ${comparison.loss} loss) one-sided p ${fmt(comparison.dmPValue)} ${better ? '<' : '>='} ${fmt(s.promotionMaxPValue)}`;
  const reason = `${better ? 'promote' : 'keep'} ${comparison.modelName}: challenger v${challenger.version} vs production v${production.version} over ${comparison.n} paired outcomes, ${test}; RMSE ratio ${fmt(comparison.rmseRatio)}, IC ${fmt(comparison.challengerIc)} vs ${fmt(comparison.productionIc)}`;
  return {
    action,
    reason,
    ...refs,
    evidence,
    previous: state,
    state: { ...state, lastDecisionAtMs: nowMs, lastAction: action, lastChallengerVersion: challenger.version, decisions: state.decisions + 1 },
  };
}
