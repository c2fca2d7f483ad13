import { withDbRetry, type Consumed, type ServiceContext } from '@stock-mlops/platform';
import type { ChartStore } from './chart_store.ts';
import type { DashboardQueries, PredictionRow } from './queries.ts';

/**
 * Keeps the chart store current: one read of the stored bars and price predictions at start
 * (history, and whatever was written without passing through the topics), then the clean
 * prices and price predictions topics from their beginning, under a consumer group of this
 * instance only (`dashboard-<instance id>`: stable across restarts, so groups do not pile up). Both sources overwrite by natural key, so their overlap is harmless and no bar
 * written between the read and the consumer's start is missed. With `shadow`, the challenger's
 * shadow predictions (stored, and the topic `pricePredictionsShadow`) go the same way into a store of
 * their own.
 */
export interface ChartFeed {
  /** Resolves once the stored history is in the store. */
  loaded: Promise<void>;
  isLoaded: () => boolean;
  /** Ends the history read's retries (the consumer is stopped by the service's shutdown hook). */
  stop: () => void;
}

export async function startChartFeed(opts: {
  svc: Pick<ServiceContext<unknown>, 'consume' | 'log' | 'fatal'>;
  queries: DashboardQueries;
  store: ChartStore;
  instance: string;
  shadow?: { store: ChartStore; eachPrediction: (onBatch: (predictions: PredictionRow[]) => void) => Promise<number> };
}): Promise<ChartFeed> {
  const { svc, queries, store, shadow } = opts;
  let done = false;
  let stopping = false;
  // Disconnected by svc.consume's shutdown hook, after stop().
  await svc.consume({
    group: `dashboard-${opts.instance}`,
    subscribe: shadow ? (['cleanPrices', 'pricePredictions', 'pricePredictionsShadow'] as const) : (['cleanPrices', 'pricePredictions'] as const),
    // A read-only view: records it cannot decode are the monitor's kind of dead letter (it reads the same topics).
    stage: 'monitor',
    fromBeginning: true,
    lagIntervalMs: 0,
    handle: async (batch: Consumed<'cleanPrices' | 'pricePredictions' | 'pricePredictionsShadow'>[]) => {
      const bars = [];
      const predictions = [];
      const shadowPredictions = [];
      for (const m of batch) {
        if (m.topicKey === 'cleanPrices') bars.push((m as Consumed<'cleanPrices'>).envelope.data);
        else if (m.topicKey === 'pricePredictionsShadow') shadowPredictions.push((m as Consumed<'pricePredictionsShadow'>).envelope.data);
        else predictions.push((m as Consumed<'pricePredictions'>).envelope.data);
      }
      store.addBars(bars);
      store.addPredictions(predictions);
      shadow?.store.addPredictions(shadowPredictions);
    },
  });
  const started = Date.now();
  const loaded = (async () => {
    const bars = await withDbRetry(() => queries.eachBar((b) => store.addBars(b)), { log: svc.log, isStopping: () => stopping });
    const predictions = await withDbRetry(() => queries.eachPrediction((p) => store.addPredictions(p)), { log: svc.log, isStopping: () => stopping });
    const shadowPredictions = shadow ? await withDbRetry(() => shadow.eachPrediction((p) => shadow.store.addPredictions(p)), { log: svc.log, isStopping: () => stopping }) : 0;
    done = true;
    svc.log.info({ storedBars: bars, storedPredictions: predictions, storedShadowPredictions: shadowPredictions, ms: Date.now() - started, inMemory: store.counts }, 'chart history loaded');
  })();
  loaded.catch((err: unknown) => {
    if (!stopping) svc.fatal(err);
  });
  return {
    loaded,
    isLoaded: () => done,
    stop: () => {
      stopping = true;
    },
  };
}
