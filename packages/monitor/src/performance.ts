/**
 * Rolling realized performance of price predictions, per model version and per (version,
 * symbol): MAE / RMSE / MAPE of the predicted price, the mean absolute error of the return,
 * directional accuracy and the information coefficient (Pearson) with its rank variant, all
 * computed by `priceMetrics` (the same definitions as the offline evaluation). Each window keeps
 * the `window` newest outcomes by as-of time; only outcomes after the version's training data
 * ("live" ones) are scored, since earlier ones are in-sample.
 */
import type { ModelRef } from '@stock-mlops/contracts';
import { priceMetrics } from '@stock-mlops/ml/evaluation/metrics';
import { EventTimeWindow } from './event_window.ts';
import type { Outcome } from './joiner.ts';

export interface RollingPerformance {
  modelName: string;
  modelVersion: number;
  /** Empty for the whole version. */
  symbol: string;
  n: number;
  mae: number;
  rmse: number;
  mape: number;
  returnMae: number;
  directionalAccuracy: number;
  ic: number;
  rankIc: number;
  /** As-of time of the oldest and newest outcome scored. */
  from: string;
  to: string;
}

const refKey = (m: ModelRef) => `${m.name}@${m.version}`;

export function rollingPerformance(model: ModelRef, symbol: string, outcomes: readonly Outcome[]): RollingPerformance {
  const base = { modelName: model.name, modelVersion: model.version, symbol, n: outcomes.length };
  if (outcomes.length === 0) {
    return { ...base, mae: NaN, rmse: NaN, mape: NaN, returnMae: NaN, directionalAccuracy: NaN, ic: NaN, rankIc: NaN, from: '', to: '' };
  }
  const m = priceMetrics({
    lastClose: outcomes.map((o) => o.lastClose),
    realizedReturn: outcomes.map((o) => o.realizedReturn),
    predictedReturn: outcomes.map((o) => o.predictedReturn),
  });
  let absReturnError = 0;
  for (const o of outcomes) absReturnError += Math.abs(o.predictedReturn - o.realizedReturn);
  return {
    ...base,
    mae: m.mae,
    rmse: m.rmse,
    mape: m.mape,
    returnMae: absReturnError / outcomes.length,
    directionalAccuracy: m.directionalAccuracy,
    ic: m.ic,
    rankIc: m.rankIc,
    from: outcomes[0]!.asOf,
    to: outcomes[outcomes.length - 1]!.asOf,
  };
}

export class PerformanceTracker {
  private readonly byVersion = new Map<string, { model: ModelRef; window: EventTimeWindow<Outcome> }>();
  private readonly bySymbol = new Map<string, Map<string, EventTimeWindow<Outcome>>>();

  constructor(private readonly window: number) {}

  add(o: Outcome): void {
    const k = refKey(o.model);
    let v = this.byVersion.get(k);
    if (!v) {
      v = { model: o.model, window: new EventTimeWindow<Outcome>(this.window) };
      this.byVersion.set(k, v);
    }
    v.window.add(o.key, o.asOfMs, o);
    let symbols = this.bySymbol.get(k);
    if (!symbols) {
      symbols = new Map();
      this.bySymbol.set(k, symbols);
    }
    let w = symbols.get(o.symbol);
    if (!w) {
      w = new EventTimeWindow<Outcome>(this.window);
      symbols.set(o.symbol, w);
    }
    w.add(o.key, o.asOfMs, o);
  }

  versions(): ModelRef[] {
    return [...this.byVersion.values()].map((v) => v.model).sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version);
  }

  /** Metrics of one version over its live outcomes (as-of after `liveAfterMs`). */
  version(model: ModelRef, liveAfterMs?: number): RollingPerformance {
    return rollingPerformance(model, '', this.outcomes(model, liveAfterMs));
  }

  /** The version's live outcomes in its window (as-of after `liveAfterMs`), ascending. */
  outcomes(model: ModelRef, liveAfterMs?: number): Outcome[] {
    return this.byVersion.get(refKey(model))?.window.since(liveAfterMs).map((e) => e.item) ?? [];
  }

  symbols(model: ModelRef, liveAfterMs?: number): RollingPerformance[] {
    const symbols = this.bySymbol.get(refKey(model));
    if (!symbols) return [];
    return [...symbols.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([symbol, w]) => rollingPerformance(model, symbol, w.since(liveAfterMs).map((e) => e.item)));
  }

  /** Oldest as-of time any window still holds (older persisted outcomes can be pruned). */
  oldestKeptMs(): number | undefined {
    let oldest: number | undefined;
    for (const symbols of this.bySymbol.values()) {
      for (const w of symbols.values()) {
        const t = w.oldestMs();
        if (t !== undefined && (oldest === undefined || t < oldest)) oldest = t;
      }
    }
    return oldest;
  }
}
