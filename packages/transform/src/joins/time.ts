/** Calendar helpers for the joins: UTC day numbers (days since 1970-01-01). */
const DAY_MS = 86_400_000;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

export function isDate(s: unknown): s is string {
  return typeof s === 'string' && DATE_RE.test(s) && new Date(`${s}T00:00:00.000Z`).toISOString().startsWith(s);
}

/** Day number of a YYYY-MM-DD date or of an ISO timestamp's UTC day. */
export function dayNumber(dateOrIso: string): number {
  const ms = Date.parse(dateOrIso.length === 10 ? `${dateOrIso}T00:00:00.000Z` : dateOrIso);
  return Math.floor(ms / DAY_MS);
}

export { DAY_MS };
