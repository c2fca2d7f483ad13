/**
 * @stock-mlops/ml — public API. Deep imports ('@stock-mlops/ml/<path>') keep working; this index
 * names what other packages, services and scripts are meant to use.
 */
export { initTf, TfInitError, type Tf, type TfBackendName, type TfRuntime } from './tf.ts';

// Datasets
export { compareByTime, makeSupervised, type FeatureRow, type SampleTiming, type SupervisedOptions, type SupervisedSample } from './datasets/supervised.ts';
export { walkForwardFolds, walkForwardSplit, type WalkForwardFold, type WalkForwardFoldsOptions, type WalkForwardSplit, type WalkForwardSplitOptions } from './datasets/splits.ts';
export { assertNoLeakage, assertSplitsEmbargoed, type SplitBy } from './datasets/leakage.ts';
export { mulberry32, seededShuffle, type Rng } from './datasets/random.ts';

// Evaluation
export { ML_ERROR_CODES, MlError, type MlErrorCode } from './evaluation/errors.ts';
export {
  backtestLongFlat,
  baselinePredictions,
  classificationMetrics,
  evaluatePriceWithBaselines,
  maxDrawdown,
  priceMetrics,
  type BacktestOptions,
  type BacktestResult,
  type BaselineName,
  type ClassificationMetrics,
  type PerformanceStats,
  type PriceEvaluation,
  type PriceMetrics,
  type PriceSeries,
  type StrategyResult,
} from './evaluation/metrics.ts';
export {
  categoricalDrift,
  categoricalReference,
  featureDrift,
  ksFromReference,
  ksTwoSample,
  psi,
  psiFromReference,
  referenceStats,
  referenceStatsByFeature,
  toColumns,
  type ReferenceStats,
} from './evaluation/drift.ts';

// Training
export {
  GateConfig,
  loadPriceTrainConfig,
  loadSentimentTrainConfig,
  PriceTrainConfig,
  SentimentGateConfig,
  SentimentTrainConfig,
} from './training/config.ts';
export {
  backtestSamples,
  baselineReturns,
  evaluatePriceModel,
  evaluatePriceSamples,
  flattenEvaluation,
  predictSamples,
  trainPrice,
  TrainingError,
  type BacktestCurves,
  type BaselineKey,
  type PriceEvaluationReport,
  type PriceModelEvaluation,
  type PriceTrainingResult,
} from './training/train.ts';
export { featureRows, type RowsWithLineage } from './training/rows.ts';
export { featureRowsFromBars, loadPriceCsvRows, parsePriceCsv, PriceCsvError, symbolFromPath, type CsvFileLineage, type CsvRows, type PriceCsvFile } from './training/price_csv.ts';
export { DEFAULT_PRICE_CONFIG, PriceModel, PriceModelError, type EpochLog, type PriceArch, type PriceModelConfig, type PriceModelMeta } from './training/models/price_predictor.ts';
export {
  DEFAULT_SENTIMENT_CONFIG,
  loadSentimentCsv,
  parseLabelMap,
  SENTIMENT_LABELS,
  SentimentError,
  SentimentModel,
  trainSentiment,
  type LabelledTexts,
  type SentimentArtifact,
  type SentimentConfig,
  type SentimentLabel,
  type SentimentPrediction,
  type TrainSentimentOptions,
  type TrainSentimentResult,
} from './training/models/sentiment_analyzer.ts';
export { classificationReport, majorityBaseline, stratifiedSplit, type ClassificationReport } from './training/models/sentiment_analyzer_metrics.ts';

// Registry
export { ModelStore, RegistryError, type AliasDoc, type ModelArtifacts, type ModelStatus, type ModelTask, type ModelVersion, type RegisterInput } from './registry/model_store.ts';
export { decidePromotion, higherIsBetter, type GateCheck, type GateDecision, type GateInput, type GateRule } from './registry/gate.ts';
export { ownerIsDead, PROCESS_OWNER, TrainingBusyError, TrainingRuns, type AcquireResult, type RunOrigin, type RunStatus, type TrainingRun } from './registry/training_runs.ts';

// Inference
export { ServingPriceModel, type PredictItem } from './inference/predictor.ts';
export { FeatureHistory, PreprocessError, type InputSpec } from './inference/preprocessor.ts';
export { sentimentFromRegistryArtifacts, sentimentToRegistryArtifacts, ServingSentimentModel } from './inference/sentiment.ts';

// Facade
export {
  cleanUpAbandonedRun,
  evaluateSentimentModel,
  flattenClassification,
  loadSentimentVersion,
  PRICE_MODEL,
  priceModelName,
  promoteVersion,
  registerAndGatePrice,
  rollbackModel,
  rollbackPrice,
  SENTIMENT_MODEL,
  trainRegisterAndGatePrice,
  trainRegisterAndGateSentiment,
  type PriceReference,
  type PriceRunInput,
  type PriceRunResult,
  type RunResult,
  type SentimentEvaluation,
  type SentimentRunInput,
  type SentimentRunResult,
} from './ml_service.ts';

// Reports
export { writePriceReport, writeSentimentReport, type PriceReportInput, type ReportMeta, type SentimentReportInput } from './reports/evaluation_report.ts';
export { groupedBars, heatmap, histogram, lineChart, type Chart, type LineSeries } from './reports/charts.ts';
export { COLORS, Raster, type Rgb } from './reports/raster.ts';
