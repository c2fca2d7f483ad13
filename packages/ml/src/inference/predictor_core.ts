import { AppError, type CleanNewsArticle, type FeatureVector, type PricePrediction, type SentimentPrediction } from '@stock-mlops/contracts';
import type { SubmitOptions } from './batcher.ts';
import { FeatureHistory, PreprocessError } from './preprocessor.ts';
import type { PredictItem, PriceJob, ServingPriceModel } from './predictor.ts';
import type { ServedSentiment, ServingSentimentModel } from './sentiment.ts';
import type { RunPriceJobs } from './price_inference.ts';

/**
 * Transport-free core of the predictor: the models being served, each symbol's feature history
 * and latest prediction, and the live listeners. gRPC, Open Inference Protocol, WebSocket and
 * Kafka adapters call it; every price inference goes through the shared micro-batching queue.
 */
export type PredictErrorCode = 'E_NO_MODEL' | 'E_UNKNOWN_SYMBOL' | 'E_SYMBOL_NOT_READY' | 'E_UNKNOWN_MODEL' | 'E_INVALID_ARGUMENT';

export class PredictError extends AppError<PredictErrorCode> {
  constructor(code: PredictErrorCode, message: string) {
    super(code, message);
    this.name = 'PredictError';
  }
}

export type PredictionListener = (p: PricePrediction) => void;
export type CallOptions = Pick<SubmitOptions, 'deadline' | 'cancelled'>;
export interface PredictRequest {
  symbol: string;
  /** Explicit newest feature vector (ordered as the model's schema); empty = use the history. */
  features?: number[];
}

type Resolved = { job: PriceJob; item: Omit<PredictItem, 'window'> } | { latest: PricePrediction };
/** Errors that concern one `PredictBatch` item: that item gets it, the others are answered. */
export const ITEM_ERROR_CODES: readonly PredictErrorCode[] = ['E_UNKNOWN_SYMBOL', 'E_SYMBOL_NOT_READY', 'E_INVALID_ARGUMENT'];
/** One `PredictBatch` item's answer: its prediction, or why it has none. */
export type PredictOutcome = { prediction: PricePrediction } | { error: PredictError };

export class PredictorCore {
  private model: ServingPriceModel | undefined;
  private sentimentModel: ServingSentimentModel | undefined;
  private challengerModel: ServingPriceModel | undefined;
  readonly history = new FeatureHistory(256);
  readonly latest = new Map<string, PricePrediction>();
  private readonly listeners = new Set<PredictionListener>();

  constructor(private readonly infer: RunPriceJobs) {}

  get serving(): ServingPriceModel | undefined {
    return this.model;
  }

  get sentiment(): ServingSentimentModel | undefined {
    return this.sentimentModel;
  }

  /** Atomically switch to a warmed-up model; the old one is freed once in-flight batches are done. */
  swap(next: ServingPriceModel): ServingPriceModel | undefined {
    const old = this.model;
    this.model = next;
    old?.retire();
    return old;
  }

  swapSentiment(next: ServingSentimentModel): ServingSentimentModel | undefined {
    const old = this.sentimentModel;
    this.sentimentModel = next;
    old?.retire();
    return old;
  }

  /** The challenger scored in the shadow of production (never answers clients), if any. */
  get challenger(): ServingPriceModel | undefined {
    return this.challengerModel;
  }

  /** Switch the challenger (undefined = none); the old one is freed once its queued shadow batches are done. */
  swapChallenger(next: ServingPriceModel | undefined): ServingPriceModel | undefined {
    const old = this.challengerModel;
    this.challengerModel = next;
    if (old !== next) old?.retire();
    return old;
  }

  /** The window `model` needs for a prediction of `symbol` as of `asOf` (shadow scoring), or undefined while the history is too short. */
  windowAt(model: ServingPriceModel, symbol: string, asOf: string): number[][] | undefined {
    return this.history.windowFor(symbol, model.spec, asOf);
  }

  requireModel(): ServingPriceModel {
    if (!this.model) throw new PredictError('E_NO_MODEL', 'no price model loaded yet');
    return this.model;
  }

  requireSentiment(): ServingSentimentModel {
    if (!this.sentimentModel) throw new PredictError('E_NO_MODEL', 'no sentiment model loaded yet');
    return this.sentimentModel;
  }

  /** Remember features without predicting (history warm-up from the database). */
  remember(fv: FeatureVector): void {
    this.history.push(fv);
  }

  /** Stream path: features in, predictions out (for symbols whose window is full). Waits for queue room. */
  async onFeatures(batch: FeatureVector[]): Promise<{ predictions: PricePrediction[]; rejected: Array<{ fv: FeatureVector; code: string; reason: string }> }> {
    const m = this.requireModel();
    const items: PredictItem[] = [];
    const rejected: Array<{ fv: FeatureVector; code: string; reason: string }> = [];
    for (const fv of batch) {
      this.history.push(fv);
      try {
        const window = this.history.windowFor(fv.symbol, m.spec, fv.ts);
        if (window) items.push({ window, ...itemOf(fv) });
      } catch (err) {
        if (err instanceof PreprocessError) rejected.push({ fv, code: err.code, reason: err.message });
        else throw err;
      }
    }
    const out = await this.infer(items.map((it) => ({ model: m, window: it.window })), { wait: true });
    const predictions = items.map(({ window: _w, ...it }, i) => {
      const o = out[i]!;
      return m.toPrediction(it, o.value, o.queuedMs + o.runMs);
    });
    return { predictions, rejected };
  }

  /** A prediction from the shared stream (this or another replica): remember and fan out. */
  onPrediction(p: PricePrediction): void {
    const cur = this.latest.get(p.symbol);
    if (cur && cur.asOf > p.asOf) return;
    this.latest.set(p.symbol, p);
    for (const l of this.listeners) l(p);
  }

  subscribe(l: PredictionListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  knows(symbol: string): boolean {
    return this.history.has(symbol) || this.latest.has(symbol);
  }

  /**
   * One request's answer: with explicit features, a fresh window from the history; without, the
   * latest streamed prediction when the served model made it (and this replica has seen no newer
   * features of the symbol), else a fresh window from the history (after a hot swap, before the
   * stream has a prediction of the new version), else any streamed prediction.
   */
  private resolve(m: ServingPriceModel, req: PredictRequest): Resolved {
    const { symbol } = req;
    const fv = this.history.latest(symbol);
    try {
      if (req.features && req.features.length > 0) {
        const window = this.history.windowWithExplicit(symbol, m.spec, req.features);
        const lastClose = fv?.close ?? this.latest.get(symbol)?.lastClose;
        if (!window || lastClose === undefined) throw new PredictError('E_UNKNOWN_SYMBOL', `not enough feature history for ${symbol}`);
        return { job: { model: m, window }, item: { symbol, interval: fv?.interval ?? '1d', asOf: fv?.ts ?? new Date().toISOString(), lastClose, ...syntheticOf(fv) } };
      }
      // The stream's answer, shared by every replica (each reads the whole prediction stream), when
      // the served model made it and this replica has no newer features of the symbol: replicas
      // agree, and a replica whose history went stale cannot answer from it.
      const last = this.latest.get(symbol);
      if (last && sameModel(last, m) && (!fv || last.asOf >= fv.ts)) return { latest: last };
      const window = fv ? this.history.windowFor(symbol, m.spec) : undefined;
      if (window && fv) return { job: { model: m, window }, item: itemOf(fv) };
    } catch (err) {
      if (err instanceof PreprocessError) throw new PredictError('E_INVALID_ARGUMENT', `${symbol}: ${err.message}`);
      throw err;
    }
    const last = this.latest.get(symbol);
    if (last) return { latest: last };
    if (fv) throw new PredictError('E_SYMBOL_NOT_READY', `${symbol} has fewer than the ${m.spec.lookback} feature vectors its first prediction needs`);
    throw new PredictError('E_UNKNOWN_SYMBOL', `no prediction or features for symbol ${symbol}`);
  }

  /**
   * `Predict`: a fresh prediction from each symbol's newest window (or explicit features). Every
   * request is resolved first (the first one that cannot be answered fails the call); the
   * inferences are then queued together.
   */
  async predict(reqs: PredictRequest[], opts: CallOptions = {}): Promise<PricePrediction[]> {
    const m = this.requireModel();
    return this.run(reqs.map((r) => this.resolve(m, r)), opts);
  }

  /**
   * `PredictBatch`: like `predict`, but an item that cannot be answered (unknown symbol, window not
   * full yet, features that do not fit the model) gets its own error and the others are answered.
   * Only what concerns the whole call still throws: no model, a full queue, the deadline.
   */
  async predictEach(reqs: PredictRequest[], opts: CallOptions = {}): Promise<PredictOutcome[]> {
    const m = this.requireModel();
    const resolved = reqs.map((r): Resolved | { error: PredictError } => {
      try {
        return this.resolve(m, r);
      } catch (err) {
        if (err instanceof PredictError && ITEM_ERROR_CODES.includes(err.code)) return { error: err };
        throw err;
      }
    });
    const answerable = resolved.filter((r): r is Resolved => !('error' in r));
    const predictions = answerable.length > 0 ? await this.run(answerable, opts) : [];
    let k = 0;
    return resolved.map((r) => ('error' in r ? { error: r.error } : { prediction: predictions[k++]! }));
  }

  private async run(resolved: Resolved[], opts: CallOptions): Promise<PricePrediction[]> {
    const jobs = resolved.flatMap((r) => ('job' in r ? [r.job] : []));
    const out = await this.infer(jobs, opts);
    let k = 0;
    return resolved.map((r) => {
      if ('latest' in r) return r.latest;
      const o = out[k++]!;
      return r.job.model.toPrediction(r.item, o.value, o.queuedMs + o.runMs);
    });
  }

  /** Open Inference Protocol: raw windows ([n][lookback][nFeatures]) → predicted returns. */
  async inferWindows(windows: number[][][], opts: CallOptions = {}): Promise<{ model: ServingPriceModel; returns: number[] }> {
    const m = this.requireModel();
    try {
      for (const w of windows) m.checkWindow(w);
    } catch (err) {
      if (err instanceof PreprocessError) throw new PredictError('E_INVALID_ARGUMENT', err.message);
      throw err;
    }
    const out = await this.infer(windows.map((window) => ({ model: m, window })), opts);
    return { model: m, returns: out.map((o) => o.value) };
  }

  /** Stream path for news: one sentiment prediction per clean article. */
  async onNews(batch: CleanNewsArticle[]): Promise<SentimentPrediction[]> {
    const { model, results } = await this.analyzeSentiment(batch.map(newsText));
    return batch.map((a, i) => {
      const r = results[i]!;
      return {
        articleId: a.id,
        symbol: a.symbol,
        publishedAt: a.publishedAt,
        label: r.label,
        probs: { ...r.probs },
        score: r.score,
        model: model.ref,
        latencyMs: r.latencyMs,
      };
    });
  }

  async analyzeSentiment(texts: string[]): Promise<{ model: ServingSentimentModel; results: ServedSentiment[] }> {
    const s = this.requireSentiment();
    return { model: s, results: await s.predict(texts) };
  }
}

function sameModel(p: PricePrediction, m: ServingPriceModel): boolean {
  return p.model.name === m.ref.name && p.model.version === m.ref.version;
}

/** What a prediction made from `fv` says about its input: symbol, interval, as-of, last close, and the synthetic mark when set. */
function itemOf(fv: FeatureVector): Omit<PredictItem, 'window'> {
  return { symbol: fv.symbol, interval: fv.interval, asOf: fv.ts, lastClose: fv.close, ...syntheticOf(fv) };
}

/** `{ synthetic: true }` for a generated feature vector, `{}` for market data (the field stays absent). */
function syntheticOf(fv: FeatureVector | undefined): { synthetic?: true } {
  return fv?.synthetic === true ? { synthetic: true } : {};
}

/** The text the sentiment model reads for an article: its title, then its summary. */
export function newsText(a: Pick<CleanNewsArticle, 'title' | 'summary'>): string {
  return a.summary ? `${a.title}. ${a.summary}` : a.title;
}
