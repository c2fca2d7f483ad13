/**
 * trainer: trains the price model on the features in MongoDB and the sentiment model on a
 * configured CSV, evaluates each against naive baselines and the production model, registers the
 * version and promotes it only through the gate; publishes model events.
 *
 * Triggers: at start (when no production model exists: price from the bundled CSV files in
 * process — TRAIN_BOOTSTRAP_DATA, see bootstrap.ts — or, with that empty, once the loader stored
 * enough features; sentiment from its CSV), on a
 * schedule (TRAIN_INTERVAL_MS, TRAIN_SENTIMENT_INTERVAL_MS), after TRAIN_SENTIMENT_NEW_LABELS new
 * sentiment labels (trained on with the CSV, a held-back slice scored by the gate), on a `retrain_requested` monitor
 * event (also published by `npm run models -- retrain`). One training at a time per model, across
 * processes (a lease in MongoDB shared with the `npm run train` CLI). A run whose process died is
 * taken over and re-run; it never leaves a half-registered version (artifacts are written before
 * the version document, orphans are swept, a version registered but never gated is rejected).
 */
import { startService } from '@stock-mlops/platform';
import { TrainerEnv } from './config.ts';
import { createTrainingSchedule } from './schedule.ts';

const svc = await startService({ name: 'trainer', env: TrainerEnv, mongo: true });
const { config, log, shutdown } = svc;
const trainer = await createTrainingSchedule({ db: svc.mongo!.db, config, log, metrics: svc.metrics, producer: svc.producer, topics: svc.topics, kafka: svc.kafka, shutdown });
shutdown.add('training', trainer.stop);

await trainer.handleAbandoned();
const janitor = setInterval(() => void trainer.handleAbandoned().catch((err) => log.warn({ err }, 'abandoned-run check failed')), config.TRAIN_LEASE_MS);
shutdown.add('janitor', () => clearInterval(janitor));
await trainer.initialSentimentTraining();
if (config.TRAIN_ON_START) void trainer.initialPriceTraining().catch((err) => log.error({ err }, 'initial price training could not start'));
for (const [task, every] of [['price', config.TRAIN_INTERVAL_MS], ['sentiment', config.TRAIN_SENTIMENT_INTERVAL_MS]] as const) {
  if (every <= 0) continue;
  const timer = setInterval(() => void trainer.requestTraining(task, 'schedule'), every);
  shutdown.add(`schedule-${task}`, () => clearInterval(timer));
}
if (config.TRAIN_SENTIMENT_NEW_LABELS > 0) {
  const labelPoll = setInterval(() => void trainer.checkNewLabels().catch((err) => log.warn({ err }, 'new-label check failed')), config.TRAIN_SENTIMENT_LABELS_POLL_MS);
  shutdown.add('label-poll', () => clearInterval(labelPoll));
}
// Retrain requests (from the monitor, or `npm run models -- retrain`). Started last: joining the
// consumer group can wait for a killed predecessor's session to expire, start-up work must not.
await svc.consume({
  group: 'trainer',
  subscribe: ['monitorEvents'] as const,
  stage: 'train',
  fromBeginning: false,
  handle: async (batch) => {
    for (const m of batch) trainer.onMonitorEvent(m.envelope.data);
  },
});
svc.setReady('trainer', true);
