import type { DataTopicKey } from '@stock-mlops/contracts';
import type { CursorStore } from '@stock-mlops/extract/cursor-store';
import type { AnyProvider, ProviderItem } from '@stock-mlops/extract/provider';

/**
 * One extraction pass, transport-free: for every (provider, symbol) fetch everything since the
 * stored cursor, hand the items to `publish` (which resolves once they are durable), and only
 * then move the cursor. A crash between publish and cursor update re-fetches the same items,
 * whose deterministic event ids make the redelivery harmless downstream.
 */
export interface ExtractTask {
  provider: AnyProvider;
  symbol: string;
}

export interface ExtractSummary {
  fetched: number;
  published: number;
  failed: number;
  warnings: number;
  perTask: Array<{ provider: string; symbol: string; fetched: number; error?: string }>;
}

export const TOPIC_OF_KIND: Record<AnyProvider['kind'], DataTopicKey & ('rawPrices' | 'rawFinancials' | 'rawNews')> = {
  prices: 'rawPrices',
  financials: 'rawFinancials',
  news: 'rawNews',
};

export type Publish = (topic: 'rawPrices' | 'rawFinancials' | 'rawNews', provider: AnyProvider, items: ProviderItem<unknown>[]) => Promise<void>;

export async function extractOnce(
  tasks: readonly ExtractTask[],
  cursors: CursorStore,
  publish: Publish,
  opts: {
    until?: Date;
    signal?: AbortSignal;
    /** Keep fetching a task until it returns nothing new (backfill), instead of one page per pass. */
    drain?: boolean;
    onProgress?: (e: { provider: string; symbol: string; fetched: number; cursor: string | undefined }) => void;
    onError?: (e: { provider: string; symbol: string; error: unknown }) => void;
  } = {},
): Promise<ExtractSummary> {
  const summary: ExtractSummary = { fetched: 0, published: 0, failed: 0, warnings: 0, perTask: [] };
  for (const { provider, symbol } of tasks) {
    if (opts.signal?.aborted) break;
    let fetchedHere = 0;
    try {
      for (;;) {
        const cursor = await cursors.get(provider.name, symbol);
        const r = await provider.fetchSince({ symbol, cursor, until: opts.until, signal: opts.signal });
        summary.warnings += r.warnings.length;
        if (r.items.length > 0) {
          await publish(TOPIC_OF_KIND[provider.kind], provider, r.items as ProviderItem<unknown>[]);
          summary.published += r.items.length;
        }
        if (r.nextCursor !== undefined && r.nextCursor !== cursor) await cursors.set(provider.name, symbol, r.nextCursor);
        fetchedHere += r.items.length;
        summary.fetched += r.items.length;
        opts.onProgress?.({ provider: provider.name, symbol, fetched: fetchedHere, cursor: r.nextCursor });
        if (!opts.drain || r.items.length === 0 || r.nextCursor === cursor || opts.signal?.aborted) break;
      }
      summary.perTask.push({ provider: provider.name, symbol, fetched: fetchedHere });
    } catch (error) {
      summary.failed++;
      summary.perTask.push({ provider: provider.name, symbol, fetched: fetchedHere, error: (error as Error).message });
      opts.onError?.({ provider: provider.name, symbol, error });
    }
  }
  return summary;
}
