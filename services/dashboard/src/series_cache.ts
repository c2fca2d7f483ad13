/**
 * In-memory time series behind the dashboard's chart endpoints: per group (a symbol and
 * interval for bars, a symbol for predictions) the newest `cap` items keyed by a natural key,
 * returned oldest first. Fed once from the database at start and then from the stream, so a
 * request never waits for a query whose cost grows with a collection (FerretDB on SQLite scans
 * the whole collection for any filter but an `_id` equality). No I/O in here.
 */
export interface SeriesCacheOptions<T> {
  /** The group an item belongs to, e.g. `MSFT|1d`. */
  group: (item: T) => string;
  /** The item's key within its group; a second item with the same key replaces the first. */
  key: (item: T) => string;
  /** Sort key (ISO timestamps compare as strings). */
  time: (item: T) => string;
  /** Items kept per group (the newest). */
  cap: number;
}

interface Group<T> {
  byKey: Map<string, T>;
  sorted: T[] | undefined;
}

export class SeriesCache<T> {
  private readonly groups = new Map<string, Group<T>>();

  constructor(private readonly opts: SeriesCacheOptions<T>) {}

  add(items: Iterable<T>): void {
    for (const item of items) {
      const g = this.groupOf(this.opts.group(item));
      g.byKey.set(this.opts.key(item), item);
      g.sorted = undefined;
      // Trim lazily: sorting on every insert would make a replay of thousands quadratic.
      if (g.byKey.size > this.opts.cap * 1.25 + 16) this.trim(g);
    }
  }

  /** The newest `limit` items of a group, oldest first. */
  newest(group: string, limit: number): T[] {
    const g = this.groups.get(group);
    if (!g) return [];
    const all = this.sortedOf(g);
    return all.slice(Math.max(0, all.length - limit));
  }

  /** The newest item of a group. */
  last(group: string): T | undefined {
    const g = this.groups.get(group);
    return g ? this.sortedOf(g).at(-1) : undefined;
  }

  size(group?: string): number {
    if (group !== undefined) return this.groups.get(group)?.byKey.size ?? 0;
    let n = 0;
    for (const g of this.groups.values()) n += g.byKey.size;
    return n;
  }

  private groupOf(name: string): Group<T> {
    let g = this.groups.get(name);
    if (!g) this.groups.set(name, (g = { byKey: new Map(), sorted: undefined }));
    return g;
  }

  private sortedOf(g: Group<T>): T[] {
    if (!g.sorted) {
      const t = this.opts.time;
      g.sorted = [...g.byKey.values()].sort((a, b) => (t(a) < t(b) ? -1 : t(a) > t(b) ? 1 : 0));
      if (g.sorted.length > this.opts.cap) this.trim(g);
    }
    return g.sorted!;
  }

  private trim(g: Group<T>): void {
    const t = this.opts.time;
    const all = g.sorted ?? [...g.byKey.values()].sort((a, b) => (t(a) < t(b) ? -1 : t(a) > t(b) ? 1 : 0));
    const keep = all.slice(Math.max(0, all.length - this.opts.cap));
    g.byKey = new Map(keep.map((i) => [this.opts.key(i), i]));
    g.sorted = keep;
  }
}
