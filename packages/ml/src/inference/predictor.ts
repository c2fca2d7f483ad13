import type { FeatureVector, ModelRef, PricePrediction } from '@stock-mlops/contracts';
import type { PriceModel } from '../training/models/price_predictor.ts';
import type { InputSpec } from './preprocessor.ts';

/**
 * A loaded, servable price model. Pure inference logic; transports (Kafka, gRPC, WebSocket)
 * live in the predictor service.
 */
export interface PredictItem {
  window: number[][];
  symbol: string;
  interval: FeatureVector['interval'];
  asOf: string;
  lastClose: number;
}

export class ServingPriceModel {
  readonly spec: InputSpec;

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

  predictWindows(items: PredictItem[]): PricePrediction[] {
    if (items.length === 0) return [];
    const t0 = performance.now();
    const returns = this.model.predict(items.map((i) => i.window));
    const latencyMs = performance.now() - t0;
    return items.map((it, i) => {
      const predictedReturn = returns[i]!;
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
        latencyMs,
      };
    });
  }

  /** Sanity check before a model is switched in: finite outputs on a typical window. */
  warmup(): void {
    const w = Array.from({ length: this.spec.lookback }, () => [...this.model.meta.featureMean]);
    const out = this.model.predict([w, w]);
    if (out.length !== 2 || !out.every(Number.isFinite)) {
      throw Object.assign(new Error('warm-up produced non-finite output'), { code: 'E_WARMUP' });
    }
  }
}
