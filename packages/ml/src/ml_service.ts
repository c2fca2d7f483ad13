import type { ModelEvent } from '@stock-mlops/contracts';
import type { Tf } from './tf.ts';
import type { FeatureRow } from './datasets/supervised.ts';
import { makeSupervised } from './datasets/supervised.ts';
import { priceMetrics } from './evaluation/metrics.ts';
import { referenceStats, referenceStatsByFeature, toColumns, type ReferenceStats } from './evaluation/drift.ts';
import { decidePromotion, type GateDecision } from './registry/gate.ts';
import { ModelStore, type ModelVersion } from './registry/model_store.ts';
import type { PriceTrainConfig } from './training/config.ts';
import { flattenEvaluation, trainPrice, type PriceTrainingResult } from './training/train.ts';
import { PriceModel, type EpochLog } from './training/models/price_predictor.ts';

/**
 * ML service facade used by the trainer service and the CLIs: train → evaluate → register →
 * gate → promote. Returns the model events to publish; transports stay in the adapters.
 */
export const PRICE_MODEL = 'price';

export interface PriceRunInput {
  tf: Tf;
  store: ModelStore;
  rows: readonly FeatureRow[];
  featureSchemaHash: string;
  featureNames?: string[];
  cfg: PriceTrainConfig;
  gitSha: string;
  lineage: Record<string, unknown>;
  onEpoch?: (log: EpochLog) => void;
}

export interface PriceRunResult {
  version: ModelVersion;
  decision: GateDecision;
  promoted: boolean;
  training: PriceTrainingResult;
  events: ModelEvent[];
}

/** Evaluate the current production model on the candidate's test window (same as-of rows). */
async function productionOnTestWindow(input: PriceRunInput, training: PriceTrainingResult): Promise<{ metrics?: Record<string, number>; note: string }> {
  const alias = await input.store.getAlias(PRICE_MODEL, 'production');
  if (!alias) return { note: 'no production model yet' };
  const meta = await input.store.get(PRICE_MODEL, alias.version);
  if (meta.featureSchemaHash !== input.featureSchemaHash) {
    return { note: `production v${alias.version} uses another feature schema; compared with baselines only` };
  }
  const prod = await PriceModel.deserialize(input.tf, await input.store.loadArtifacts(PRICE_MODEL, alias.version));
  try {
    const want = new Set(training.test.map((s) => `${s.symbol}|${s.ts}`));
    const samples = makeSupervised(input.rows, { horizon: input.cfg.model.horizon, lookback: prod.meta.config.lookback }).filter((s) =>
      want.has(`${s.symbol}|${s.ts}`),
    );
    if (samples.length !== training.test.length) return { note: `production v${alias.version} could not be evaluated on the same window` };
    const predicted = prod.predict(samples.map((s) => s.window.map((r) => [...r])));
    const m = priceMetrics({ lastClose: samples.map((s) => s.lastClose), realizedReturn: samples.map((s) => s.label), predictedReturn: predicted });
    return { metrics: { ...m }, note: `production v${alias.version}` };
  } finally {
    prod.dispose();
  }
}

/**
 * Reference statistics stored with a version for drift monitoring: per-feature distributions of
 * the newest input row of each test-window sample (what the live stream looks like) and the
 * distribution of the model's own predictions on that window.
 */
export interface PriceReference {
  names: string[];
  features: Record<string, ReferenceStats>;
  predictions: ReferenceStats;
  realized: ReferenceStats;
}

function buildReference(training: PriceTrainingResult, names: string[], predicted: number[]): PriceReference | null {
  if (names.length === 0 || training.test.length < 2) return null;
  const rows = training.test.map((s) => [...s.window[s.window.length - 1]!]);
  const opts = { sampleSize: 200 };
  return {
    names,
    features: referenceStatsByFeature(toColumns(rows, names), opts),
    predictions: referenceStats(predicted, opts),
    realized: referenceStats(training.test.map((s) => s.label), opts),
  };
}

export async function trainRegisterAndGatePrice(input: PriceRunInput): Promise<PriceRunResult> {
  const training = await trainPrice(input.tf, input.rows, input.featureSchemaHash, input.cfg, input.onEpoch);
  const ev = training.evaluation;
  const production = await productionOnTestWindow(input, training);
  const decision = decidePromotion(input.cfg.gate, {
    candidate: { ...ev.model },
    baselines: Object.fromEntries(Object.entries(ev.baselines).map(([k, v]) => [k, { ...v }])),
    production: production.metrics,
    productionNote: production.note,
  });
  const artifacts = await training.model.serialize();
  const reference = buildReference(training, input.featureNames ?? [], training.testPredictions);
  const metrics = flattenEvaluation(ev);
  if (production.metrics) for (const [k, v] of Object.entries(production.metrics)) if (Number.isFinite(v)) metrics[`production_${k}`] = v;
  const version = await input.store.register({
    name: PRICE_MODEL,
    task: 'price',
    metrics,
    params: { ...input.cfg.model, data: input.cfg.data, gate: input.cfg.gate, bestEpoch: training.bestEpoch, epochsRun: training.history.length },
    featureSchemaHash: input.featureSchemaHash,
    normalization: { featureMean: training.model.meta.featureMean, featureStd: training.model.meta.featureStd, targetScale: training.model.meta.targetScale },
    reference: reference as unknown as Record<string, unknown> | null,
    dataWindow: training.dataWindow,
    lineage: { ...input.lineage, symbols: training.symbols, split: training.split, featureNames: input.featureNames ?? [] },
    gitSha: input.gitSha,
    artifacts,
  });
  training.model.dispose();
  const ref = { name: PRICE_MODEL, version: version.version };
  const events: ModelEvent[] = [{ kind: 'registered', model: ref, task: 'price', metrics: pickMetrics(metrics) }];
  if (decision.promote) {
    const { previous } = await input.store.setAlias(PRICE_MODEL, 'production', version.version, decision.reason);
    events.push({
      kind: 'promoted',
      model: ref,
      task: 'price',
      alias: 'production',
      reason: decision.reason,
      ...(previous !== undefined ? { previous: { name: PRICE_MODEL, version: previous } } : {}),
    });
  } else {
    await input.store.setStatus(PRICE_MODEL, version.version, 'candidate', decision.reason);
    events.push({ kind: 'rejected', model: ref, task: 'price', reason: decision.reason });
  }
  const final = await input.store.get(PRICE_MODEL, version.version);
  return { version: final, decision, promoted: decision.promote, training, events };
}

function pickMetrics(m: Record<string, number>): Record<string, number> {
  const keys = ['rmse', 'mae', 'mape', 'directionalAccuracy', 'ic', 'rankIc', 'baseline_zero_rmse', 'backtest_sharpe', 'buyhold_sharpe'];
  return Object.fromEntries(keys.filter((k) => m[k] !== undefined).map((k) => [k, m[k]!]));
}

/** Roll `production` back to the previous version; returns the event to publish. */
export async function rollbackPrice(store: ModelStore, reason: string): Promise<ModelEvent> {
  const { from, to } = await store.rollback(PRICE_MODEL, 'production', reason);
  return { kind: 'rolled_back', model: { name: PRICE_MODEL, version: to }, previous: { name: PRICE_MODEL, version: from }, task: 'price', alias: 'production', reason };
}
