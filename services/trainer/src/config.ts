import path from 'node:path';
import { z } from 'zod';
import { envBool, REPO_ROOT } from '@stock-mlops/platform';

/** Trainer settings (environment variables; see docs/models.md). Shared ones come from BaseEnv. */
export const TrainerEnv = z.object({
  TRAIN_ON_START: envBool.default(true),
  /** Files or directories (comma-separated) the first price model is trained from; empty: wait for the stream's features. */
  TRAIN_BOOTSTRAP_DATA: z.string().default(path.join(REPO_ROOT, 'data/prices')),
  /** Config of that first training (TRAIN_OVERRIDES apply on top); empty: TRAIN_CONFIG. */
  TRAIN_BOOTSTRAP_CONFIG: z.string().default(path.join(REPO_ROOT, 'config/training/price-bootstrap.json')),
  TRAIN_MIN_FEATURE_ROWS: z.coerce.number().int().min(1).default(300),
  TRAIN_SETTLE_MS: z.coerce.number().int().min(0).default(5_000),
  TRAIN_INTERVAL_MS: z.coerce.number().int().min(0).default(0),
  TRAIN_CONFIG: z.string().optional(),
  TRAIN_OVERRIDES: z.string().default(''),
  TRAIN_SENTIMENT_ON_START: envBool.default(true),
  TRAIN_SENTIMENT_DATA: z.string().default(path.join(REPO_ROOT, 'data/sentiment/twitter_financial_news_sentiment.csv')),
  TRAIN_SENTIMENT_CONFIG: z.string().default(path.join(REPO_ROOT, 'config/training/sentiment.json')),
  TRAIN_SENTIMENT_OVERRIDES: z.string().default(''),
  TRAIN_SENTIMENT_INTERVAL_MS: z.coerce.number().int().min(0).default(0),
  /** Retrain the sentiment model once this many labels arrived after the newest version's (0 = off). */
  TRAIN_SENTIMENT_NEW_LABELS: z.coerce.number().int().min(0).default(200),
  /** How often the stored labels are counted for that (one count query). */
  TRAIN_SENTIMENT_LABELS_POLL_MS: z.coerce.number().int().min(100).default(30_000),
  TRAIN_LEASE_MS: z.coerce.number().int().min(500).default(30_000),
  TRAIN_LOCK_WAIT_MS: z.coerce.number().int().min(0).default(30 * 60_000),
  /** Where a price version that passes the gate goes: production, or the challenger alias (shadow-scored first). */
  TRAIN_PROMOTE_AS: z.enum(['production', 'challenger']).default('production'),
});
export type TrainerConfig = z.infer<typeof TrainerEnv>;
