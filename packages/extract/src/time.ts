/**
 * Time-zone arithmetic with the platform's Intl data (no dependency): wall-clock times of an
 * IANA zone ↔ UTC instants, DST included.
 */

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws a RangeError for an unknown zone name. */
export function assertTimeZone(timeZone: string): void {
  formatter(timeZone);
}

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall clock (calendar fields, 24-hour) of `timeZone` at instant `epochMs`. */
export function wallClock(epochMs: number, timeZone: string): WallClock {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(epochMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? NaN,
    month: parts.month ?? NaN,
    day: parts.day ?? NaN,
    hour: parts.hour ?? NaN,
    minute: parts.minute ?? NaN,
    second: parts.second ?? NaN,
  };
}

/** Offset of `timeZone` from UTC at instant `epochMs`, in ms (New York in winter: -5 h). */
export function zoneOffsetMs(epochMs: number, timeZone: string): number {
  const w = wallClock(epochMs, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}

/**
 * The UTC instant at which the wall clock of `timeZone` shows the given local time.
 * Ambiguous times (the repeated hour when DST ends) resolve to the earlier instant; times that do
 * not exist (skipped when DST starts) resolve as if the clock had not moved yet, i.e. one hour
 * later in wall-clock terms. Both rules are deterministic; market hours never fall in either window.
 */
export function zonedTimeToUtc(
  local: { year: number; month: number; day: number; hour?: number; minute?: number; second?: number },
  timeZone: string,
): number {
  const guess = Date.UTC(local.year, local.month - 1, local.day, local.hour ?? 0, local.minute ?? 0, local.second ?? 0);
  // Offsets one day apart bracket any transition; try the earlier offset first.
  const candidates = [...new Set([zoneOffsetMs(guess - DAY_MS, timeZone), zoneOffsetMs(guess + DAY_MS, timeZone)])].sort(
    (a, b) => b - a,
  );
  for (const off of candidates) {
    const t = guess - off;
    if (zoneOffsetMs(t, timeZone) === off) return t;
  }
  return guess - (candidates[candidates.length - 1] ?? 0);
}

const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/** Parse `YYYY-MM-DD[ HH:MM[:SS]]` as wall-clock time in `timeZone`; NaN when malformed. */
export function parseZonedDateTime(text: string, timeZone: string): number {
  const m = LOCAL_RE.exec(text.trim());
  if (!m) return NaN;
  const [year, month, day, hour, minute, second] = m.slice(1).map((v) => (v === undefined ? 0 : Number(v))) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return NaN;
  if (!isCalendarDate(year, month, day)) return NaN;
  return zonedTimeToUtc({ year, month, day, hour, minute, second }, timeZone);
}

function isCalendarDate(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** `YYYY-MM-DD` if it is a real calendar date, else undefined. */
export function checkIsoDate(text: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  return isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3])) ? text : undefined;
}

/** The calendar date (`YYYY-MM-DD`) that the wall clock of `timeZone` shows at `epochMs`. */
export function localDate(epochMs: number, timeZone: string): string {
  const w = wallClock(epochMs, timeZone);
  return `${String(w.year).padStart(4, '0')}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
}

/**
 * Daily (and weekly) bars are keyed by their exchange-local trading date at 00:00 UTC, whatever
 * the source: Yahoo stamps a daily bar with the session open, Alpha Vantage and CSV files with
 * the date only. One convention makes the price id (symbol|interval|ts) provider-independent.
 */
export function dateKeyTs(date: string): string {
  return `${date}T00:00:00.000Z`;
}

/** Parse `YYYYMMDD` (OpenDART dates, rcept_no prefix) into `YYYY-MM-DD`. */
export function compactDate(text: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})/.exec(text);
  return m ? checkIsoDate(`${m[1]}-${m[2]}-${m[3]}`) : undefined;
}

export function lastDayOfMonth(year: number, month: number): string {
  const d = new Date(Date.UTC(year, month, 0));
  return d.toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}
