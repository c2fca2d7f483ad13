/**
 * The extraction core shared by the service (scheduled polling) and `npm run etl` (backfill and
 * single passes): tasks, the cursor store and the raw sink, plus the recovery rule: a task whose
 * last run may have left events beyond its cursor (every task at start-up, and any task that
 * failed while publishing or saving its cursor) first has its topic read back from the saved
 * position, so those events are skipped instead of published twice.
 */
import { writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { addToSummary, cursorTime, emptySummary, extractTask, TOPIC_OF_KIND, type ExtractOptions, type ExtractSummary, type ExtractTask, type TaskResult, type TaskStateStore } from './extract_loop.ts';
import type { KafkaRawSink, RecoveryEntry } from '@stock-mlops/platform/kafka/raw_sink';

export interface ExtractorDeps {
  store: TaskStateStore;
  sink: KafkaRawSink;
  log: Logger;
  /** Test-only fault injection, see `faultHook`. */
  afterPublish?: ExtractOptions['afterPublish'];
}

export interface Extractor {
  /** Read back what tasks may have published beyond their cursors (no-op for settled tasks). */
  settle(tasks: readonly ExtractTask[]): Promise<void>;
  runTask(task: ExtractTask, opts?: ExtractOptions): Promise<TaskResult>;
  /** Every task once (settling all first, in one read-back); failed publishes are settled and retried `retries` times. */
  runAll(tasks: readonly ExtractTask[], opts?: ExtractOptions & { retries?: number }): Promise<ExtractSummary>;
}

const keyOf = (t: ExtractTask) => `${t.provider.name}|${t.symbol}`;

/** The error's code for logs and metrics: its own `code`, else E_KAFKA / E_MONGO by origin. */
export function errorCodeOf(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown } | undefined;
  if (typeof e?.code === 'string') return e.code;
  const name = typeof e?.name === 'string' ? e.name : '';
  if (name.startsWith('KafkaJS')) return 'E_KAFKA';
  if (name.startsWith('Mongo')) return 'E_MONGO';
  return 'E_INTERNAL';
}

export function createExtractor(deps: ExtractorDeps): Extractor {
  const { store, sink, log } = deps;
  const settled = new Set<string>();

  async function settle(tasks: readonly ExtractTask[]): Promise<void> {
    const todo = tasks.filter((t) => !settled.has(keyOf(t)));
    if (todo.length === 0) return;
    const entries: RecoveryEntry[] = [];
    for (const task of todo) {
      const state = await store.get(task.provider.name, task.symbol);
      if (state?.positions?.length) entries.push({ task, topic: TOPIC_OF_KIND[task.provider.kind], positions: state.positions });
    }
    const counts = entries.length ? await sink.recover(entries) : [];
    entries.forEach((e, i) => {
      if (counts[i]) {
        log.warn({ provider: e.task.provider.name, symbol: e.task.symbol, events: counts[i] }, 'found events published beyond the saved cursor; they will not be published again');
      }
    });
    for (const t of todo) settled.add(keyOf(t));
  }

  async function runTask(task: ExtractTask, opts: ExtractOptions = {}): Promise<TaskResult> {
    try {
      await settle([task]);
    } catch (error) {
      return { provider: task.provider.name, symbol: task.symbol, fetched: 0, published: 0, skipped: 0, pages: 0, warnings: 0, cursor: undefined, upToDate: false, error, phase: 'publish' };
    }
    const r = await extractTask(task, { store, sink }, {
      ...opts,
      ...(deps.afterPublish && { afterPublish: deps.afterPublish }),
      onWarnings: (t, warnings) => {
        log.warn({ provider: t.provider.name, symbol: t.symbol, warnings: warnings.slice(0, 10) }, 'provider warnings');
        opts.onWarnings?.(t, warnings);
      },
    });
    if (r.error !== undefined && r.phase !== 'fetch') settled.delete(keyOf(task));
    return r;
  }

  async function runAll(tasks: readonly ExtractTask[], opts: ExtractOptions & { retries?: number } = {}): Promise<ExtractSummary> {
    const summary = emptySummary();
    try {
      await settle(tasks);
    } catch (error) {
      log.error({ err: (error as Error).message, code: errorCodeOf(error) }, 'recovery read-back failed; tasks will retry it one by one');
    }
    for (const task of tasks) {
      if (opts.signal?.aborted) break;
      let r = await runTask(task, opts);
      const total: TaskResult = { ...r };
      for (let attempt = 1; r.error !== undefined && r.phase !== 'fetch' && attempt <= (opts.retries ?? 0) && !opts.signal?.aborted; attempt++) {
        log.warn({ provider: r.provider, symbol: r.symbol, attempt, err: (r.error as Error).message }, 'publish failed; reading the topic back and retrying');
        await new Promise((res) => setTimeout(res, 250 * 2 ** attempt));
        r = await runTask(task, opts);
        for (const k of ['fetched', 'published', 'skipped', 'pages', 'warnings'] as const) total[k] += r[k];
        total.cursor = r.cursor ?? total.cursor;
        total.upToDate = r.upToDate;
        if (r.error === undefined) {
          delete total.error;
          delete total.phase;
        } else {
          total.error = r.error;
          total.phase = r.phase;
        }
      }
      addToSummary(summary, total);
    }
    return summary;
  }

  return { settle, runTask, runAll };
}

/** Test-only fault injection: `crash-after-publishing:<ISO date or time>`. */
export const FAULT_RE = /^crash-after-publishing:(\d{4}-\d{2}-\d{2}(T[\d:.]+Z)?)$/;

/**
 * `EXTRACT_FAULT=crash-after-publishing:2015-06-01`: SIGKILL this process right after the
 * acknowledged publish of the page that crosses that date (stored cursor before it, last event at
 * or after it), before the cursor is saved: the window the recovery exists for. It fires once per
 * data set, not once per process: after a restart every page crossing the date contains recovered
 * events (skipped), so the process only dies again if recovery failed. Tests only.
 */
export function faultHook(spec: string | undefined): ExtractOptions['afterPublish'] {
  const m = FAULT_RE.exec(spec ?? '');
  if (!m) return undefined;
  const at = Date.parse(m[1]!.length === 10 ? `${m[1]}T00:00:00Z` : m[1]!);
  return (task, out, page) => {
    const before = cursorTime(page.cursorBefore) ?? -Infinity;
    if (out.published === 0 || out.skipped > 0 || before >= at || Date.parse(page.lastEventTime) < at) return;
    const line = { level: 'warn', time: new Date().toISOString(), pid: process.pid, provider: task.provider.name, symbol: task.symbol, published: out.published, ...page, msg: 'EXTRACT_FAULT: killing the process between publish and cursor write' };
    // Written synchronously: an asynchronous logger would lose the line to the SIGKILL.
    writeSync(2, `${JSON.stringify(line)}\n`);
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL cannot be handled; wait for it so no cursor is written.
    return new Promise<never>(() => undefined);
  };
}
