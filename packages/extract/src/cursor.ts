import { ExtractError } from './errors.ts';

/**
 * Cursor semantics shared by every provider.
 *
 * A cursor is an opaque string to callers. Inside it is the event time of the newest item
 * already delivered, optionally followed by `|` and the comma-separated keys of the items that
 * carry exactly that time:
 *
 *     2020-11-06T00:00:00.000Z                      prices: one bar per time, no keys needed
 *     2026-01-30|0000320193-26-000006               facts: filed date + accessions seen that day
 *     2025-01-31T10:06:00.000Z|<id>,<id>            news: two articles published the same second
 *
 * The next fetch returns only items strictly after that position: time > t, or time == t and
 * key not in the list. Nothing is fetched twice, and an item that shows up later with the same
 * timestamp as the last one delivered is not lost. A cursor without a key list (a bare time,
 * e.g. typed by an operator) means "everything at that time was seen".
 */
export interface CursorPosition {
  /** Epoch ms of the cursor's time. */
  time: number;
  /** The time exactly as written in the cursor (ISO timestamp or date). */
  text: string;
  /** Keys of items at exactly `time` that were already delivered; undefined: all of them. */
  keys: ReadonlySet<string> | undefined;
}

const KEY_SEP = ',';

export function parseCursor(cursor: string | undefined, provider?: string, symbol?: string): CursorPosition | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const bar = cursor.indexOf('|');
  const text = bar < 0 ? cursor : cursor.slice(0, bar);
  const time = parseTime(text);
  if (Number.isNaN(time)) {
    throw new ExtractError('E_CURSOR', `cursor "${cursor.slice(0, 80)}" does not start with an ISO date or timestamp`, {
      provider,
      symbol,
    });
  }
  const keys = bar < 0 ? undefined : new Set(cursor.slice(bar + 1).split(KEY_SEP).filter(Boolean));
  return { time, text, keys };
}

function parseTime(text: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return Date.parse(`${text}T00:00:00Z`);
  if (/^\d{4}-\d{2}-\d{2}T/.test(text)) return Date.parse(text);
  return NaN;
}

export interface CursorAccessors<T> {
  /** ISO timestamp or `YYYY-MM-DD` of the item. */
  time(item: T): string;
  /** Tie-breaker key for items that share a time; omit when time alone is unique. */
  key?(item: T): string;
}

export function isAfterCursor<T>(item: T, pos: CursorPosition | undefined, acc: CursorAccessors<T>): boolean {
  if (!pos) return true;
  const t = parseTime(acc.time(item));
  if (t !== pos.time) return t > pos.time;
  return acc.key && pos.keys ? !pos.keys.has(acc.key(item)) : false;
}

/**
 * The cursor after delivering `items` (sorted ascending by time). With no items the previous
 * cursor is returned unchanged, so callers can always store what they get back.
 */
export function nextCursor<T>(items: readonly T[], previous: string | undefined, acc: CursorAccessors<T>): string | undefined {
  const last = items[items.length - 1];
  if (last === undefined) return previous;
  const text = acc.time(last);
  if (!acc.key) return text;
  const time = parseTime(text);
  const keys = new Set<string>();
  // Keys already in the previous cursor at the same time stay "seen".
  const prev = previous ? parseCursor(previous) : undefined;
  if (prev && prev.time === time) for (const k of prev.keys ?? []) keys.add(k);
  for (const item of items) if (parseTime(acc.time(item)) === time) keys.add(acc.key(item));
  return `${text}|${[...keys].sort().join(KEY_SEP)}`;
}

/** Items after `cursor` and not after `until`, sorted ascending by time (stable). */
export function sliceAfter<T>(
  items: readonly T[],
  cursor: string | undefined,
  until: Date | undefined,
  acc: CursorAccessors<T>,
  ctx: { provider?: string; symbol?: string } = {},
): T[] {
  const pos = parseCursor(cursor, ctx.provider, ctx.symbol);
  const limit = until?.getTime() ?? Infinity;
  return items
    .filter((it) => isAfterCursor(it, pos, acc) && parseTime(acc.time(it)) <= limit)
    .map((it, i) => ({ it, i, t: parseTime(acc.time(it)) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((x) => x.it);
}
