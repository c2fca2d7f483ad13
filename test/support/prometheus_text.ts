/**
 * A strict parser of the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), used to check what every
 * service serves on /metrics. It throws on the first violation, with the line number:
 *
 * - lines end with '\n' (the body too); `# HELP name text` (escapes `\\` and `\n` only) and
 *   `# TYPE name counter|gauge|histogram|summary|untyped`, at most once per family and before
 *   its first sample; other `#` lines are comments;
 * - samples: `name{label="value",…} value [timestamp]`, metric names [a-zA-Z_:][a-zA-Z0-9_:]*,
 *   label names [a-zA-Z_][a-zA-Z0-9_]* not starting with `__`, no duplicate label, label values
 *   with escapes `\\`, `\"`, `\n` only; values as Go's ParseFloat reads them (incl. NaN, ±Inf);
 *   an optional integer millisecond timestamp;
 * - a family's lines are contiguous; no series appears twice; samples of a typed family use its
 *   names (histogram: _bucket/_sum/_count, summary: the name, _sum, _count);
 * - counters and the _count/_sum/_bucket of histograms are ≥ 0 (not NaN); a histogram series
 *   has its buckets in increasing `le` order with non-decreasing counts, a `le="+Inf"` bucket
 *   equal to its _count, and a _sum; summary quantiles are in [0, 1].
 */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
  line: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

export class ExpositionError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'ExpositionError';
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])$/;

function parseFloatGo(s: string, line: number): number {
  if (!FLOAT.test(s)) throw new ExpositionError(line, `invalid value "${s}"`);
  const lower = s.toLowerCase().replace(/^\+/, '');
  if (lower === 'nan' || lower === '-nan') return Number.NaN;
  if (lower === 'inf' || lower === 'infinity') return Number.POSITIVE_INFINITY;
  if (lower === '-inf' || lower === '-infinity') return Number.NEGATIVE_INFINITY;
  return Number(s);
}

function unescapeHelp(s: string, line: number): string {
  return s.replace(/\\(.)?/g, (_m, c: string | undefined) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new ExpositionError(line, `invalid escape "\\${c ?? ''}" in HELP`);
  });
}

/** Parse `{a="x",b="y"}` starting at `i` (at '{'); returns the labels and the index after '}'. */
function parseLabels(text: string, start: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (text[i] === '}') return { labels, end: i + 1 };
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (!nameMatch) throw new ExpositionError(line, `invalid label name at column ${i + 1}`);
    const name = nameMatch[0];
    if (name.startsWith('__')) throw new ExpositionError(line, `label name "${name}" is reserved`);
    if (name in labels) throw new ExpositionError(line, `duplicate label "${name}"`);
    i += name.length;
    if (text[i] !== '=' || text[i + 1] !== '"') throw new ExpositionError(line, `expected ="…" after label "${name}"`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new ExpositionError(line, `unterminated value of label "${name}"`);
      if (c === '"') break;
      if (c === '\\') {
        const n = text[i + 1];
        if (n === '\\') value += '\\';
        else if (n === '"') value += '"';
        else if (n === 'n') value += '\n';
        else throw new ExpositionError(line, `invalid escape "\\${n ?? ''}" in label "${name}"`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new ExpositionError(line, `expected "," or "}" after label "${name}"`);
  }
}

function familyOf(sampleName: string, types: Map<string, MetricType>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix)) {
      const base = sampleName.slice(0, -suffix.length);
      const t = types.get(base);
      if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
    }
  }
  return sampleName;
}

const seriesKey = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',')}}`;

export function parseExposition(body: string): Family[] {
  if (body.length > 0 && !body.endsWith('\n')) throw new ExpositionError(body.split('\n').length, 'the body must end with a line feed');
  const lines = body.split('\n');
  lines.pop();
  const families = new Map<string, Family>();
  const types = new Map<string, MetricType>();
  const helps = new Set<string>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: string | undefined;
  const enter = (name: string, line: number) => {
    if (current === name) return;
    if (closed.has(name)) throw new ExpositionError(line, `lines of "${name}" are not contiguous`);
    if (current !== undefined) closed.add(current);
    current = name;
  };
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: types.get(name) ?? 'untyped', samples: [] };
      families.set(name, f);
    }
    return f;
  };

  lines.forEach((text, idx) => {
    const line = idx + 1;
    if (text.trim() === '') return;
    if (text.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(text);
      if (!m) return; // a plain comment
      const [, kind, name, rest = ''] = m as unknown as [string, 'HELP' | 'TYPE', string, string | undefined];
      if (!METRIC_NAME.test(name)) throw new ExpositionError(line, `invalid metric name "${name}"`);
      enter(name, line);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new ExpositionError(line, `second HELP for "${name}"`);
        helps.add(name);
        family(name).help = unescapeHelp(rest, line);
      } else {
        if (types.has(name)) throw new ExpositionError(line, `second TYPE for "${name}"`);
        if (family(name).samples.length > 0) throw new ExpositionError(line, `TYPE of "${name}" after its samples`);
        const type = rest.trim() as MetricType;
        if (!TYPES.has(type)) throw new ExpositionError(line, `unknown type "${rest}"`);
        types.set(name, type);
        family(name).type = type;
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(text);
    if (!nameMatch) throw new ExpositionError(line, `invalid sample line "${text.slice(0, 60)}"`);
    const name = nameMatch[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (text[i] === '{') {
      const r = parseLabels(text, i, line);
      labels = r.labels;
      i = r.end;
    }
    const rest = text.slice(i);
    if (!/^[ \t]/.test(rest)) throw new ExpositionError(line, `expected a blank before the value of "${name}"`);
    const parts = rest.trim().split(/[ \t]+/);
    if (parts.length > 2) throw new ExpositionError(line, `trailing text after the value of "${name}"`);
    const value = parseFloatGo(parts[0]!, line);
    let timestamp: number | undefined;
    if (parts[1] !== undefined) {
      if (!/^-?\d+$/.test(parts[1])) throw new ExpositionError(line, `invalid timestamp "${parts[1]}"`);
      timestamp = Number(parts[1]);
    }
    const fam = familyOf(name, types);
    enter(fam, line);
    const key = seriesKey(name, labels);
    if (seen.has(key)) throw new ExpositionError(line, `duplicate series ${key}`);
    seen.add(key);
    const type = types.get(fam) ?? 'untyped';
    if (type === 'histogram' && name === fam) throw new ExpositionError(line, `histogram "${fam}" has a bare sample`);
    if (type === 'histogram' && name === `${fam}_bucket` && !('le' in labels)) throw new ExpositionError(line, `bucket of "${fam}" without "le"`);
    if (type === 'summary' && name === fam && !('quantile' in labels)) throw new ExpositionError(line, `summary "${fam}" sample without "quantile"`);
    if (type === 'counter' && !(value >= 0)) throw new ExpositionError(line, `counter "${name}" is ${value}`);
    if ((type === 'histogram' || type === 'summary') && name !== fam && !(value >= 0)) throw new ExpositionError(line, `"${name}" is ${value}`);
    family(fam).samples.push({ name, labels, value, ...(timestamp !== undefined ? { timestamp } : {}), line });
  });

  for (const f of families.values()) {
    if (f.type === 'histogram') checkHistogram(f);
    if (f.type === 'summary') checkSummary(f);
  }
  return [...families.values()];
}

function without(labels: Record<string, string>, drop: string): string {
  return seriesKey('', Object.fromEntries(Object.entries(labels).filter(([k]) => k !== drop)));
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: Sample[]; sum?: Sample; count?: Sample }>();
  const group = (k: string) => {
    let g = groups.get(k);
    if (!g) {
      g = { buckets: [] };
      groups.set(k, g);
    }
    return g;
  };
  for (const s of f.samples) {
    if (s.name === `${f.name}_bucket`) group(without(s.labels, 'le')).buckets.push(s);
    else if (s.name === `${f.name}_sum`) group(without(s.labels, '')).sum = s;
    else if (s.name === `${f.name}_count`) group(without(s.labels, '')).count = s;
  }
  for (const [k, g] of groups) {
    const line = g.buckets[0]?.line ?? g.count?.line ?? g.sum?.line ?? 0;
    if (!g.count || !g.sum) throw new ExpositionError(line, `histogram ${f.name}${k} lacks _sum or _count`);
    if (g.buckets.length === 0) throw new ExpositionError(line, `histogram ${f.name}${k} has no buckets`);
    let prevLe = Number.NEGATIVE_INFINITY;
    let prevCount = 0;
    for (const b of g.buckets) {
      const le = parseFloatGo(b.labels.le!, b.line);
      if (!(le > prevLe)) throw new ExpositionError(b.line, `buckets of ${f.name}${k} are not in increasing "le" order`);
      if (b.value < prevCount) throw new ExpositionError(b.line, `bucket counts of ${f.name}${k} decrease`);
      prevLe = le;
      prevCount = b.value;
    }
    const last = g.buckets[g.buckets.length - 1]!;
    if (last.labels.le !== '+Inf') throw new ExpositionError(last.line, `histogram ${f.name}${k} lacks the le="+Inf" bucket`);
    if (last.value !== g.count.value) throw new ExpositionError(last.line, `+Inf bucket of ${f.name}${k} (${last.value}) differs from _count (${g.count.value})`);
  }
}

function checkSummary(f: Family): void {
  for (const s of f.samples) {
    if (s.name !== f.name) continue;
    const q = parseFloatGo(s.labels.quantile!, s.line);
    if (!(q >= 0 && q <= 1)) throw new ExpositionError(s.line, `quantile ${s.labels.quantile} outside [0, 1]`);
  }
}
