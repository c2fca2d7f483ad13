import { z } from 'zod';
import { envPort } from '@stock-mlops/platform';

/** Dashboard settings (environment variables; see docs/dashboard.md). Shared ones come from BaseEnv. */
export const DashboardEnv = z.object({
  DASHBOARD_HOST: z.string().default('127.0.0.1'),
  DASHBOARD_PORT: envPort.default(8080),
  DASHBOARD_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  PREDICTOR_WS_URL: z
    .string()
    .regex(/^wss?:\/\/\S+$/, 'must be a ws:// or wss:// URL ({host} stands for the host the page was loaded from)')
    .default('ws://127.0.0.1:8081/ws'),
  PREDICTOR_WS_TOKEN: z.string().min(16).optional(),
  DASHBOARD_STREAM: z.enum(['proxy', 'direct']).optional(),
  DASHBOARD_WS_MAX_BUFFERED_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
});
export type DashboardConfig = z.infer<typeof DashboardEnv>;
