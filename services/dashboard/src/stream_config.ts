import { ConfigError } from '@stock-mlops/platform';
import type { PublicConfig } from './api.ts';

/** The path the dashboard serves the proxied stream on (same origin as the page). */
export const STREAM_PATH = '/ws';

export type StreamMode = 'proxy' | 'direct';

/**
 * How the page reaches the predictor's stream. `proxy`: the page opens `/ws` on the dashboard's
 * own origin and the dashboard server pipes it to `PREDICTOR_WS_URL` (which is then where the
 * server reaches the predictor). `direct`: the page opens `PREDICTOR_WS_URL` itself (`{host}` =
 * the host the page was loaded from) and is handed `PREDICTOR_WS_TOKEN`. Without
 * `DASHBOARD_STREAM`, a URL with `{host}` (only a browser can expand it) means direct, any other
 * proxy.
 */
export function streamSettings(env: { DASHBOARD_STREAM?: StreamMode | undefined; PREDICTOR_WS_URL: string; PREDICTOR_WS_TOKEN?: string | undefined }): {
  mode: StreamMode;
  publicConfig: PublicConfig;
} {
  const hasHost = env.PREDICTOR_WS_URL.includes('{host}');
  const mode = env.DASHBOARD_STREAM ?? (hasHost ? 'direct' : 'proxy');
  if (mode === 'proxy' && hasHost) {
    throw new ConfigError([
      'PREDICTOR_WS_URL: contains {host}, which only a browser can expand; with DASHBOARD_STREAM=proxy give the address the dashboard server reaches the predictor at (e.g. ws://predictor:8081/ws), or set DASHBOARD_STREAM=direct',
    ]);
  }
  if (mode === 'proxy') return { mode, publicConfig: { wsUrl: STREAM_PATH } };
  return { mode, publicConfig: { wsUrl: env.PREDICTOR_WS_URL, ...(env.PREDICTOR_WS_TOKEN ? { wsToken: env.PREDICTOR_WS_TOKEN } : {}) } };
}
