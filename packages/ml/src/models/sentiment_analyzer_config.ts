/**
 * Sentiment analyzer: the labels, the error type and the configuration (members, features,
 * training schedule) with its defaults and checks.
 */
import { AppError } from '@stock-mlops/contracts';
import type { BagFeatureConfig, FeatureConfig } from './sentiment_analyzer_features.ts';

export const SENTIMENT_LABELS = ['negative', 'neutral', 'positive'] as const;
export type SentimentLabel = (typeof SENTIMENT_LABELS)[number];

export type SentimentErrorCode =
  | 'E_SENTIMENT_BAD_INPUT'
  | 'E_SENTIMENT_UNKNOWN_LABEL'
  | 'E_SENTIMENT_BAD_ARTIFACT'
  | 'E_SENTIMENT_DISPOSED';

export class SentimentError extends AppError<SentimentErrorCode> {
  constructor(code: SentimentErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, { details, retriable: false });
    this.name = 'SentimentError';
  }
}

export interface CnnMemberConfig {
  kind: 'cnn';
  embeddingDim: number;
  kernelSizes: number[];
  filters: number;
  dropout: number;
  embeddingDropout: number;
  learningRate: number;
}

export interface BagMemberConfig {
  kind: 'bag';
  learningRate: number;
  /** L2 penalty on the feature weights (the only regulariser of a linear model besides early stopping). */
  l2: number;
  /**
   * 'adam' (default): mini-batch Adam with early stopping, like the other members. 'lbfgs': the
   * convex problem solved to convergence, full batch, in plain TypeScript
   * (sentiment_analyzer_linear.ts); `epochs`, `batchSize` and `learningRate` do not apply.
   */
  solver?: 'adam' | 'lbfgs';
  /** lbfgs: candidate L2 penalties; the one with the best validation `monitor` wins (default [l2]). */
  l2Grid?: number[];
  /** lbfgs: temperature scaling of the logits fitted on the validation set. */
  calibrate?: boolean;
  /** lbfgs: iteration cap per fit (default 300). */
  maxIterations?: number;
  /** lbfgs: stop when an iteration lowers the objective by less than this fraction (default 1e-6). */
  tolerance?: number;
  /**
   * lbfgs: NB-SVM scaling (Wang & Manning 2012, one-vs-rest per class): class c's logit sees each
   * TF-IDF feature multiplied by its naive-Bayes log-count ratio for c vs the rest, computed on
   * the training part from binarised document counts (`nbLogCountRatios`). The ratios are folded
   * into the stored weight table, so serving applies the same transform. Default false.
   */
  nbScale?: boolean;
  /** nbScale: additive smoothing of the document counts (default 1). */
  nbAlpha?: number;
}

export type MemberConfig = CnnMemberConfig | BagMemberConfig;

export interface SentimentConfig {
  features: FeatureConfig;
  members: MemberConfig[];
  batchSize: number;
  epochs: number;
  /** Epochs without improvement of `monitor` before a member stops. */
  patience: number;
  monitor: 'loss' | 'accuracy' | 'macroF1';
  /** 'balanced' = inverse class frequency weights (mean weight 1 over the training set). */
  classWeighting: 'balanced' | 'none';
  /**
   * After early stopping has chosen each member's epoch count, train again from scratch on
   * train + validation for that many epochs (more data, same recipe). Doubles training time;
   * the reported validation metrics are those of the model selected before the refit.
   */
  refit: boolean;
}

export const DEFAULT_SENTIMENT_CONFIG: SentimentConfig = {
  features: {
    maxLen: 64,
    vocabMinFrequency: 2,
    vocabMaxSize: 20_000,
    bag: { wordNgrams: 2, charNgrams: [3, 5], minFrequency: 2, maxFeatures: 60_000, maxWordFeaturesPerDoc: 128, maxCharFeaturesPerDoc: 512 },
    tokenizer: {},
  },
  members: [
    { kind: 'cnn', embeddingDim: 64, kernelSizes: [1, 2, 3], filters: 64, dropout: 0.5, embeddingDropout: 0.1, learningRate: 2e-3 },
    { kind: 'bag', learningRate: 5e-3, l2: 2e-5 },
  ],
  batchSize: 32,
  epochs: 20,
  patience: 3,
  monitor: 'loss',
  classWeighting: 'balanced',
  refit: true,
};

const DEFAULT_MEMBERS: { cnn: CnnMemberConfig; bag: BagMemberConfig } = {
  cnn: DEFAULT_SENTIMENT_CONFIG.members[0] as CnnMemberConfig,
  bag: DEFAULT_SENTIMENT_CONFIG.members[1] as BagMemberConfig,
};

export interface SentimentConfigOverrides extends Partial<Omit<SentimentConfig, 'features' | 'members'>> {
  features?: Partial<Omit<FeatureConfig, 'bag'>> & { bag?: Partial<BagFeatureConfig> | null };
  /** Each member is completed with the defaults of its kind. */
  members?: Array<Partial<MemberConfig> & { kind: MemberConfig['kind'] }>;
}

/** Defaults completed with `overrides` (nested objects merged), then checked. */
export function resolveSentimentConfig(overrides: SentimentConfigOverrides = {}): SentimentConfig {
  const d = DEFAULT_SENTIMENT_CONFIG;
  const f = overrides.features ?? {};
  const bag = f.bag === null ? null : d.features.bag && { ...d.features.bag, ...f.bag };
  const pick = <K extends keyof SentimentConfig>(key: K): SentimentConfig[K] => (overrides[key] as SentimentConfig[K] | undefined) ?? d[key];
  const config: SentimentConfig = {
    features: { ...d.features, ...f, bag, tokenizer: { ...d.features.tokenizer, ...f.tokenizer } },
    members: overrides.members ? overrides.members.map((m) => ({ ...DEFAULT_MEMBERS[m.kind], ...m }) as MemberConfig) : d.members,
    batchSize: pick('batchSize'),
    epochs: pick('epochs'),
    patience: pick('patience'),
    monitor: pick('monitor'),
    classWeighting: pick('classWeighting'),
    refit: pick('refit'),
  };
  const bad = (what: string): never => {
    throw new SentimentError('E_SENTIMENT_BAD_INPUT', `invalid sentiment config: ${what}`);
  };
  if (config.members.length === 0) bad('members is empty');
  if (!(config.batchSize >= 1 && config.epochs >= 1 && config.patience >= 0)) bad('batchSize/epochs/patience');
  if (config.features.maxLen < Math.max(1, ...config.members.flatMap((m) => (m.kind === 'cnn' ? m.kernelSizes : [1])))) {
    bad('maxLen shorter than the widest kernel');
  }
  if (config.members.some((m) => m.kind === 'bag') && !config.features.bag) bad('a bag member needs features.bag');
  for (const m of config.members) {
    if (m.kind !== 'bag') continue;
    if (m.nbScale && m.solver !== 'lbfgs') bad('nbScale needs solver "lbfgs"');
    if (m.nbAlpha !== undefined && !(m.nbAlpha > 0)) bad('nbAlpha must be > 0');
  }
  return config;
}
