/**
 * Monitor configuration from environment variables (MONITOR_*), documented in docs/monitoring.md.
 * Thresholds accept "off" to disable that trigger.
 */
import { z } from 'zod';
import { ConfigError, envPort } from '@stock-mlops/platform';
import { DEFAULT_SETTINGS, type MonitorSettings } from '@stock-mlops/monitor';

const int = (d: number, min = 1) => z.coerce.number().int().min(min).default(d);
/** A threshold; "off" disables it (±Infinity, so it is never crossed). */
const threshold = (d: number, off: number) =>
  z
    .union([z.literal('off'), z.coerce.number().refine(Number.isFinite, 'must be a finite number or "off"')])
    .default(d)
    .transform((v) => (v === 'off' ? off : v));

export const MonitorEnv = z.object({
  MONITOR_GRPC_HOST: z.string().default('127.0.0.1'),
  MONITOR_GRPC_PORT: envPort.default(50052),
  MONITOR_EVAL_MS: int(30_000, 100),
  MONITOR_MODEL_POLL_MS: int(30_000, 100),
  MONITOR_REPORT_RETENTION_MS: int(7 * 86_400_000, 1_000),
  MONITOR_PERF_WINDOW: int(DEFAULT_SETTINGS.perfWindow),
  MONITOR_DRIFT_WINDOW: int(DEFAULT_SETTINGS.driftWindow),
  MONITOR_MIN_DRIFT_SAMPLES: int(DEFAULT_SETTINGS.minDriftSamples),
  MONITOR_MIN_OUTCOMES: int(DEFAULT_SETTINGS.minOutcomes),
  MONITOR_FEATURE_PSI: threshold(DEFAULT_SETTINGS.featurePsi, Infinity),
  MONITOR_FEATURE_DRIFT_SHARE: threshold(DEFAULT_SETTINGS.featureDriftShare, Infinity),
  MONITOR_PREDICTION_PSI: threshold(DEFAULT_SETTINGS.predictionPsi, Infinity),
  MONITOR_SENTIMENT_PSI: threshold(DEFAULT_SETTINGS.sentimentPsi, Infinity),
  MONITOR_SENTIMENT_BASELINE: int(DEFAULT_SETTINGS.sentimentBaseline),
  MONITOR_MAX_MAPE_RATIO: threshold(DEFAULT_SETTINGS.maxMapeRatio, Infinity),
  MONITOR_MIN_DIRECTIONAL_ACCURACY: threshold(DEFAULT_SETTINGS.minDirectionalAccuracy, -Infinity),
  MONITOR_MIN_IC: threshold(DEFAULT_SETTINGS.minIc, -Infinity),
  MONITOR_COOLDOWN_MS: int(DEFAULT_SETTINGS.cooldownMs, 0),
  MONITOR_CLEAR_AFTER: int(DEFAULT_SETTINGS.clearAfterEvaluations),
  MONITOR_MAX_BARS: int(DEFAULT_SETTINGS.maxBarsPerSeries, 2),
  MONITOR_MAX_PENDING: int(DEFAULT_SETTINGS.maxPendingPerSeries),
  /** Live promotion of the price challenger: off unless "on". */
  MONITOR_PROMOTION: z.enum(['on', 'off']).default(DEFAULT_SETTINGS.promotionEnabled ? 'on' : 'off'),
  /** The paired test the promotion is decided on: Diebold–Mariano on squared or absolute return errors. */
  MONITOR_PROMOTION_METRIC: z.enum(['dm_squared', 'dm_absolute']).default(`dm_${DEFAULT_SETTINGS.promotionLoss}`),
  MONITOR_PROMOTION_MAX_P: z.coerce.number().gt(0).lt(1).default(DEFAULT_SETTINGS.promotionMaxPValue),
  MONITOR_PROMOTION_MIN_OUTCOMES: int(DEFAULT_SETTINGS.promotionMinOutcomes, 3),
  MONITOR_PROMOTION_COOLDOWN_MS: int(DEFAULT_SETTINGS.promotionCooldownMs, 0),
});
export type MonitorEnv = z.infer<typeof MonitorEnv>;

/** Settings from the validated environment; E_CONFIG when the variables contradict each other. */
export function settingsFrom(env: MonitorEnv): MonitorSettings {
  // The paired outcomes come from the per-version windows: more could never be reached.
  // (Checked here: the service extends the schema's shape, which would drop a zod refinement.)
  if (env.MONITOR_PROMOTION_MIN_OUTCOMES > env.MONITOR_PERF_WINDOW) {
    throw new ConfigError([`MONITOR_PROMOTION_MIN_OUTCOMES (${env.MONITOR_PROMOTION_MIN_OUTCOMES}) must not exceed MONITOR_PERF_WINDOW (${env.MONITOR_PERF_WINDOW})`]);
  }
  return {
    perfWindow: env.MONITOR_PERF_WINDOW,
    driftWindow: env.MONITOR_DRIFT_WINDOW,
    minDriftSamples: env.MONITOR_MIN_DRIFT_SAMPLES,
    minOutcomes: env.MONITOR_MIN_OUTCOMES,
    featurePsi: env.MONITOR_FEATURE_PSI,
    featureDriftShare: env.MONITOR_FEATURE_DRIFT_SHARE,
    predictionPsi: env.MONITOR_PREDICTION_PSI,
    sentimentPsi: env.MONITOR_SENTIMENT_PSI,
    sentimentBaseline: env.MONITOR_SENTIMENT_BASELINE,
    maxMapeRatio: env.MONITOR_MAX_MAPE_RATIO,
    minDirectionalAccuracy: env.MONITOR_MIN_DIRECTIONAL_ACCURACY,
    minIc: env.MONITOR_MIN_IC,
    cooldownMs: env.MONITOR_COOLDOWN_MS,
    clearAfterEvaluations: env.MONITOR_CLEAR_AFTER,
    maxBarsPerSeries: env.MONITOR_MAX_BARS,
    maxPendingPerSeries: env.MONITOR_MAX_PENDING,
    promotionEnabled: env.MONITOR_PROMOTION === 'on',
    promotionLoss: env.MONITOR_PROMOTION_METRIC === 'dm_absolute' ? 'absolute' : 'squared',
    promotionMaxPValue: env.MONITOR_PROMOTION_MAX_P,
    promotionMinOutcomes: env.MONITOR_PROMOTION_MIN_OUTCOMES,
    promotionCooldownMs: env.MONITOR_PROMOTION_COOLDOWN_MS,
  };
}
