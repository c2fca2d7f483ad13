import type { GateConfig } from '../training/config.ts';

/**
 * Promotion gate (after TFX blessing and MLflow thresholds): a candidate gets `production` only
 * if, on the held-back window, it beats the naive baseline and the current production model by
 * the configured relative margins on the configured metric (lower is better).
 */
export interface GateInput {
  candidate: Record<string, number>;
  baselines: Record<string, Record<string, number>>;
  /** The production model's metrics on the same window; undefined when there is none (or it can't be compared). */
  production?: Record<string, number> | undefined;
  productionNote?: string;
}

export interface GateDecision {
  promote: boolean;
  reason: string;
  checks: Array<{ name: string; candidate: number; threshold: number; passed: boolean }>;
}

export function decidePromotion(cfg: GateConfig, input: GateInput): GateDecision {
  const m = cfg.metric;
  const cand = input.candidate[m];
  const checks: GateDecision['checks'] = [];
  if (cand === undefined || !Number.isFinite(cand)) {
    return { promote: false, reason: `candidate ${m} is not a finite number`, checks };
  }
  const names = cfg.baseline === 'best' ? Object.keys(input.baselines) : [cfg.baseline];
  for (const name of names) {
    const b = input.baselines[name]?.[m];
    if (b === undefined || !Number.isFinite(b)) return { promote: false, reason: `baseline ${name} has no ${m}`, checks };
    const threshold = b * (1 - cfg.baselineMargin);
    checks.push({ name: `baseline:${name}`, candidate: cand, threshold, passed: cand < threshold });
  }
  if (input.production) {
    const p = input.production[m];
    if (p !== undefined && Number.isFinite(p)) {
      const threshold = p * (1 - cfg.productionMargin);
      checks.push({ name: 'production', candidate: cand, threshold, passed: cand < threshold });
    }
  }
  const failed = checks.filter((c) => !c.passed);
  const fmt = (c: GateDecision['checks'][number]) => `${m} ${c.candidate.toPrecision(6)} vs ${c.name} threshold ${c.threshold.toPrecision(6)}`;
  if (failed.length > 0) return { promote: false, reason: `gate failed: ${failed.map(fmt).join('; ')}`, checks };
  const note = input.production ? '' : ` (${input.productionNote ?? 'no production model to compare'})`;
  return { promote: true, reason: `gate passed: ${checks.map(fmt).join('; ')}${note}`, checks };
}
