/**
 * The transformer's feature schema, stored once per hash before it produces any vector: in
 * MongoDB's `feature_schemas` collection (what consumers resolve hashes from) and on the
 * compacted `stock.schemas.v1` topic, keyed by the hash (for external consumers; compaction keeps
 * the one record per hash). Feature messages then carry only the hash (outputs.ts).
 */
import { encode, makeEnvelope, type FeatureSchemaRecord, type Topics } from '@stock-mlops/contracts';
import { withDbRetry, type BatchingProducer, type Logger } from '@stock-mlops/platform';
import type { FeatureSchemaStore } from '@stock-mlops/load';
import { PIPELINE_SCHEMA } from '@stock-mlops/transform';

export const PIPELINE_SCHEMA_RECORD: FeatureSchemaRecord = {
  schemaHash: PIPELINE_SCHEMA.hash,
  schemaVersion: PIPELINE_SCHEMA.version,
  names: [...PIPELINE_SCHEMA.names],
};

export interface PublishSchemaDeps {
  store: FeatureSchemaStore;
  producer: Pick<BatchingProducer, 'send'>;
  topics: Pick<Topics, 'featureSchemas'>;
  log: Logger;
  isStopping?: () => boolean;
}

/** Stores the schema in MongoDB, then on the topic (acknowledged); call before consuming. */
export async function publishFeatureSchema({ store, producer, topics, log, isStopping }: PublishSchemaDeps, record: FeatureSchemaRecord = PIPELINE_SCHEMA_RECORD): Promise<void> {
  await withDbRetry(() => store.put(record), { log, ...(isStopping ? { isStopping } : {}) });
  // The event id depends on the hash only: a restart republishes the same record (compaction keeps one per key).
  const env = makeEnvelope('featureSchemas', { data: record, source: 'transformer', idParts: [record.schemaHash] });
  await producer.send(topics.featureSchemas, [encode('featureSchemas', env)]);
  log.info({ schema: record.schemaHash.slice(0, 12), version: record.schemaVersion, names: record.names.length }, 'feature schema published');
}
