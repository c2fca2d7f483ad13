import type { FeatureVector, ModelRef, PricePrediction } from '@stock-mlops/contracts';
import type { PriceModel } from '../training/models/price_predictor.ts';
import { PreprocessError, type InputSpec } from './preprocessor.ts';

/**
 * A loaded, servable price model. Pure inference logic; transports (Kafka, gRPC, WebSocket)
 * live in the predictor service.
 *
 * Lifetime: a hot swap `retire()`s the old version; its tensors are freed once the last batch
 * that holds it (`retain`/`release`) is done, so a request admitted under version N is answered
 * by version N and never touches freed memory.
 */
export interface PredictItem {
  window: number[][];
  symbol: string;
  interval: FeatureVector['interval'];
  asOf: string;
  lastClose: number;
}

/** One unit of work for the shared inference queue: a window and the model it was validated for. */
export interface PriceJob {
  model: ServingPriceModel;
  window: number[][];
}

export class ServingPriceModel {
  readonly spec: InputSpec;
  private holds = 0;
  private retired = false;
  private disposed = false;

  constructor(
    readonly ref: ModelRef,
    readonly model: PriceModel,
  ) {
    const m = model.meta;
    this.spec = { lookback: m.config.lookback, schemaHash: m.featureSchemaHash, nFeatures: m.nFeatures };
  }

  get horizon(): number {
    return this.model.meta.config.horizon;
  }

  /** Throws E_INPUT_SHAPE / E_INPUT_VALUE for a window this model cannot take (checked before queueing). */
  checkWindow(window: readonly (readonly number[])[]): void {
    const { lookback, nFeatures } = this.spec;
    if (window.length !== lookback) throw new PreprocessError('E_INPUT_SHAPE', `window has ${window.length} steps, expected ${lookback}`);
    for (const row of window) {
      if (row.length !== nFeatures) throw new PreprocessError('E_INPUT_SHAPE', `window row has ${row.length} features, expected ${nFeatures}`);
      for (const x of row) if (!Number.isFinite(x)) throw new PreprocessError('E_INPUT_VALUE', 'window holds a non-finite value');
    }
  }

  /** Predicted next-period returns, one per window. */
  predictReturns(windows: number[][][]): number[] {
    if (this.disposed) throw Object.assign(new Error(`model ${this.ref.name}@${this.ref.version} was disposed`), { code: 'E_MODEL_DISPOSED' });
    return this.model.predict(windows);
  }

  toPrediction(it: Omit<PredictItem, 'window'>, predictedReturn: number, latencyMs: number): PricePrediction {
    return {
      symbol: it.symbol,
      interval: it.interval,
      asOf: it.asOf,
      horizon: this.horizon,
      lastClose: it.lastClose,
      predictedReturn,
      predictedPrice: it.lastClose * (1 + predictedReturn),
      model: this.ref,
      featureSchemaHash: this.spec.schemaHash,
      latencyMs: Math.max(0, latencyMs),
    };
  }

  /** Unbatched convenience: predictions for windows in one model call. */
  predictWindows(items: PredictItem[]): PricePrediction[] {
    if (items.length === 0) return [];
    const t0 = performance.now();
    const returns = this.predictReturns(items.map((i) => i.window));
    const latencyMs = performance.now() - t0;
    return items.map((it, i) => this.toPrediction(it, returns[i]!, latencyMs));
  }

  /** Sanity check before a model is switched in: finite outputs on a typical window. */
  warmup(): void {
    const w = Array.from({ length: this.spec.lookback }, () => [...this.model.meta.featureMean]);
    const out = this.model.predict([w, w]);
    if (out.length !== 2 || !out.every(Number.isFinite)) {
      throw Object.assign(new Error('warm-up produced non-finite output'), { code: 'E_WARMUP' });
    }
  }

  retain(): void {
    this.holds++;
  }

  release(): void {
    this.holds--;
    if (this.retired && this.holds <= 0) this.dispose();
  }

  /** Free the model as soon as nothing holds it any more. */
  retire(): void {
    this.retired = true;
    if (this.holds <= 0) this.dispose();
  }

  private dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

/**
 * Batch function for the shared queue: jobs are grouped by the model they were admitted under
 * (a batch can straddle a hot swap) and each group is one model call. Returns predicted returns
 * in job order.
 */
export function runPriceJobs(jobs: readonly PriceJob[]): number[] {
  const out = new Array<number>(jobs.length);
  const groups = new Map<ServingPriceModel, number[]>();
  jobs.forEach((j, i) => {
    const g = groups.get(j.model);
    if (g) g.push(i);
    else groups.set(j.model, [i]);
  });
  for (const [model, idx] of groups) {
    const returns = model.predictReturns(idx.map((i) => jobs[i]!.window));
    idx.forEach((i, k) => (out[i] = returns[k]!));
  }
  return out;
}
