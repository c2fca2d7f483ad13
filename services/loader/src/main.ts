/**
 * loader: writes clean bars, features, predictions, news, financial facts and human sentiment
 * labels (guard rails and last-label-wins merge: load_labels.ts) to MongoDB with
 * idempotent bulk upserts on natural keys (`_id`; insert first, replace only changed content —
 * see Database.upsertMany), and keeps the latest-state document per symbol. Offsets are committed
 * only after the write is acknowledged; while the database is down the batch is retried with
 * backoff (heartbeating meanwhile), so nothing is lost or duplicated.
 */
import { startService } from '@stock-mlops/platform';
import { CopartitionAssigner } from '@stock-mlops/platform/kafka/copartition';
import { LoaderEnv } from './config.ts';
import { createLoader, SUBSCRIBE } from './load.ts';

const svc = await startService({ name: 'loader', env: LoaderEnv, mongo: true });
const { log, metrics, config } = svc;
const loader = createLoader({ db: svc.mongo!.db, config, log, metrics });
await loader.ensureIndexes();
await svc.consume({
  group: 'loader',
  subscribe: SUBSCRIBE,
  stage: 'load',
  partitionsConsumedConcurrently: config.LOADER_CONCURRENCY,
  // One instance owns all of a symbol's partitions, so its latest-state writes are serialized in one process.
  partitionAssigners: [CopartitionAssigner],
  beforeRun: (c) => c.on(c.events.GROUP_JOIN, loader.onAssigned),
  // Keep the group session alive while the database is slow or down (the batch is retried
  // with backoff until it is acknowledged; only then are the offsets committed).
  heartbeatWhileHandling: true,
  handle: loader.handle,
});
svc.setReady('consumer', true);
log.info('loader running');
