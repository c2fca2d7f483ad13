/**
 * The zero-return baseline as a served version (issue 14): while no price model has passed the
 * gate, `production` points at an ordinary registry version of the model that predicts a return
 * of exactly 0 for every window (the random walk), marked as a baseline in its params
 * (`params.baseline = 'zero-return'`) so clients and the dashboard see what they get.
 *
 * Pure: which kind a version is, and what to do after a gate decision. The registration itself
 * (ml_service.ts `serveZeroReturnBaseline`) does the I/O.
 */

/** `params.baseline` of the zero-return baseline version. */
export const ZERO_RETURN_BASELINE = 'zero-return';
/** What a version is, as clients see it (gRPC ModelInfo.kind): a trained model or a named baseline. */
export type ModelKind = 'model' | `baseline:${string}`;

/** `model`, or `baseline:<name>` for a version registered as a baseline (`params.baseline`). */
export function modelKind(params: Readonly<Record<string, unknown>> | null | undefined): ModelKind {
  const b = params?.baseline;
  return typeof b === 'string' && b.length > 0 ? `baseline:${b}` : 'model';
}

/** The registry facts the fallback decision needs. */
export interface BaselineFallbackInput {
  /** The gate sent the candidate to production or challenger (nothing to fall back from). */
  passed: boolean;
  /** The version `production` points at after the decision; undefined when there is none. */
  production: number | undefined;
  /** Existing zero-return baseline versions of the model, with their feature schema hash. */
  baselines: ReadonlyArray<{ version: number; featureSchemaHash: string }>;
  /** The feature schema of the rejected candidate (the stream's schema the predictor checks). */
  featureSchemaHash: string;
}

export type BaselineFallback =
  | { action: 'none'; reason: string }
  | { action: 'reuse'; version: number; reason: string }
  | { action: 'register'; reason: string };

/** The statusReason of the baseline version while it is production. */
export const BASELINE_REASON = 'zero-return baseline: no price model has passed the gate; predicts a return of 0 for every window';

/**
 * After a price gate decision: serve the zero-return baseline only when the candidate was
 * rejected and nothing is in production; reuse the newest baseline version of the same feature
 * schema rather than registering another one.
 */
export function decideBaselineFallback(input: BaselineFallbackInput): BaselineFallback {
  if (input.passed) return { action: 'none', reason: 'the candidate passed the gate' };
  if (input.production !== undefined) return { action: 'none', reason: `v${input.production} stays in production` };
  const same = input.baselines.filter((b) => b.featureSchemaHash === input.featureSchemaHash).sort((a, b) => b.version - a.version)[0];
  if (same) return { action: 'reuse', version: same.version, reason: BASELINE_REASON };
  return { action: 'register', reason: BASELINE_REASON };
}
