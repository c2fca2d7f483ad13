/**
 * Trigger policy: which evaluations are breaches, and when a breach becomes a retrain request.
 *
 * - A breach is a threshold crossed by the latest evaluation (feature drift, prediction drift,
 *   sentiment label drift, or realized performance), with its numbers as evidence.
 * - Incidents de-duplicate: the first breach opens an incident (one incident id, one retrain
 *   request); while it stays open, further breaches only count occurrences. It closes when the
 *   serving version changes (the retrain was promoted), when a retrain ends without a promotion
 *   (rejected or failed: a later breach may ask again), or after `clearAfterEvaluations`
 *   evaluations in a row without a breach.
 * - Cool-down: no new retrain request for a task within `cooldownMs` of the previous one; a
 *   breach during the cool-down is reported as suppressed and opens no incident.
 * The state is a flat record so the service can persist it as is.
 */
import { createHash } from 'node:crypto';
import type { ModelRef } from '@stock-mlops/contracts';
import type { MonitorSettings } from './settings.ts';
import type { FeatureDriftSummary, LabelDrift, NumericDrift } from './drift.ts';
import type { RollingPerformance } from './performance.ts';

export type BreachKind = 'feature_drift' | 'prediction_drift' | 'sentiment_drift' | 'performance';

export interface Breach {
  kind: BreachKind;
  reason: string;
  evidence: Record<string, number>;
}

export interface Assessment {
  featureDrift?: FeatureDriftSummary | undefined;
  predictionDrift?: NumericDrift | undefined;
  sentimentDrift?: LabelDrift | undefined;
  performance?: RollingPerformance | undefined;
  /** The version's MAPE on its test window (registry), for the MAPE ratio. */
  referenceMape?: number | undefined;
}

const fmt = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(4)).toString() : String(x));

function finite(evidence: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(evidence).filter(([, v]) => Number.isFinite(v)));
}

export function assessBreaches(a: Assessment, s: MonitorSettings): Breach[] {
  const out: Breach[] = [];
  const fd = a.featureDrift;
  if (fd && fd.n >= s.minDriftSamples && fd.evaluated > 0 && fd.driftedShare >= s.featureDriftShare) {
    out.push({
      kind: 'feature_drift',
      reason: `feature drift: ${fd.drifted}/${fd.evaluated} features with PSI > ${fmt(s.featurePsi)} (max ${fmt(fd.psiMax)} ${fd.psiMaxFeature}, KS max ${fmt(fd.ksMax)} ${fd.ksMaxFeature}) over ${fd.n} live vectors`,
      evidence: finite({
        featureDriftShare: fd.driftedShare,
        featuresDrifted: fd.drifted,
        featuresEvaluated: fd.evaluated,
        featurePsiMax: fd.psiMax,
        featurePsiMean: fd.psiMean,
        featureKsMax: fd.ksMax,
        driftSamples: fd.n,
        featurePsiThreshold: s.featurePsi,
      }),
    });
  }
  const pd = a.predictionDrift;
  if (pd && pd.n >= s.minDriftSamples && pd.psi > s.predictionPsi) {
    out.push({
      kind: 'prediction_drift',
      reason: `prediction drift: PSI ${fmt(pd.psi)} > ${fmt(s.predictionPsi)} (KS ${fmt(pd.ksStatistic)}, mean ${fmt(pd.currentMean)} vs ${fmt(pd.referenceMean)}) over ${pd.n} predictions`,
      evidence: finite({ predictionPsi: pd.psi, predictionKs: pd.ksStatistic, predictionKsPValue: pd.ksPValue, predictionSamples: pd.n }),
    });
  }
  const sd = a.sentimentDrift;
  if (sd && sd.n >= s.minDriftSamples && sd.psi > s.sentimentPsi) {
    out.push({
      kind: 'sentiment_drift',
      reason: `sentiment label drift: PSI ${fmt(sd.psi)} > ${fmt(s.sentimentPsi)} (chi-square ${fmt(sd.chiSquare)}, p ${fmt(sd.pValue)}) over ${sd.n} predictions`,
      evidence: finite({ sentimentPsi: sd.psi, sentimentChiSquare: sd.chiSquare, sentimentPValue: sd.pValue, sentimentSamples: sd.n }),
    });
  }
  const p = a.performance;
  if (p && p.n >= s.minOutcomes) {
    const reasons: string[] = [];
    const mapeRatio = a.referenceMape && a.referenceMape > 0 ? p.mape / a.referenceMape : NaN;
    if (mapeRatio > s.maxMapeRatio) reasons.push(`MAPE ${fmt(p.mape)} is ${fmt(mapeRatio)}× the test-window ${fmt(a.referenceMape!)} (limit ${fmt(s.maxMapeRatio)}×)`);
    if (p.directionalAccuracy < s.minDirectionalAccuracy) reasons.push(`directional accuracy ${fmt(p.directionalAccuracy)} < ${fmt(s.minDirectionalAccuracy)}`);
    if (p.ic < s.minIc) reasons.push(`IC ${fmt(p.ic)} < ${fmt(s.minIc)}`);
    if (reasons.length) {
      out.push({
        kind: 'performance',
        reason: `realized performance over ${p.n} predictions: ${reasons.join('; ')}`,
        evidence: finite({ mae: p.mae, mape: p.mape, mapeRatio, directionalAccuracy: p.directionalAccuracy, ic: p.ic, outcomes: p.n }),
      });
    }
  }
  return out;
}

export interface TriggerState {
  task: 'price' | 'sentiment';
  lastRequestAtMs: number | undefined;
  incidentId: string | undefined;
  incidentOpenedAtMs: number | undefined;
  incidentModelVersion: number | undefined;
  incidentOccurrences: number;
  cleanStreak: number;
  requests: number;
}

export function initialTriggerState(task: 'price' | 'sentiment'): TriggerState {
  return {
    task,
    lastRequestAtMs: undefined,
    incidentId: undefined,
    incidentOpenedAtMs: undefined,
    incidentModelVersion: undefined,
    incidentOccurrences: 0,
    cleanStreak: 0,
    requests: 0,
  };
}

export type TriggerAction = 'none' | 'retrain_requested' | 'deduplicated' | 'cooldown' | 'cleared';

export interface TriggerDecision {
  action: TriggerAction;
  state: TriggerState;
  /** Set when a retrain is requested: what to publish and record. */
  request?: {
    incidentId: string;
    model: ModelRef;
    reason: string;
    evidence: Record<string, number>;
    breaches: BreachKind[];
  };
  /** Set when an incident closed. */
  closed?: { incidentId: string; reason: string };
}

export function incidentIdFor(task: string, model: ModelRef, openedAtMs: number): string {
  return `${task}-${model.name}-v${model.version}-${createHash('sha256').update(`${task}|${model.name}|${model.version}|${openedAtMs}`).digest('hex').slice(0, 12)}`;
}

/** Combine the evidence of several breaches into one record (keys are distinct per kind). */
export function mergeEvidence(model: ModelRef, breaches: readonly Breach[]): Record<string, number> {
  const out: Record<string, number> = { modelVersion: model.version };
  for (const b of breaches) Object.assign(out, b.evidence);
  return out;
}

export function decideTrigger(state: TriggerState, breaches: readonly Breach[], model: ModelRef, nowMs: number, s: MonitorSettings): TriggerDecision {
  if (breaches.length === 0) {
    if (!state.incidentId) return { action: 'none', state: { ...state, cleanStreak: 0 } };
    const cleanStreak = state.cleanStreak + 1;
    if (cleanStreak >= s.clearAfterEvaluations) {
      const closed = { incidentId: state.incidentId, reason: `no breach in ${cleanStreak} evaluations` };
      return { action: 'cleared', state: closeIncident(state), closed };
    }
    return { action: 'none', state: { ...state, cleanStreak } };
  }
  if (state.incidentId) {
    return { action: 'deduplicated', state: { ...state, cleanStreak: 0, incidentOccurrences: state.incidentOccurrences + 1 } };
  }
  if (state.lastRequestAtMs !== undefined && nowMs - state.lastRequestAtMs < s.cooldownMs) {
    return { action: 'cooldown', state: { ...state, cleanStreak: 0 } };
  }
  const incidentId = incidentIdFor(state.task, model, nowMs);
  return {
    action: 'retrain_requested',
    state: {
      ...state,
      lastRequestAtMs: nowMs,
      incidentId,
      incidentOpenedAtMs: nowMs,
      incidentModelVersion: model.version,
      incidentOccurrences: 1,
      cleanStreak: 0,
      requests: state.requests + 1,
    },
    request: {
      incidentId,
      model,
      reason: breaches.map((b) => b.reason).join('; ').slice(0, 2000),
      evidence: mergeEvidence(model, breaches),
      breaches: breaches.map((b) => b.kind),
    },
  };
}

function closeIncident(state: TriggerState): TriggerState {
  return { ...state, incidentId: undefined, incidentOpenedAtMs: undefined, incidentModelVersion: undefined, incidentOccurrences: 0, cleanStreak: 0 };
}

/** The serving version changed: an incident opened against another version is resolved. */
export function onServingChanged(state: TriggerState, model: ModelRef): { state: TriggerState; closed?: { incidentId: string; reason: string } } {
  if (!state.incidentId || state.incidentModelVersion === model.version) return { state };
  return { state: closeIncident(state), closed: { incidentId: state.incidentId, reason: `version ${model.version} now serves` } };
}

/** A retrain ended without a promotion: close the incident so that a later breach may ask again (after the cool-down). */
export function onRetrainEnded(state: TriggerState, outcome: string): { state: TriggerState; closed?: { incidentId: string; reason: string } } {
  if (!state.incidentId) return { state };
  return { state: closeIncident(state), closed: { incidentId: state.incidentId, reason: `retrain ${outcome}` } };
}
