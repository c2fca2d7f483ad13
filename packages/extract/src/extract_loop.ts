import type { ProviderKind, AnyProvider, ProviderItem } from './provider.ts';
import type { LogPosition, PublishResult, RawTopicKey } from '@stock-mlops/platform/kafka/raw_sink';
import { parseCursor } from './cursor.ts';

export type { LogPosition, PublishResult, RawTopicKey };

/**
 * One extraction pass, transport-free: for every (provider, symbol) fetch what follows the stored
 * cursor, hand the items to the sink (which resolves once they are acknowledged), and only then
 * save the cursor together with the log position right after what was just written.
 *
 * A crash between the acknowledgement and the cursor write leaves events on the topic that the
 * cursor does not cover. The saved position bounds where they can be: the sink reads the topic
 * from there on restart (`recover`) and skips those events when the stale cursor fetches them
 * again. See docs/raw-topics.md, "Exactly once on the raw topics".
 */
export interface ExtractTask {
  provider: AnyProvider;
  symbol: string;
}

export const TOPIC_OF_KIND: Record<ProviderKind, RawTopicKey> = {
  prices: 'rawPrices',
  financials: 'rawFinancials',
  news: 'rawNews',
};

export interface TaskState {
  cursor?: string | undefined;
  /** Any event of this task not covered by `cursor` lies at or after these positions. */
  positions?: LogPosition[] | undefined;
}

export interface TaskStateStore {
  get(provider: string, symbol: string): Promise<TaskState | undefined>;
  set(provider: string, symbol: string, state: TaskState): Promise<void>;
}

export interface RawSink {
  /** The current end of every partition of `topic`: where the next publish can land. */
  head(topic: RawTopicKey): Promise<LogPosition[]>;
  /** Publish items (keyed, with event ids); resolves once the broker acknowledged them. */
  publish(task: ExtractTask, topic: RawTopicKey, items: ProviderItem<unknown>[]): Promise<PublishResult>;
}

export type Phase = 'fetch' | 'publish' | 'cursor';

export interface TaskResult {
  provider: string;
  symbol: string;
  fetched: number;
  published: number;
  skipped: number;
  pages: number;
  warnings: number;
  cursor: string | undefined;
  /** The stored cursor already reached `until`: nothing was fetched. */
  upToDate: boolean;
  error?: unknown;
  /** Where it failed; 'publish' and 'cursor' failures may leave events beyond the cursor. */
  phase?: Phase;
}

export interface ExtractSummary {
  fetched: number;
  published: number;
  skipped: number;
  failed: number;
  warnings: number;
  perTask: TaskResult[];
}

export interface ExtractDeps {
  store: TaskStateStore;
  sink: RawSink;
}

export interface ExtractOptions {
  /** Upper bound (inclusive) of event times to fetch. */
  until?: Date | undefined;
  /** Backfill: begin at this instant when the stored cursor is older or absent. */
  from?: Date | undefined;
  signal?: AbortSignal | undefined;
  /** Keep fetching a task until it returns nothing new (backfill), instead of one page. */
  drain?: boolean;
  onPage?: (r: TaskResult) => void;
  onWarnings?: (task: ExtractTask, warnings: string[]) => void;
  onError?: (r: TaskResult) => void;
  /** Called after each acknowledged publish, before the cursor is saved (fault injection in tests). */
  afterPublish?: (task: ExtractTask, result: PublishResult, page: { cursorBefore: string | undefined; lastEventTime: string }) => void | Promise<void>;
}

export function cursorTime(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  try {
    return parseCursor(cursor)?.time;
  } catch {
    return undefined;
  }
}

/** Fetch → publish → save cursor for one task, page after page when `drain` is set. */
export async function extractTask(task: ExtractTask, deps: ExtractDeps, opts: ExtractOptions = {}): Promise<TaskResult> {
  const { provider, symbol } = task;
  const topic = TOPIC_OF_KIND[provider.kind];
  const r: TaskResult = { provider: provider.name, symbol, fetched: 0, published: 0, skipped: 0, pages: 0, warnings: 0, cursor: undefined, upToDate: false };
  let phase: Phase = 'fetch';
  try {
    let state: TaskState = (await deps.store.get(provider.name, symbol)) ?? {};
    r.cursor = state.cursor;
    let cursor = state.cursor;
    if (opts.from) {
      const start = opts.from.getTime() - 1;
      const t = cursorTime(cursor);
      if (t === undefined || t < start) cursor = new Date(start).toISOString();
    }
    const stored = cursorTime(state.cursor);
    if (opts.until && stored !== undefined && stored >= opts.until.getTime()) {
      r.upToDate = true;
      return r;
    }
    for (;;) {
      if (opts.signal?.aborted) break;
      phase = 'fetch';
      const page = await provider.fetchSince({ symbol, cursor, until: opts.until, signal: opts.signal });
      r.pages++;
      r.fetched += page.items.length;
      if (page.warnings.length) {
        r.warnings += page.warnings.length;
        opts.onWarnings?.(task, page.warnings);
      }
      const next = page.nextCursor;
      if (page.items.length > 0) {
        phase = 'cursor';
        if (!state.positions) {
          // First publish of this task ever: remember where the topic ended, so a crash before
          // the cursor write below can be recovered by reading from here.
          state = { ...state, positions: await deps.sink.head(topic) };
          await deps.store.set(provider.name, symbol, state);
        }
        phase = 'publish';
        const out = await deps.sink.publish(task, topic, page.items as ProviderItem<unknown>[]);
        r.published += out.published;
        r.skipped += out.skipped;
        await opts.afterPublish?.(task, out, { cursorBefore: cursor, lastEventTime: page.items[page.items.length - 1]!.eventTime });
        phase = 'cursor';
        // The saved position must stay at or before every event of ours beyond the cursor: move
        // it only once no recovered event is left to skip.
        let positions = state.positions;
        if (out.settled && out.positions.length) positions = out.positions;
        else if (out.settled && out.skipped > 0) positions = await deps.sink.head(topic);
        state = { cursor: next, positions };
        await deps.store.set(provider.name, symbol, state);
      } else if (next !== undefined && next !== state.cursor) {
        phase = 'cursor';
        state = { ...state, cursor: next };
        await deps.store.set(provider.name, symbol, state);
      }
      r.cursor = state.cursor;
      opts.onPage?.(r);
      if (!opts.drain || page.items.length === 0 || next === cursor) break;
      cursor = next;
    }
    return r;
  } catch (error) {
    r.error = error;
    r.phase = phase;
    opts.onError?.(r);
    return r;
  }
}

export function emptySummary(): ExtractSummary {
  return { fetched: 0, published: 0, skipped: 0, failed: 0, warnings: 0, perTask: [] };
}

/** Count one task's result into a run's summary (a result with an error counts as failed). */
export function addToSummary(summary: ExtractSummary, r: TaskResult): void {
  summary.fetched += r.fetched;
  summary.published += r.published;
  summary.skipped += r.skipped;
  summary.warnings += r.warnings;
  if (r.error !== undefined) summary.failed++;
  summary.perTask.push(r);
}

export async function extractOnce(tasks: readonly ExtractTask[], deps: ExtractDeps, opts: ExtractOptions = {}): Promise<ExtractSummary> {
  const summary = emptySummary();
  for (const task of tasks) {
    if (opts.signal?.aborted) break;
    addToSummary(summary, await extractTask(task, deps, opts));
  }
  return summary;
}
