/**
 * One scheduled run of an extraction task and what it reports: the fetch counters, the last
 * success per provider and symbol, a log line per failure or per larger pass; whether to run
 * again at once (more pages) or wait for the next interval.
 */
import type { Logger } from '@stock-mlops/platform';
import type { ContinuationTask } from './after_replay.ts';
import { errorCodeOf, type Extractor } from '@stock-mlops/extract/extractor';
import type { createExtractorMetrics } from '@stock-mlops/extract/metrics';
import type { PlannedTask } from '@stock-mlops/extract/provider_settings';
import { retryAfterOf, type NextRun, type RunOutcome } from './scheduler.ts';

/** A planned task, or a continuation after the replay (paced, and ready once the replay has ended). */
export type ExtractionTask = PlannedTask & Partial<Pick<ContinuationTask, 'paced' | 'ready'>>;

export interface TaskRunnerDeps {
  extractor: Extractor;
  metrics: ReturnType<typeof createExtractorMetrics>;
  log: Logger;
  signal: AbortSignal;
}

export function createTaskRunner({ extractor, metrics: xm, log, signal }: TaskRunnerDeps) {
  return {
    run: async (task: ExtractionTask): Promise<RunOutcome> => {
      if (task.ready && !(await task.ready().catch(() => false))) return { more: false };
      const r = await extractor.runTask(task, { signal });
      const provider = task.provider.name;
      if (r.error !== undefined) {
        const code = errorCodeOf(r.error);
        if (code === 'E_ABORTED' && signal.aborted) return { more: false };
        const retryAfterMs = retryAfterOf(r.error);
        xm.fetches.inc({ provider, outcome: retryAfterMs !== undefined ? 'rescheduled' : 'error', code });
        log.error({ provider, symbol: task.symbol, code, phase: r.phase, retryAfterMs, err: (r.error as Error).message }, 'extraction failed');
        return { more: false, error: r.error };
      }
      xm.fetches.inc({ provider, outcome: r.fetched > 0 ? 'ok' : 'empty', code: '' });
      xm.lastSuccess.set({ provider, symbol: task.symbol }, Date.now() / 1000);
      if (r.published > 0 || r.skipped > 0) {
        log[r.published >= 100 || r.skipped > 0 ? 'info' : 'debug']({ provider, symbol: task.symbol, published: r.published, skipped: r.skipped, cursor: r.cursor }, 'extracted');
      }
      return { more: r.fetched > 0 && !task.paced };
    },
    onPlanned: (task: ExtractionTask, next: NextRun): void => {
      if (next.reason === 'retry-after') log.warn({ provider: task.provider.name, symbol: task.symbol, delayMs: next.delayMs }, 'provider asked us to come back later; rescheduled');
    },
  };
}
