/**
 * transformer: raw prices → clean prices + features, incrementally per symbol, with point-in-time
 * joins of financial facts and news sentiment; raw news and financial facts → their clean topics.
 * The stage (state, batches, rebalances, idle flush) is in stage.ts; see docs/pipeline.md.
 */
import { FeatureSchemaStore } from '@stock-mlops/load';
import { startService } from '@stock-mlops/platform';
import { CopartitionAssigner } from '@stock-mlops/platform/kafka/copartition';
import { PIPELINE_SCHEMA } from '@stock-mlops/transform';
import { TransformerEnv } from './config.ts';
import { publishFeatureSchema } from './feature_schema.ts';
import { createTransformStage, SUBSCRIBE } from './stage.ts';

const svc = await startService({ name: 'transformer', env: TransformerEnv, mongo: true });
const { config, log, topics, producer, shutdown, metrics } = svc;
// The schema is stored (MongoDB, then the compacted schemas topic) before any vector that carries its hash.
await publishFeatureSchema({ store: new FeatureSchemaStore(svc.mongo!.db), producer, topics, log, isStopping: () => shutdown.isStopping });
const stage = createTransformStage({ db: svc.mongo!.db, config, log, metrics, producer, topics, isStopping: () => shutdown.isStopping });
await svc.consume({
  group: 'transformer',
  subscribe: SUBSCRIBE,
  stage: 'transform',
  partitionAssigners: [CopartitionAssigner],
  partitionsConsumedConcurrently: config.TRANSFORM_CONCURRENCY,
  beforeRun: (c) => {
    c.on(c.events.REBALANCING, stage.onRebalancing);
    c.on(c.events.GROUP_JOIN, (e) => stage.onAssigned(e.payload.memberAssignment));
  },
  // Keep the group session alive while a batch waits for the lock, its acks or its state save
  // (the database may be down for longer than the session timeout: saves back off and retry).
  heartbeatWhileHandling: true,
  handle: stage.handle,
});
shutdown.add('idle-flush', stage.startIdleFlush());
svc.setReady('consumer', true);
log.info({ schema: PIPELINE_SCHEMA.hash.slice(0, 12), version: PIPELINE_SCHEMA.version, features: PIPELINE_SCHEMA.names.length }, 'transformer running');
