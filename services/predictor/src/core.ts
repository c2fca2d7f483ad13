import type { FeatureVector, PricePrediction } from '@stock-mlops/contracts';
import { FeatureHistory, PreprocessError } from '@stock-mlops/ml/inference/preprocessor';
import type { PredictItem, ServingPriceModel } from '@stock-mlops/ml/inference/predictor';

/**
 * Transport-free core of the predictor: the model being served, each symbol's feature history
 * and latest prediction, and the live listeners. gRPC, WebSocket and Kafka adapters call it.
 */
export class PredictError extends Error {
  constructor(
    readonly code: 'E_NO_MODEL' | 'E_UNKNOWN_SYMBOL' | 'E_INVALID_ARGUMENT',
    message: string,
  ) {
    super(message);
    this.name = 'PredictError';
  }
}

export type PredictionListener = (p: PricePrediction) => void;

export class PredictorCore {
  private model: ServingPriceModel | undefined;
  readonly history = new FeatureHistory(256);
  readonly latest = new Map<string, PricePrediction>();
  private readonly listeners = new Set<PredictionListener>();

  get serving(): ServingPriceModel | undefined {
    return this.model;
  }

  /** Atomically switch to a warmed-up model; returns the old one so the caller can dispose of it. */
  swap(next: ServingPriceModel): ServingPriceModel | undefined {
    const old = this.model;
    this.model = next;
    return old;
  }

  private requireModel(): ServingPriceModel {
    if (!this.model) throw new PredictError('E_NO_MODEL', 'no model loaded yet');
    return this.model;
  }

  /** Remember features without predicting (history warm-up from the database). */
  remember(fv: FeatureVector): void {
    this.history.push(fv);
  }

  /** Stream path: features in, predictions out (for symbols whose window is full). */
  onFeatures(batch: FeatureVector[]): { predictions: PricePrediction[]; rejected: Array<{ fv: FeatureVector; code: string; reason: string }> } {
    const m = this.requireModel();
    const items: PredictItem[] = [];
    const rejected: Array<{ fv: FeatureVector; code: string; reason: string }> = [];
    for (const fv of batch) {
      this.history.push(fv);
      try {
        const window = this.history.windowFor(fv.symbol, m.spec, fv.ts);
        if (window) items.push({ window, symbol: fv.symbol, interval: fv.interval, asOf: fv.ts, lastClose: fv.close });
      } catch (err) {
        if (err instanceof PreprocessError) rejected.push({ fv, code: err.code, reason: err.message });
        else throw err;
      }
    }
    return { predictions: m.predictWindows(items), rejected };
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

  /** `Predict(symbol)`: a fresh prediction from the newest window (or explicit features), else the latest streamed one. */
  predictSymbol(symbol: string, explicit?: number[]): PricePrediction {
    const m = this.requireModel();
    const fv = this.history.latest(symbol);
    try {
      if (explicit && explicit.length > 0) {
        const window = this.history.windowWithExplicit(symbol, m.spec, explicit);
        const lastClose = fv?.close ?? this.latest.get(symbol)?.lastClose;
        if (!window || lastClose === undefined) throw new PredictError('E_UNKNOWN_SYMBOL', `no feature history for ${symbol}`);
        return m.predictWindows([{ window, symbol, interval: fv?.interval ?? '1d', asOf: fv?.ts ?? new Date().toISOString(), lastClose }])[0]!;
      }
      const window = fv ? this.history.windowFor(symbol, m.spec) : undefined;
      if (window && fv) return m.predictWindows([{ window, symbol, interval: fv.interval, asOf: fv.ts, lastClose: fv.close }])[0]!;
    } catch (err) {
      if (err instanceof PreprocessError) throw new PredictError('E_INVALID_ARGUMENT', err.message);
      throw err;
    }
    const last = this.latest.get(symbol);
    if (last) return last;
    throw new PredictError('E_UNKNOWN_SYMBOL', `no prediction or features for symbol ${symbol}`);
  }
}
