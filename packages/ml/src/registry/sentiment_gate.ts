/**
 * The sentiment gate. Without held-back labels it is the shared rule (gate.ts): beat the majority
 * baseline and production on the fixed evaluation set. With at least `minHeldBack` held-back labels
 * and a production model scored on both sets, the production check becomes two:
 *   (a) fixed set:  candidate[metric]       ≥ production[metric]       − labelsTolerance
 *   (b) held back:  candidate[labelsMetric] > production[labelsMetric] + labelsMargin
 * so a model that forgets the old data (fails a) or ignores the new labels (fails b) is not promoted.
 */
import type { SentimentGateConfig } from '../training/config.ts';
import { decidePromotion, type GateCheck, type GateDecision } from './gate.ts';

export type ClassScores = { accuracy: number; macroF1: number };

export interface SentimentGateInput {
  candidate: ClassScores;
  majority: ClassScores;
  production?: ClassScores | undefined;
  productionNote: string;
  /** Scores on the held-back labels; production undefined when there is no production model. */
  heldBack?: { n: number; candidate: ClassScores; production?: ClassScores | undefined } | undefined;
}

export function decideSentimentPromotion(gate: SentimentGateConfig, input: SentimentGateInput): GateDecision {
  const labels = input.heldBack;
  const withLabels = labels !== undefined && labels.n >= gate.minHeldBack && input.production !== undefined && labels.production !== undefined;
  if (!withLabels) {
    return decidePromotion(gate, { candidate: input.candidate, baselines: { majority: input.majority }, production: input.production, productionNote: input.productionNote });
  }
  const base = decidePromotion(gate, { candidate: input.candidate, baselines: { majority: input.majority }, productionNote: input.productionNote });
  const m = gate.metric;
  const lm = gate.labelsMetric;
  const fixed: GateCheck = { name: 'production:fixed', candidate: input.candidate[m], threshold: input.production![m] - gate.labelsTolerance, passed: false };
  fixed.passed = fixed.candidate >= fixed.threshold;
  const held: GateCheck = { name: 'production:held_back', candidate: labels.candidate[lm], threshold: labels.production![lm] + gate.labelsMargin, passed: false };
  held.passed = held.candidate > held.threshold;
  const checks = [...base.checks, fixed, held];
  const fmt = (c: GateCheck) => `${c.name === 'production:held_back' ? lm : m} ${c.candidate.toPrecision(6)} vs ${c.name} threshold ${c.threshold.toPrecision(6)}`;
  const failed = checks.filter((c) => !c.passed);
  if (!base.promote && base.checks.length === 0) return base;
  const suffix = ` (${labels.n} held-back labels, ${input.productionNote})`;
  if (failed.length > 0) return { promote: false, reason: `gate failed: ${failed.map(fmt).join('; ')}${suffix}`, checks };
  return { promote: true, reason: `gate passed: ${checks.map(fmt).join('; ')}${suffix}`, checks };
}
