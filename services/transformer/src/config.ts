import { z } from 'zod';
import { KafkaSessionTimeoutMs } from '@stock-mlops/platform';

/** Transformer settings (environment variables; see docs/pipeline.md). Shared ones come from BaseEnv. */
export const TransformerEnv = z.object({
  TRANSFORM_REORDER_WINDOW: z.coerce.number().int().min(0).max(1000).default(0),
  TRANSFORM_IDLE_FLUSH_MS: z.coerce.number().int().min(100).default(2_000),
  KAFKA_SESSION_TIMEOUT_MS: KafkaSessionTimeoutMs,
  /**
   * Batches (of different partitions) in flight: one computes while the previous ones wait for
   * their acks and state saves. 1 = compute, ack, save, commit strictly one batch after another.
   */
  TRANSFORM_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(3),
});
export type TransformerConfig = z.infer<typeof TransformerEnv>;
