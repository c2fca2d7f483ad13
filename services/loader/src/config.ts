import { z } from 'zod';
import { KafkaSessionTimeoutMs } from '@stock-mlops/platform';

/** Loader settings (environment variables; see docs/pipeline.md). Shared ones come from BaseEnv. */
export const LoaderEnv = z.object({
  LOADER_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
  /** Documents whose last written content this instance remembers (0 disables: every duplicate key is read back). */
  LOADER_WRITE_MEMORY: z.coerce.number().int().min(0).max(10_000_000).default(100_000),
  KAFKA_SESSION_TIMEOUT_MS: KafkaSessionTimeoutMs,
});
export type LoaderConfig = z.infer<typeof LoaderEnv>;
