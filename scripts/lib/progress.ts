/**
 * `npm start` progress, as pure functions: a snapshot gathered from Kafka offsets and the
 * services' /metrics and /readyz (never from the database) → one status line per stage →
 * which lines to print now. scripts/start.ts does the I/O.
 */

// ---------------------------------------------------------------------------------------------
// Prometheus text exposition (the subset prom-client writes)

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    const value = Number(m[3]);
    if (Number.isFinite(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Sum of the samples of `name` whose labels include `match`. */
export function metricSum(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

// ---------------------------------------------------------------------------------------------
// Snapshot → status lines

export interface TaskTraining {
  /** A training runs (trainer metrics). */
  active: boolean;
  epoch: number;
  epochs: number;
  etaSeconds: number;
  promoted: number;
  rejected: number;
  failed: number;
  /** Version the predictor serves (its model_version_info), if any. */
  served?: number;
}

export interface Snapshot {
  elapsedMs: number;
  /** Services whose ops endpoint answered /healthz, out of `services`. */
  up: number;
  services: number;
  /** Raw bars on the raw prices topic and bars in the replay files (0: no CSV replay configured). */
  barsPublished: number;
  replayRows: number;
  featuresComputed: number;
  featuresStored: number;
  price: TaskTraining;
  sentiment: TaskTraining;
  endpoints: { grpc: boolean; ws: boolean; dashboard: boolean | undefined };
  pricePredictions: number;
  pricePredictionsAtStart: number;
  sentimentPredictions: number;
}

export type Stage = 'infrastructure' | 'replay' | 'features' | 'training' | 'serving';
export interface StatusLine {
  stage: Stage;
  text: string;
  done: boolean;
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');

/** "42 s", "3 min 05 s". */
export function formatSeconds(s: number): string {
  const t = Math.max(0, Math.round(s));
  return t < 60 ? `${t} s` : `${Math.floor(t / 60)} min ${String(t % 60).padStart(2, '0')} s`;
}

/** One model's state in a few words: "training epoch 3/12, ETA 40 s", "v1 served", … */
export function modelState(t: TaskTraining): string {
  if (t.active) return t.epoch === 0 ? 'preparing the training data' : `training epoch ${t.epoch}/${t.epochs}, ETA ${formatSeconds(t.etaSeconds)}`;
  if (t.served !== undefined) return `v${t.served} served`;
  if (t.promoted > 0) return 'promoted, loading in the predictor';
  if (t.rejected > 0) return 'rejected by the promotion gate (see artifacts/logs/trainer.log)';
  if (t.failed > 0) return 'training failed (see artifacts/logs/trainer.log)';
  return 'waiting to train';
}

export function statusLines(s: Snapshot): StatusLine[] {
  const lines: StatusLine[] = [];
  lines.push({ stage: 'infrastructure', text: `services up ${s.up}/${s.services}`, done: s.up === s.services });
  if (s.replayRows > 0) {
    const done = s.barsPublished >= s.replayRows;
    lines.push({ stage: 'replay', text: done ? `replay ${n(s.replayRows)}/${n(s.replayRows)} bars published (done${s.barsPublished > s.replayRows ? `; ${n(s.barsPublished - s.replayRows)} more since` : ''})` : `replay ${n(s.barsPublished)}/${n(s.replayRows)} bars published`, done });
  } else lines.push({ stage: 'replay', text: `no CSV replay; ${n(s.barsPublished)} bars published`, done: true });
  lines.push({ stage: 'features', text: `features ${n(s.featuresComputed)} computed, ${n(s.featuresStored)} stored`, done: s.featuresComputed > 0 && s.featuresStored >= s.featuresComputed });
  lines.push({ stage: 'training', text: `price model: ${modelState(s.price)} · sentiment model: ${modelState(s.sentiment)}`, done: s.price.served !== undefined && !s.price.active && !s.sentiment.active });
  const eps = [`gRPC ${s.endpoints.grpc ? 'up' : 'down'}`, `WebSocket ${s.endpoints.ws ? 'up' : 'down'}`, ...(s.endpoints.dashboard === undefined ? [] : [`dashboard ${s.endpoints.dashboard ? 'up' : 'down'}`])];
  const grown = s.pricePredictions - s.pricePredictionsAtStart;
  lines.push({
    stage: 'serving',
    text: `serving: ${eps.join(', ')}; ${n(s.pricePredictions)} price predictions${s.pricePredictionsAtStart > 0 ? ` (${n(grown)} new)` : ''}, ${n(s.sentimentPredictions)} sentiment`,
    done: isServing(s),
  });
  return lines;
}

export const endpointsUp = (s: Snapshot): boolean => s.endpoints.grpc && s.endpoints.ws && s.endpoints.dashboard !== false;

/** Price predictions stream: the endpoints answer, a price model is served, and predictions exist. */
export const isServing = (s: Snapshot): boolean => endpointsUp(s) && s.price.served !== undefined && s.pricePredictions > 0;

/** What is still coming once the endpoints answer, e.g. "price model: training epoch 3/12, ETA 40 s". */
export function stillComing(s: Snapshot): string[] {
  const out: string[] = [];
  if (s.replayRows > 0 && s.barsPublished < s.replayRows) out.push(`replay: ${n(s.barsPublished)}/${n(s.replayRows)} bars`);
  if (s.price.served === undefined) out.push(`price model: ${modelState(s.price)}`);
  else if (s.pricePredictions === 0) out.push('price predictions: the first ones are being computed');
  if (s.sentiment.served === undefined) out.push(`sentiment model: ${modelState(s.sentiment)}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// What to print

export interface PrinterOptions {
  /** A changed line of a stage is printed at most this often (ms). */
  minIntervalMs: number;
  /** With nothing printed for this long, the unfinished stages are printed again (ms). */
  heartbeatMs: number;
}

/**
 * Decides which status lines to print: a stage's line when its text changed (at most every
 * `minIntervalMs`, at once when the stage finishes), and, when nothing was printed for
 * `heartbeatMs`, every unfinished stage again, so the console is never silent for longer.
 */
export class ProgressPrinter {
  private readonly last = new Map<Stage, { text: string; at: number; done: boolean }>();
  private lastPrintAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: PrinterOptions) {}

  update(lines: readonly StatusLine[], now: number): string[] {
    const out: StatusLine[] = [];
    for (const l of lines) {
      const prev = this.last.get(l.stage);
      const changed = !prev || prev.text !== l.text;
      if (!changed) continue;
      if (!prev || (l.done && !prev.done) || now - prev.at >= this.opts.minIntervalMs) out.push(l);
    }
    if (out.length === 0 && now - this.lastPrintAt >= this.opts.heartbeatMs) out.push(...lines.filter((l) => !l.done));
    for (const l of out) this.last.set(l.stage, { text: l.text, at: now, done: l.done });
    if (out.length > 0) this.lastPrintAt = now;
    return out.map((l) => `▶ ${l.text}`);
  }
}
