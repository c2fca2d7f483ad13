import type { FeatureVector, ModelRef, PricePrediction } from '@stock-mlops/contracts';
import { packWindows, scaleReturns, type PriceModelMeta } from '../models/price_predictor.ts';
import { PreprocessError, type InputSpec } from './preprocessor.ts';

/**
 * A loaded, servable price model. Pure inference logic; transports (Kafka, gRPC, WebSocket)
 * live in the predictor service.
 *
 * Lifetime: a hot swap `retire()`s the old version; its tensors are freed once the last batch
 * that holds it (`retain`/`release`) is done, so a request admitted under version N is answered
 * by version N and never touches freed memory.
 *
 * Where the forward pass runs is the `PriceRunner`'s business: a `PriceModel` runs it in this
 * thread (synchronously), a `WorkerPriceModel` (inference/worker.ts) in the inference worker
 * thread (asynchronously). Inputs are validated and normalized here in both cases
 * (`packWindows`), so both give the same numbers for the same windows.
 */
export interface PriceRunner {
  readonly meta: PriceModelMeta;
  /** True when `forward` runs in another thread and returns a promise. */
  readonly remote?: boolean;
  /** Raw outputs (before `targetScale`) for `n` windows normalized and packed by `packWindows`. */
  forward(x: Float32Array, n: number): Float32Array | Promise<Float32Array>;
  dispose(): void;
}

export interface PredictItem {
  window: number[][];
  symbol: string;
  interval: FeatureVector['interval'];
  asOf: string;
  lastClose: number;
  /** Set when the feature vector behind the window is generated (non-market) data; copied to the prediction. */
  synthetic?: true;
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
    readonly model: PriceRunner,
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

  /** True when the forward pass runs in the inference worker (`predictBatch` returns a promise). */
  get inWorker(): boolean {
    return this.model.remote === true;
  }

  private assertLive(): void {
    if (this.disposed) throw Object.assign(new Error(`model ${this.ref.name}@${this.ref.version} was disposed`), { code: 'E_MODEL_DISPOSED' });
  }

  /** Predicted next-period returns, one per window, computed in this thread (in-thread models only). */
  predictReturns(windows: number[][][]): number[] {
    this.assertLive();
    if (this.inWorker) throw Object.assign(new Error(`model ${this.ref.name}@${this.ref.version} runs in the inference worker: use predictBatch`), { code: 'E_MODEL_IN_WORKER' });
    if (windows.length === 0) return [];
    return scaleReturns(this.model.meta, this.model.forward(packWindows(this.model.meta, windows), windows.length) as Float32Array);
  }

  /** Predicted returns for one batch, wherever the model runs: an array in this thread, a promise from the worker. */
  predictBatch(windows: number[][][]): number[] | Promise<number[]> {
    if (!this.inWorker) return this.predictReturns(windows);
    this.assertLive();
    if (windows.length === 0) return [];
    const meta = this.model.meta;
    const out = this.model.forward(packWindows(meta, windows), windows.length);
    return Promise.resolve(out).then((raw) => scaleReturns(meta, raw));
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
      ...(it.synthetic === true ? { synthetic: true as const } : {}),
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

  /** Sanity check before a model is switched in: finite outputs on a typical window (a promise for worker models). */
  warmup(): void | Promise<void> {
    const w = Array.from({ length: this.spec.lookback }, () => [...this.model.meta.featureMean]);
    const check = (out: number[]) => {
      if (out.length !== 2 || !out.every(Number.isFinite)) {
        throw Object.assign(new Error('warm-up produced non-finite output'), { code: 'E_WARMUP' });
      }
    };
    const out = this.predictBatch([w, w]);
    return Array.isArray(out) ? check(out) : out.then(check);
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
 * in job order: synchronously when every model runs in this thread, else as a promise.
 */
export function runPriceJobs(jobs: readonly PriceJob[]): number[] | Promise<number[]> {
  const out = new Array<number>(jobs.length);
  const groups = new Map<ServingPriceModel, number[]>();
  jobs.forEach((j, i) => {
    const g = groups.get(j.model);
    if (g) g.push(i);
    else groups.set(j.model, [i]);
  });
  const pending: Promise<void>[] = [];
  for (const [model, idx] of groups) {
    const fill = (returns: number[]) => idx.forEach((i, k) => (out[i] = returns[k]!));
    const returns = model.predictBatch(idx.map((i) => jobs[i]!.window));
    if (Array.isArray(returns)) fill(returns);
    else pending.push(returns.then(fill));
  }
  return pending.length === 0 ? out : Promise.all(pending).then(() => out);
}
