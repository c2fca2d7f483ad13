import type { Interval, RawPriceBar } from '@stock-mlops/contracts';
import type { z } from 'zod';
import { nextCursor, sliceAfter } from '../cursor.ts';
import type { CorporateAction, FetchRequest, InvalidItemPolicy, PriceFetchResult } from '../provider.ts';
import { validatePriceBars, type Candidate } from '../validate.ts';

export type IntervalName = z.infer<typeof Interval>;

export const INTERVAL_MS: Record<IntervalName, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '60m': 3_600_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
  '1wk': 7 * 86_400_000,
};

/** Daily and weekly bars are keyed by trading date (see `dateKeyTs`); the rest by the UTC instant of the bar start. */
export function isDateKeyed(interval: IntervalName): boolean {
  return interval === '1d' || interval === '1wk';
}

export interface BarDraft {
  bar: RawPriceBar;
  /** Where it came from, for messages. */
  where: string;
}

/** Build a bar object without undefined optional keys (the contract schemas are strict). */
export function makeBar(fields: RawPriceBar): RawPriceBar {
  const bar: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) bar[k] = v;
  return bar as RawPriceBar;
}

const barTime = { time: (d: BarDraft) => d.bar.ts };

export interface FinishBarsOptions {
  provider: string;
  onInvalid: InvalidItemPolicy;
  /** Drop bars whose interval has not ended yet at `now` (in-progress bars would otherwise be frozen behind the cursor). */
  dropIncompleteAt?: number | undefined;
  warnings: string[];
  actions?: CorporateAction[];
  maxItems?: number;
}

/**
 * The common tail of every price provider: keep bars strictly after the cursor and not after
 * `until`, drop duplicates and in-progress bars, validate, and compute the next cursor.
 */
export function finishBars(drafts: readonly BarDraft[], req: FetchRequest, opts: FinishBarsOptions): PriceFetchResult {
  const ctx = { provider: opts.provider, symbol: req.symbol };
  let window = sliceAfter(drafts, req.cursor, req.until, barTime, ctx);

  const seen = new Set<string>();
  let duplicates = 0;
  window = window.filter((d) => {
    if (seen.has(d.bar.ts)) {
      duplicates++;
      return false;
    }
    seen.add(d.bar.ts);
    return true;
  });
  if (duplicates) opts.warnings.push(`dropped ${duplicates} bar(s) repeating an earlier timestamp (first one kept)`);

  if (opts.dropIncompleteAt !== undefined) {
    const now = opts.dropIncompleteAt;
    const before = window.length;
    window = window.filter((d) => Date.parse(d.bar.ts) + INTERVAL_MS[d.bar.interval] <= now);
    if (window.length < before) opts.warnings.push(`left ${before - window.length} in-progress bar(s) for a later fetch`);
  }
  if (opts.maxItems !== undefined) window = window.slice(0, opts.maxItems);

  const candidates: Candidate[] = window.map((d) => ({
    idParts: [d.bar.symbol, d.bar.interval, d.bar.ts],
    eventTime: d.bar.ts,
    data: d.bar,
    where: d.where,
  }));
  const items = validatePriceBars(candidates, { ...ctx, onInvalid: opts.onInvalid, warnings: opts.warnings });
  const cursor = nextCursor(items, req.cursor, { time: (i) => i.eventTime });
  // Actions travel with the bars: only up to the returned cursor, so none is delivered twice.
  const upTo = items.length ? Date.parse(items[items.length - 1]!.eventTime) : -Infinity;
  const actions = sliceAfter(opts.actions ?? [], req.cursor, req.until, { time: (a) => a.ts }, ctx).filter(
    (a) => Date.parse(a.ts) <= upTo,
  );
  return { items, actions, nextCursor: cursor, warnings: opts.warnings };
}
