/**
 * A bounded window over keyed items ordered by event time. It keeps the `capacity` newest
 * items (or the oldest, for baselines), whatever order they arrive in, and adding an item whose
 * key is already present replaces it: redelivered records never count twice.
 */
export interface WindowEntry<T> {
  key: string;
  tMs: number;
  item: T;
}

function before(a: { tMs: number; key: string }, b: { tMs: number; key: string }): boolean {
  return a.tMs < b.tMs || (a.tMs === b.tMs && a.key < b.key);
}

export class EventTimeWindow<T> {
  /** Ascending by (tMs, key). */
  private readonly entries: WindowEntry<T>[] = [];
  private readonly keys = new Map<string, number>();

  constructor(
    readonly capacity: number,
    private readonly keep: 'newest' | 'oldest' = 'newest',
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
  }

  get size(): number {
    return this.entries.length;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** Insert or replace; returns false when the item falls outside the window (too old / too new). */
  add(key: string, tMs: number, item: T): boolean {
    const existing = this.keys.get(key);
    if (existing !== undefined) {
      if (existing === tMs) {
        const i = this.indexOf({ key, tMs });
        if (i >= 0) this.entries[i] = { key, tMs, item };
        return true;
      }
      this.remove(key);
    }
    const entry = { key, tMs, item };
    if (this.entries.length >= this.capacity) {
      const edge = this.keep === 'newest' ? this.entries[0]! : this.entries[this.entries.length - 1]!;
      const outside = this.keep === 'newest' ? before(entry, edge) : before(edge, entry);
      if (outside) return false;
    }
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.entries[mid]!, entry)) lo = mid + 1;
      else hi = mid;
    }
    this.entries.splice(lo, 0, entry);
    this.keys.set(key, tMs);
    while (this.entries.length > this.capacity) {
      const dropped = this.keep === 'newest' ? this.entries.shift()! : this.entries.pop()!;
      this.keys.delete(dropped.key);
    }
    return true;
  }

  remove(key: string): boolean {
    const tMs = this.keys.get(key);
    if (tMs === undefined) return false;
    const i = this.indexOf({ key, tMs });
    if (i >= 0) this.entries.splice(i, 1);
    this.keys.delete(key);
    return true;
  }

  private indexOf(probe: { key: string; tMs: number }): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.entries[mid]!, probe)) lo = mid + 1;
      else hi = mid;
    }
    const e = this.entries[lo];
    return e && e.key === probe.key && e.tMs === probe.tMs ? lo : -1;
  }

  /** Items in ascending event time. */
  values(): T[] {
    return this.entries.map((e) => e.item);
  }

  /** Entries with event time strictly after `afterMs` (all when undefined), ascending. */
  since(afterMs: number | undefined): WindowEntry<T>[] {
    if (afterMs === undefined) return [...this.entries];
    return this.entries.filter((e) => e.tMs > afterMs);
  }

  oldestMs(): number | undefined {
    return this.entries[0]?.tMs;
  }

  newestMs(): number | undefined {
    return this.entries[this.entries.length - 1]?.tMs;
  }
}
