import type { LossKind } from '@stock-mlops/ml/evaluation/paired_tests';

/**
 * Monitor settings: window sizes and trigger thresholds. The service fills them from
 * environment variables (MONITOR_*); the defaults below are documented in docs/monitoring.md.
 * A threshold set to Infinity (or -Infinity for the "minimum" ones) disables that trigger.
 */
export interface MonitorSettings {
  /** Resolved predictions kept per model version and per (version, symbol), newest by event time. */
  perfWindow: number;
  /** Live feature vectors, predictions and sentiment labels kept for drift, newest by event time. */
  driftWindow: number;
  /** Fewer live samples than this: drift is not evaluated (reported as insufficient). */
  minDriftSamples: number;
  /** Fewer resolved live predictions than this: performance triggers stay silent. */
  minOutcomes: number;
  /** A feature drifts when its PSI exceeds this (10 quantile bins of the reference). */
  featurePsi: number;
  /** Feature drift breach: at least this share of the reference features drift. */
  featureDriftShare: number;
  /** Prediction drift breach: PSI of the predicted returns against the version's own test-window predictions. */
  predictionPsi: number;
  /** Sentiment label drift breach: PSI of the label distribution. */
  sentimentPsi: number;
  /** Sentiment versions without a stored reference use their first N predictions as the reference. */
  sentimentBaseline: number;
  /** Performance breach: live MAPE above this multiple of the version's test-window MAPE. */
  maxMapeRatio: number;
  /** Performance breach: rolling directional accuracy below this. */
  minDirectionalAccuracy: number;
  /** Performance breach: rolling information coefficient below this. */
  minIc: number;
  /** No new retrain request for a task within this long after the previous one. */
  cooldownMs: number;
  /** An open incident closes after this many consecutive evaluations without a breach. */
  clearAfterEvaluations: number;
  /** Bars kept per (symbol, interval) to resolve predictions. */
  maxBarsPerSeries: number;
  /** Unresolved predictions kept per (symbol, interval); the oldest are dropped beyond it. */
  maxPendingPerSeries: number;
  /** Live promotion of the challenger (off by default). */
  promotionEnabled: boolean;
  /** Loss of the Diebold–Mariano test the promotion is decided on (and the report's paired test). */
  promotionLoss: LossKind;
  /** Promote when the one-sided DM p-value (challenger better) is below this. */
  promotionMaxPValue: number;
  /** No decision before this many paired outcomes (at most perfWindow). */
  promotionMinOutcomes: number;
  /** No two promotion decisions for the same model name within this long. */
  promotionCooldownMs: number;
}

export const DEFAULT_SETTINGS: Readonly<MonitorSettings> = Object.freeze({
  perfWindow: 250,
  driftWindow: 250,
  minDriftSamples: 50,
  minOutcomes: 50,
  featurePsi: 0.25,
  featureDriftShare: 0.75,
  predictionPsi: 0.5,
  sentimentPsi: 0.25,
  sentimentBaseline: 200,
  maxMapeRatio: 3,
  minDirectionalAccuracy: 0.42,
  minIc: -0.15,
  cooldownMs: 86_400_000,
  clearAfterEvaluations: 3,
  maxBarsPerSeries: 2_000,
  maxPendingPerSeries: 5_000,
  promotionEnabled: false,
  promotionLoss: 'squared',
  promotionMaxPValue: 0.05,
  promotionMinOutcomes: 200,
  promotionCooldownMs: 86_400_000,
});
