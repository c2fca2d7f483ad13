/**
 * Promotion gate (after TFX blessing and MLflow thresholds): a candidate gets `production` only
 * if, on the held-back data, it beats the naive baseline(s) and the current production model by
 * the configured relative margins on the configured metric. Error metrics (rmse, mae, …) must
 * go down; scores (macroF1, accuracy, …) must go up.
 */
export interface GateRule {
  /** Metric compared, e.g. 'rmse' (price) or 'macroF1' (sentiment). */
  metric: string;
  /** One baseline name, or 'best' for every baseline in the input. */
  baseline: string;
  /** Required relative improvement over the baseline (0.001 = 0.1 %); negative allows a worse model. */
  baselineMargin: number;
  /** Required relative improvement over the current production model on the same data. */
  productionMargin: number;
  /** Baselines checked whatever `baseline` says (price: the zero return, i.e. the random walk). */
  requiredBaselines?: readonly string[];
  /**
   * Minimum t-statistic of the candidate's information coefficient on the held-back data
   * (t = ic·√((n−2)/(1−ic²)), the t-test of a correlation); 0 or absent: not checked.
   * Needs `ic` and `n` among the candidate's metrics.
   */
  minIcT?: number;
}

export interface GateInput {
  candidate: Record<string, number>;
  baselines: Record<string, Record<string, number>>;
  /** The production model's metrics on the same data; undefined when there is none (or it can't be compared). */
  production?: Record<string, number> | undefined;
  productionNote?: string;
}

export interface GateCheck {
  name: string;
  candidate: number;
  threshold: number;
  passed: boolean;
}

export interface GateDecision {
  promote: boolean;
  reason: string;
  checks: GateCheck[];
}

const HIGHER_IS_BETTER = new Set(['macroF1', 'accuracy', 'directionalAccuracy', 'ic', 'rankIc', 'sharpe', 'backtest_sharpe']);

export function higherIsBetter(metric: string): boolean {
  return HIGHER_IS_BETTER.has(metric);
}

/** The value the candidate must beat: the reference improved by `margin` in the metric's good direction. */
function thresholdFor(metric: string, reference: number, margin: number): number {
  return higherIsBetter(metric) ? reference + Math.abs(reference) * margin : reference * (1 - margin);
}

function beats(metric: string, candidate: number, threshold: number): boolean {
  return higherIsBetter(metric) ? candidate > threshold : candidate < threshold;
}

export function decidePromotion(rule: GateRule, input: GateInput): GateDecision {
  const m = rule.metric;
  const cand = input.candidate[m];
  const checks: GateCheck[] = [];
  if (cand === undefined || !Number.isFinite(cand)) {
    return { promote: false, reason: `candidate ${m} is not a finite number`, checks };
  }
  const names = new Set([...(rule.baseline === 'best' ? Object.keys(input.baselines) : [rule.baseline]), ...(rule.requiredBaselines ?? [])]);
  for (const name of names) {
    const b = input.baselines[name]?.[m];
    if (b === undefined || !Number.isFinite(b)) return { promote: false, reason: `baseline ${name} has no ${m}`, checks };
    const threshold = thresholdFor(m, b, rule.baselineMargin);
    checks.push({ name: `baseline:${name}`, candidate: cand, threshold, passed: beats(m, cand, threshold) });
  }
  if (rule.minIcT !== undefined && rule.minIcT > 0) {
    const t = icTStat(input.candidate.ic, input.candidate.n);
    if (!Number.isFinite(t)) return { promote: false, reason: 'candidate has no ic and n for the IC t-statistic', checks };
    checks.push({ name: 'ic_t', candidate: t, threshold: rule.minIcT, passed: t >= rule.minIcT });
  }
  if (input.production) {
    const p = input.production[m];
    if (p !== undefined && Number.isFinite(p)) {
      const threshold = thresholdFor(m, p, rule.productionMargin);
      checks.push({ name: 'production', candidate: cand, threshold, passed: beats(m, cand, threshold) });
    }
  }
  const failed = checks.filter((c) => !c.passed);
  const fmt = (c: GateCheck) => `${c.name === 'ic_t' ? 'IC t-stat' : m} ${c.candidate.toPrecision(6)} vs ${c.name} threshold ${c.threshold.toPrecision(6)}`;
  if (failed.length > 0) return { promote: false, reason: `gate failed: ${failed.map(fmt).join('; ')}`, checks };
  const note = input.production ? '' : ` (${input.productionNote ?? 'no production model to compare'})`;
  return { promote: true, reason: `gate passed: ${checks.map(fmt).join('; ')}${note}`, checks };
}

/** t-statistic of a Pearson correlation `ic` over `n` pairs; NaN when undefined. */
export function icTStat(ic: number | undefined, n: number | undefined): number {
  if (ic === undefined || n === undefined || !Number.isFinite(ic) || !(n > 2)) return Number.NaN;
  if (Math.abs(ic) >= 1) return Math.sign(ic) * Number.POSITIVE_INFINITY;
  return ic * Math.sqrt((n - 2) / (1 - ic * ic));
}
