/**
 * Guard rails for human sentiment labels, without I/O: one labeller cannot flood the label set.
 *
 * Each labeller may label at most `maxPerWindow` distinct texts per fixed window of event time
 * (`labelledAt`, windows aligned to the epoch). Counting distinct text hashes, not records, makes
 * a redelivered or repeated record free, so the decision for a record does not depend on how
 * often Kafka delivered it. A label older than the previous window counts against the previous one. The state is per loader instance and in memory: a restart starts the
 * current window afresh.
 */
export interface LabelRateLimitOptions {
  /** Most distinct texts one labeller may label per window (0 = no limit). */
  maxPerWindow: number;
  windowMs: number;
}

export interface LabelRateLimit {
  /** True when this label is within its labeller's allowance (a text already admitted in the window always is). */
  admit: (label: { labeller: string; textHash: string; labelledAt: string }) => boolean;
}

export function createLabelRateLimit({ maxPerWindow, windowMs }: LabelRateLimitOptions): LabelRateLimit {
  if (!Number.isInteger(maxPerWindow) || maxPerWindow < 0) throw new RangeError(`maxPerWindow must be a non-negative integer, got ${maxPerWindow}`);
  if (!(windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${windowMs}`);
  /** window index → labeller → admitted text hashes (at most maxPerWindow each). */
  const windows = new Map<number, Map<string, Set<string>>>();
  let newest = Number.NEGATIVE_INFINITY;
  return {
    admit: ({ labeller, textHash, labelledAt }) => {
      if (maxPerWindow === 0) return true;
      // Late labels count against the window before the newest one, so backdating buys nothing.
      const w = Math.max(Math.floor(Date.parse(labelledAt) / windowMs), newest - 1);
      if (w > newest) {
        newest = w;
        for (const k of windows.keys()) if (k < newest - 1) windows.delete(k);
      }
      let byLabeller = windows.get(w);
      if (!byLabeller) windows.set(w, (byLabeller = new Map()));
      let texts = byLabeller.get(labeller);
      if (!texts) byLabeller.set(labeller, (texts = new Set()));
      if (texts.has(textHash)) return true;
      if (texts.size >= maxPerWindow) return false;
      texts.add(textHash);
      return true;
    },
  };
}
