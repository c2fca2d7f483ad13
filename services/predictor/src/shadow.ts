/**
 * The challenger's adapter: the shadow scorer (packages/ml/src/inference/shadow_scorer.ts) with
 * its Kafka publishing to the shadow topic, its metrics and log lines. The feature consumer offers
 * each batch's production predictions after they were published (streams.ts); the challenger runs
 * in the inference queue's idle lane (`whenIdle`), so production work always goes first. Drops
 * are counted per reason and logged at most once per DROP_LOG_EVERY_MS (summed).
 */
import client from 'prom-client';
import { encode, makeEnvelope, TRACE_HEADER } from '@stock-mlops/contracts';
import { LogThrottle, type ServiceContext } from '@stock-mlops/platform';
import { ShadowScorer, type ShadowDropReason } from '@stock-mlops/ml/inference/shadow_scorer';
import type { WhenIdle } from '@stock-mlops/ml/inference/price_inference';
import type { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import type { PredictorEnv } from './config.ts';
import type { ModelCatalog } from './model_loader.ts';

/** Shadow drops are logged at most this often (summed per reason in between). */
const DROP_LOG_EVERY_MS = 10_000;

export function startShadow({ svc, core, catalog, whenIdle }: { svc: ServiceContext<PredictorEnv>; core: PredictorCore; catalog: ModelCatalog; whenIdle: WhenIdle }): ShadowScorer {
  const { config, log, metrics, producer, topics, shutdown } = svc;
  const registers = [metrics.registry];
  const scored = new client.Counter({ name: 'stockmlops_shadow_predictions_total', help: 'Challenger predictions published to the shadow topic', registers });
  const offered = new client.Counter({ name: 'stockmlops_shadow_offered_total', help: 'Production predictions offered to the challenger (shadow completeness = shadow predictions / offered)', registers });
  const dropped = new client.Counter({
    name: 'stockmlops_shadow_dropped_total',
    help: 'Production predictions the challenger did not shadow-score, by reason (overflow, timeout, error, publish, challenger_dropped)',
    labelNames: ['reason'] as const,
    registers,
  });
  const challengerDrops = new client.Counter({
    name: 'stockmlops_challenger_dropped_total',
    help: 'Challengers dropped for failing or timing out in shadow scoring, by reason',
    labelNames: ['reason'] as const,
    registers,
  });
  const seconds = new client.Histogram({
    name: 'stockmlops_shadow_batch_seconds',
    help: 'Time to shadow-score and publish one batch with the challenger',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers,
  });
  const dropLog = new LogThrottle<ShadowDropReason>(DROP_LOG_EVERY_MS, (counts, detail) =>
    log.warn({ dropped: counts, challenger: core.challenger?.ref.version, ...detail }, 'shadow predictions dropped; production keeps serving'),
  );
  const scorer: ShadowScorer = new ShadowScorer({
    maxQueue: config.SHADOW_QUEUE_MAX,
    timeoutMs: config.SHADOW_TIMEOUT_MS,
    maxFailures: config.SHADOW_MAX_FAILURES,
    challenger: () => core.challenger,
    whenIdle,
    window: (model, symbol, asOf) => core.windowAt(model, symbol, asOf),
    publish: async (out) => {
      const messages = out.map((o) => {
        const env = makeEnvelope('pricePredictionsShadow', {
          data: o.prediction,
          source: 'predictor',
          eventId: o.eventId,
          eventTime: o.prediction.asOf,
          ...(o.traceId ? { traceId: o.traceId } : {}),
        });
        return { ...encode('pricePredictionsShadow', env), headers: o.traceId ? { [TRACE_HEADER]: o.traceId } : {} };
      });
      await producer.send(topics.pricePredictionsShadow, messages);
    },
    onScored: (n, ms) => {
      scored.inc(n);
      seconds.observe(ms / 1000);
    },
    onOffered: (n) => offered.inc(n),
    onDropped: (reason, n, err) => {
      dropped.inc({ reason }, n);
      dropLog.add(reason, n, err === undefined ? {} : { code: (err as { code?: string }).code, error: (err as Error).message });
    },
    onChallengerFailed: (model, reason, err) => {
      catalog.dropChallenger(model);
      challengerDrops.inc({ reason });
      log.error(
        { model: model.ref.name, version: model.ref.version, reason, failures: config.SHADOW_MAX_FAILURES, code: (err as { code?: string }).code, error: (err as Error).message },
        'challenger dropped after failing in shadow scoring; production keeps serving',
      );
    },
  });
  new client.Gauge({ name: 'stockmlops_shadow_queue_depth', help: 'Production predictions waiting to be shadow-scored', registers, collect() {
    this.set(scorer.depth);
  } });
  shutdown.add('shadow-scorer', () => {
    scorer.close();
    dropLog.flush();
  });
  return scorer;
}
