import { createHash } from 'node:crypto';
import type { ModelEvent } from '@stock-mlops/contracts';
import type { Tf } from './tf.ts';
import type { FeatureRow } from './datasets/supervised.ts';
import { makeSupervised } from './datasets/supervised.ts';
import { priceMetrics } from './evaluation/metrics.ts';
import { referenceStats, referenceStatsByFeature, toColumns, type ReferenceStats } from './evaluation/drift.ts';
import { sentimentToRegistryArtifacts, sentimentFromRegistryArtifacts } from './inference/sentiment.ts';
import { decidePromotion, type GateDecision, type GateRule } from './registry/gate.ts';
import { ModelStore, PRODUCTION_ALIAS, type ModelTask, type ModelVersion } from './registry/model_store.ts';
import { clearedByPromotion, setChallenger } from './registry/challenger.ts';
import type { GateConfig, PriceTrainConfig, SentimentTrainConfig } from './training/config.ts';
import { decideSentimentPromotion } from './registry/sentiment_gate.ts';
import { assembleSentimentData, labelLineage, type StoredLabel } from './training/sentiment_labels.ts';
import { flattenEvaluation, RIDGE_BASELINE, trainPrice, type PriceEvaluationReport, type PriceTrainingResult } from './training/train.ts';
import { PriceModel, type EpochLog } from './models/price_predictor.ts';
import { zeroReturnPriceModel } from './models/price_variants.ts';
import { decideBaselineFallback, ZERO_RETURN_BASELINE } from './registry/price_baseline.ts';
import {
  SENTIMENT_LABELS,
  SentimentModel,
  trainSentiment,
  type EpochLog as SentimentEpochLog,
  type LabelledTexts,
  type SentimentConfigOverrides,
} from './models/sentiment_analyzer.ts';
import { classificationReport, expectedCalibrationError, majorityBaseline, stratifiedSample, stratifiedSplit, type ClassificationReport } from './models/sentiment_analyzer_metrics.ts';

/**
 * ML service facade used by the trainer service and the CLIs: train → evaluate → register →
 * gate → promote, for the price model and the sentiment model. Returns the model events to
 * publish; transports stay in the adapters.
 */
export const PRICE_MODEL = 'price';
export const SENTIMENT_MODEL = 'sentiment';

/** Registry name of a per-symbol price model (`data.pooling = perSymbol`). */
export function priceModelName(symbol?: string): string {
  if (!symbol) return PRICE_MODEL;
  return `${PRICE_MODEL}-${symbol.toLowerCase().replace(/[^a-z0-9_-]/g, '-')}`.slice(0, 64);
}

export interface PriceRunInput {
  tf: Tf;
  store: ModelStore;
  rows: readonly FeatureRow[];
  featureSchemaHash: string;
  featureNames?: string[];
  cfg: PriceTrainConfig;
  gitSha: string;
  lineage: Record<string, unknown>;
  /** Registry name; default 'price'. */
  modelName?: string;
  onEpoch?: (log: EpochLog) => void;
  /** Called right before anything is written to the registry; throw to abort (e.g. the training lease was lost). */
  beforeRegister?: () => Promise<void>;
  /** Called once the version document exists, before the gate decision (for run records). */
  onRegistered?: (version: number) => Promise<void> | void;
  /** Where a version that passes the gate goes (default production). */
  promoteAs?: PromoteAs;
}

export interface RunResult {
  version: ModelVersion;
  decision: GateDecision;
  promoted: boolean;
  events: ModelEvent[];
}

export interface PriceRunResult extends RunResult {
  training: PriceTrainingResult;
}

/** Evaluate the current production model on the candidate's test window (same as-of rows). */
async function productionOnTestWindow(input: PriceRunInput, training: PriceTrainingResult): Promise<{ metrics?: Record<string, number>; note: string }> {
  const name = input.modelName ?? PRICE_MODEL;
  const alias = await input.store.getAlias(name, 'production');
  if (!alias) return { note: 'no production model yet' };
  const meta = await input.store.get(name, alias.version);
  if (meta.featureSchemaHash !== input.featureSchemaHash) {
    return { note: `production v${alias.version} uses another feature schema; compared with baselines only` };
  }
  let prod: PriceModel;
  try {
    prod = await PriceModel.deserialize(input.tf, await input.store.loadArtifacts(name, alias.version));
  } catch (err) {
    return { note: `production v${alias.version} could not be loaded (${(err as { code?: string }).code ?? 'error'}); compared with baselines only` };
  }
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

/**
 * The price gate as configured, plus the floor no config can drop: the zero return (the random
 * walk) is always among the baselines the candidate must beat.
 */
export function priceGateRule(gate: GateConfig): GateRule {
  return { ...gate, requiredBaselines: ['zero'] };
}

/**
 * The baselines the gate sees: the naive ones, and the ridge baseline only when the gate names it
 * (`baseline: 'best'` means every naive baseline; ridge is reported beside them either way).
 */
export function gateBaselines(ev: PriceEvaluationReport, gate: GateConfig): Record<string, Record<string, number>> {
  return Object.fromEntries(Object.entries(ev.baselines).filter(([k]) => k !== RIDGE_BASELINE || gate.baseline === RIDGE_BASELINE).map(([k, v]) => [k, { ...v }]));
}

export async function trainRegisterAndGatePrice(input: PriceRunInput): Promise<PriceRunResult> {
  const training = await trainPrice(input.tf, input.rows, input.featureSchemaHash, input.cfg, input.onEpoch);
  return registerAndGatePrice(input, training);
}

/** Register a trained price model, compare it with the baselines and production, and promote it only through the gate. */
export async function registerAndGatePrice(input: PriceRunInput, training: PriceTrainingResult): Promise<PriceRunResult> {
  const name = input.modelName ?? PRICE_MODEL;
  const ev = training.evaluation;
  const production = await productionOnTestWindow(input, training);
  const decision = decidePromotion(priceGateRule(input.cfg.gate), {
    candidate: { ...ev.model },
    baselines: gateBaselines(ev, input.cfg.gate),
    production: production.metrics,
    productionNote: production.note,
  });
  const artifacts = await training.model.serialize();
  const reference = buildReference(training, input.featureNames ?? [], training.testPredictions);
  const metrics = flattenEvaluation(ev);
  if (training.model.meta.ridge) metrics.baseline_ridge_l2 = training.model.meta.ridge.l2;
  if (production.metrics) for (const [k, v] of Object.entries(production.metrics)) if (Number.isFinite(v)) metrics[`production_${k}`] = v;
  await input.beforeRegister?.();
  const version = await input.store.register({
    name,
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
  await input.onRegistered?.(version.version);
  const outcome = await applyDecision(input.store, name, 'price', version.version, decision, pickMetrics(metrics, PRICE_EVENT_METRICS), input.promoteAs);
  outcome.events.push(...(await serveZeroReturnBaseline(input, training, outcome)));
  return { ...outcome, training };
}

/**
 * When the gate rejected the candidate and the model has no production version, point
 * `production` at the zero-return baseline (registry/price_baseline.ts): an ordinary version
 * predicting 0 for every window, marked `params.baseline = 'zero-return'`, registered once per
 * feature schema and reused afterwards. Returns the events to publish (`promoted` and, should the
 * baseline have been the challenger, `challenger_cleared`); none when production exists.
 */
export async function serveZeroReturnBaseline(input: PriceRunInput, training: PriceTrainingResult, outcome: RunResult): Promise<ModelEvent[]> {
  const name = input.modelName ?? PRICE_MODEL;
  const production = await input.store.getAlias(name, PRODUCTION_ALIAS);
  const baselines = production ? [] : (await input.store.list(name)).filter((v) => v.params.baseline === ZERO_RETURN_BASELINE);
  const fallback = decideBaselineFallback({
    passed: outcome.decision.promote,
    production: production?.version,
    baselines,
    featureSchemaHash: input.featureSchemaHash,
  });
  if (fallback.action === 'none') return [];
  let version: number;
  if (fallback.action === 'reuse') version = fallback.version;
  else {
    const lookback = training.model.meta.config.lookback;
    const zero = zeroReturnPriceModel(input.tf, { nFeatures: training.model.meta.nFeatures, featureSchemaHash: input.featureSchemaHash, lookback });
    let artifacts;
    try {
      artifacts = await zero.serialize();
    } finally {
      zero.dispose();
    }
    await input.beforeRegister?.();
    const zeroMetrics: Record<string, number> = { ...training.evaluation.baselines.zero };
    const registered = await input.store.register({
      name,
      task: 'price',
      metrics: Object.fromEntries(Object.entries(zeroMetrics).filter(([, x]) => Number.isFinite(x))),
      params: { baseline: ZERO_RETURN_BASELINE, arch: 'mlp', lookback, horizon: input.cfg.model.horizon },
      featureSchemaHash: input.featureSchemaHash,
      normalization: null,
      reference: null,
      dataWindow: null,
      lineage: { baselineAfter: { name, version: outcome.version.version }, featureNames: input.featureNames ?? [] },
      gitSha: input.gitSha,
      artifacts,
    });
    version = registered.version;
  }
  return promoteVersion(input.store, name, version, fallback.reason);
}

/**
 * Where a version that passes the gate goes: `production` (the default), or the `challenger`
 * alias, to be scored in the shadow of production first. A model with no production version yet
 * is promoted either way (a challenger needs a champion).
 */
export type PromoteAs = 'production' | 'challenger';

/** Move `production` or `challenger` (or record the rejection) and build the events to publish. */
async function applyDecision(
  store: ModelStore,
  name: string,
  task: ModelTask,
  version: number,
  decision: GateDecision,
  metrics: Record<string, number>,
  promoteAs: PromoteAs = 'production',
): Promise<RunResult> {
  const ref = { name, version };
  const events: ModelEvent[] = [{ kind: 'registered', model: ref, task, metrics }];
  if (decision.promote && promoteAs === 'challenger' && (await store.getAlias(name, PRODUCTION_ALIAS))) {
    const reason = `gate passed, set as challenger: ${decision.reason}`.slice(0, 2000);
    await store.setStatus(name, version, 'candidate', reason);
    events.push(await setChallenger(store, name, version, reason));
    return { version: await store.get(name, version), decision, promoted: false, events };
  }
  if (decision.promote) {
    const { previous } = await store.setAlias(name, 'production', version, decision.reason);
    events.push({ kind: 'promoted', model: ref, task, alias: 'production', reason: decision.reason.slice(0, 2000), ...(previous !== undefined ? { previous: { name, version: previous } } : {}) });
  } else {
    await store.setStatus(name, version, 'rejected', decision.reason);
    events.push({ kind: 'rejected', model: ref, task, reason: decision.reason.slice(0, 2000) });
  }
  return { version: await store.get(name, version), decision, promoted: decision.promote, events };
}

const PRICE_EVENT_METRICS = ['rmse', 'mae', 'mape', 'directionalAccuracy', 'ic', 'rankIc', 'baseline_zero_rmse', 'backtest_sharpe', 'buyhold_sharpe'];
const SENTIMENT_EVENT_METRICS = ['accuracy', 'macroF1', 'baseline_majority_macroF1', 'production_macroF1'];

function pickMetrics(m: Record<string, number>, keys: string[]): Record<string, number> {
  return Object.fromEntries(keys.filter((k) => m[k] !== undefined && Number.isFinite(m[k])).map((k) => [k, m[k]!]));
}

// ---------------------------------------------------------------------------------------------
// Sentiment

export interface SentimentRunInput {
  store: ModelStore;
  data: LabelledTexts;
  cfg: SentimentTrainConfig;
  gitSha: string;
  lineage: Record<string, unknown>;
  /** Stored human labels (sentiment_labels.ts): trained on, except the held-back slice the gate scores. */
  labels?: readonly StoredLabel[];
  onEpoch?: (log: SentimentEpochLog) => void;
  beforeRegister?: () => Promise<void>;
  onRegistered?: (version: number) => Promise<void> | void;
}

export interface SentimentEvaluation {
  model: ClassificationReport;
  baselines: { majority: ClassificationReport };
  production?: ClassificationReport;
  /** Candidate and production on the held-back labels (absent without any). */
  heldBack?: { model: ClassificationReport; production?: ClassificationReport };
  split: { train: number; test: number; total: number; heldBack: number };
}

export interface SentimentRunResult extends RunResult {
  evaluation: SentimentEvaluation;
  trainingSeconds: number;
}

const labelIndex = (l: string) => SENTIMENT_LABELS.indexOf(l as (typeof SENTIMENT_LABELS)[number]);

/** Accuracy, macro-F1, per-class scores, the confusion matrix and the top-label ECE (15 bins) of a model on labelled texts. */
export async function evaluateSentimentModel(model: SentimentModel, data: LabelledTexts): Promise<ClassificationReport & { ece: number }> {
  const predictions = await model.predict(data.texts);
  const yTrue = data.labels.map(labelIndex);
  const probs = predictions.flatMap((p) => SENTIMENT_LABELS.map((l) => p.probs[l]));
  return {
    ...classificationReport(yTrue, predictions.map((p) => labelIndex(p.label)), SENTIMENT_LABELS),
    ece: expectedCalibrationError(probs, yTrue, SENTIMENT_LABELS.length),
  };
}

/** Flat, finite numbers for the registry (FerretDB stores no nested arrays). */
export function flattenClassification(r: ClassificationReport & { ece?: number }, prefix = ''): Record<string, number> {
  const out: Record<string, number> = { [`${prefix}accuracy`]: r.accuracy, [`${prefix}macroF1`]: r.macroF1, [`${prefix}n`]: r.count };
  if (r.ece !== undefined && Number.isFinite(r.ece)) out[`${prefix}ece`] = r.ece;
  for (const [label, c] of Object.entries(r.perClass)) {
    out[`${prefix}precision_${label}`] = c.precision;
    out[`${prefix}recall_${label}`] = c.recall;
    out[`${prefix}f1_${label}`] = c.f1;
    out[`${prefix}support_${label}`] = c.support;
  }
  r.labels.forEach((t, i) => r.labels.forEach((p, j) => (out[`${prefix}confusion_${t}_${p}`] = r.confusion[i]?.[j] ?? 0)));
  return out;
}

function pickTexts(data: LabelledTexts, idx: readonly number[]): LabelledTexts {
  return { texts: idx.map((i) => data.texts[i]!), labels: idx.map((i) => data.labels[i]!) };
}

/** Hash of what makes inputs comparable between versions: artifact format, tokenizer and vocabularies. */
function sentimentSchemaHash(json: Record<string, unknown>): string {
  return createHash('sha256').update(`${String(json.format)}|${JSON.stringify(json.vocab)}`).digest('hex');
}

export async function loadSentimentVersion(store: ModelStore, version: number, name = SENTIMENT_MODEL): Promise<SentimentModel> {
  return SentimentModel.deserialize(sentimentFromRegistryArtifacts(await store.loadArtifacts(name, version)));
}

/**
 * Train the sentiment model on labelled texts, evaluate it on a stratified held-out split (never
 * used for fitting or early stopping) beside the majority-class baseline and the production
 * model, register it as `sentiment` and promote it only through the gate (macro-F1 by default).
 * Stored labels join the training data, except a held-back slice scored by the gate
 * (sentiment_labels.ts, registry/sentiment_gate.ts); the version's lineage records them.
 */
export async function trainRegisterAndGateSentiment(input: SentimentRunInput): Promise<SentimentRunResult> {
  const { cfg, store } = input;
  const all = cfg.data.maxRows > 0 ? pickTexts(input.data, stratifiedSample(input.data.labels, cfg.data.maxRows, cfg.seed)) : input.data;
  const split = stratifiedSplit(all.labels, cfg.data.testFraction, cfg.seed);
  const { train, test, heldBack, trainedLabels, heldBackLabels } = assembleSentimentData(pickTexts(all, split.train), pickTexts(all, split.test), input.labels ?? []);
  const classes = new Set(train.labels).size;
  if (train.texts.length < 50 || test.texts.length < 20 || classes < 2) {
    throw Object.assign(new Error(`not enough labelled texts: ${train.texts.length} to train, ${test.texts.length} to test, ${classes} classes (need 50/20/2)`), { code: 'E_NOT_ENOUGH_DATA' });
  }
  const trained = await trainSentiment({
    ...(cfg.model as SentimentConfigOverrides),
    ...train,
    seed: cfg.seed,
    validationSplit: cfg.data.validationFraction,
    ...(input.onEpoch ? { onEpoch: input.onEpoch } : {}),
  });
  try {
    const report = await evaluateSentimentModel(trained.model, test);
    const majority = majorityBaseline(train.labels.map(labelIndex), test.labels.map(labelIndex), SENTIMENT_LABELS);
    const heldBackReport = heldBack.texts.length > 0 ? await evaluateSentimentModel(trained.model, heldBack) : undefined;
    const production = await sentimentProduction(store, test, heldBack);
    const scores = (r: ClassificationReport) => ({ accuracy: r.accuracy, macroF1: r.macroF1 });
    const decision = decideSentimentPromotion(cfg.gate, {
      candidate: scores(report),
      majority: scores(majority),
      production: production.report && scores(production.report),
      productionNote: production.note,
      heldBack: heldBackReport && { n: heldBack.texts.length, candidate: scores(heldBackReport), production: production.heldBack && scores(production.heldBack) },
    });
    const artifacts = sentimentToRegistryArtifacts(await trained.model.serialize());
    const metrics = {
      ...flattenClassification(report),
      baseline_majority_accuracy: majority.accuracy,
      baseline_majority_macroF1: majority.macroF1,
      ...(production.report ? { production_accuracy: production.report.accuracy, production_macroF1: production.report.macroF1 } : {}),
      ...(heldBackReport ? { heldback_accuracy: heldBackReport.accuracy, heldback_macroF1: heldBackReport.macroF1, heldback_n: heldBackReport.count } : {}),
      ...(production.heldBack ? { production_heldback_accuracy: production.heldBack.accuracy, production_heldback_macroF1: production.heldBack.macroF1 } : {}),
      trainingSeconds: trained.trainingSeconds,
    };
    await input.beforeRegister?.();
    const version = await store.register({
      name: SENTIMENT_MODEL,
      task: 'sentiment',
      metrics,
      params: { ...cfg.model, seed: cfg.seed, data: cfg.data, gate: cfg.gate, bestEpochs: trained.bestEpochs, parameters: trained.model.parameterCount },
      featureSchemaHash: sentimentSchemaHash(artifacts.json),
      normalization: null,
      // Drift reference for the monitor: the model's predicted label distribution on the held-out texts.
      reference: { labels: [...report.labels], counts: report.labels.map((_, j) => report.confusion.reduce((a, row) => a + (row[j] ?? 0), 0)), n: report.count },
      dataWindow: null,
      lineage: {
        ...input.lineage,
        rows: input.data.texts.length,
        used: all.texts.length,
        train: train.texts.length,
        test: test.texts.length,
        labels: labelLineage(trainedLabels, heldBackLabels),
        backend: trained.backend,
      },
      gitSha: input.gitSha,
      artifacts,
    });
    await input.onRegistered?.(version.version);
    const outcome = await applyDecision(store, SENTIMENT_MODEL, 'sentiment', version.version, decision, pickMetrics(metrics, SENTIMENT_EVENT_METRICS));
    return {
      ...outcome,
      evaluation: {
        model: report,
        baselines: { majority },
        ...(production.report ? { production: production.report } : {}),
        ...(heldBackReport ? { heldBack: { model: heldBackReport, ...(production.heldBack ? { production: production.heldBack } : {}) } } : {}),
        split: { train: train.texts.length, test: test.texts.length, total: all.texts.length, heldBack: heldBack.texts.length },
      },
      trainingSeconds: trained.trainingSeconds,
    };
  } finally {
    trained.model.dispose();
  }
}

async function sentimentProduction(store: ModelStore, test: LabelledTexts, heldBack: LabelledTexts): Promise<{ report?: ClassificationReport; heldBack?: ClassificationReport; note: string }> {
  const alias = await store.getAlias(SENTIMENT_MODEL, 'production');
  if (!alias) return { note: 'no production model yet' };
  let model: SentimentModel | undefined;
  try {
    model = await loadSentimentVersion(store, alias.version);
    const report = await evaluateSentimentModel(model, test);
    const held = heldBack.texts.length > 0 ? await evaluateSentimentModel(model, heldBack) : undefined;
    return { report, ...(held ? { heldBack: held } : {}), note: `production v${alias.version}` };
  } catch (err) {
    return { note: `production v${alias.version} could not be evaluated (${(err as { code?: string }).code ?? 'error'}); compared with the baseline only` };
  } finally {
    model?.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Aliases

/**
 * Point an alias (default `production`) at a version by hand (CLI); returns the events to publish:
 * `promoted`, then `challenger_cleared` when the version was the challenger.
 */
export async function promoteVersion(store: ModelStore, name: string, version: number, reason: string, alias = 'production'): Promise<ModelEvent[]> {
  const v = await store.get(name, version);
  const { previous, clearedChallenger } = await store.setAlias(name, alias, version, reason);
  return [
    { kind: 'promoted', model: { name, version }, task: v.task, alias, reason, ...(previous !== undefined ? { previous: { name, version: previous } } : {}) },
    ...(clearedChallenger !== undefined ? [clearedByPromotion(name, v.task, clearedChallenger)] : []),
  ];
}

/** Move an alias back to the version it held before; returns the event to publish. */
export async function rollbackModel(store: ModelStore, name: string, reason: string, alias = 'production'): Promise<ModelEvent> {
  const { from, to } = await store.rollback(name, alias, reason);
  const v = await store.get(name, to);
  return { kind: 'rolled_back', model: { name, version: to }, previous: { name, version: from }, task: v.task, alias, reason };
}

/** Roll `production` of the price model back to the previous version. */
export function rollbackPrice(store: ModelStore, reason: string): Promise<ModelEvent> {
  return rollbackModel(store, PRICE_MODEL, reason);
}

/**
 * Clean up after a run whose process died: a version it registered but never gated is marked
 * rejected (it must not be promoted by accident), and its orphan artifact chunks are removed.
 * Call only while holding the model's training lease.
 */
export async function cleanUpAbandonedRun(store: ModelStore, run: { model: string; version?: number; _id: string }): Promise<{ rejected?: number; sweptChunks: number }> {
  let rejected: number | undefined;
  if (run.version !== undefined) {
    const v = await store.versions.findOne({ name: run.model, version: run.version });
    if (v && v.status === 'candidate' && v.statusReason === 'registered') {
      await store.setStatus(run.model, run.version, 'rejected', `training run ${run._id} stopped before the gate decision`);
      rejected = run.version;
    }
  }
  const sweptChunks = await store.sweepOrphans({ name: run.model, olderThanMs: 0 });
  return { ...(rejected !== undefined ? { rejected } : {}), sweptChunks };
}
