import { z } from 'zod';
import { KafkaSessionTimeoutMs } from '@stock-mlops/platform';

/** Loader settings (environment variables; see docs/pipeline.md). Shared ones come from BaseEnv. */
export const LoaderEnv = z.object({
  LOADER_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
  /** Documents whose last written content this instance remembers (0 disables: every duplicate key is read back). */
  LOADER_WRITE_MEMORY: z.coerce.number().int().min(0).max(10_000_000).default(100_000),
  /** Distinct texts one labeller may label per window; more are dead-lettered (0 = no limit). */
  LABELS_MAX_PER_LABELLER_PER_WINDOW: z.coerce.number().int().min(0).max(1_000_000).default(500),
  /** The labeller rate-limit window, in seconds of label time (`labelledAt`). */
  LABELS_WINDOW_SECONDS: z.coerce.number().int().min(1).max(7 * 24 * 3600).default(3600),
  KAFKA_SESSION_TIMEOUT_MS: KafkaSessionTimeoutMs,
});
export type LoaderConfig = z.infer<typeof LoaderEnv>;
