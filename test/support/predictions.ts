/** A price prediction to publish through a PredictorCore in WebSocket tests, and minute-spaced `asOf` times. */
import type { PricePrediction } from '@stock-mlops/contracts';

export const SAMPLE_PREDICTION: PricePrediction = {
  symbol: 'AAA',
  interval: '1d',
  asOf: '2024-01-01T00:00:00.000Z',
  horizon: 1,
  lastClose: 100,
  predictedReturn: 0.01,
  predictedPrice: 101,
  model: { name: 'price', version: 1 },
  featureSchemaHash: 'abc',
  latencyMs: 1,
};

/** `2024-01-01T00:00Z` plus `i` minutes, as an ISO string. */
export const minuteAt = (i: number): string => new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString();
