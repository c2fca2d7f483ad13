/**
 * Kafka topic names: the single source of truth.
 *
 * One topic family per pipeline stage; every name carries a version suffix so that an
 * incompatible schema change ships as a new topic rather than breaking consumers in place.
 * `KAFKA_TOPIC_PREFIX` (passed to `resolveTopics`) namespaces every topic, which lets
 * several deployments (or test runs) share one cluster.
 */

export const TOPIC_DEFS = {
  rawPrices: { name: 'stock.raw.prices.v1', stage: 'raw', partitions: 6, compacted: false },
  rawFinancials: { name: 'stock.raw.financials.v1', stage: 'raw', partitions: 3, compacted: false },
  rawNews: { name: 'stock.raw.news.v1', stage: 'raw', partitions: 3, compacted: false },
  cleanPrices: { name: 'stock.clean.prices.v1', stage: 'transform', partitions: 6, compacted: false },
  cleanFinancials: { name: 'stock.clean.financials.v1', stage: 'transform', partitions: 3, compacted: false },
  cleanNews: { name: 'stock.clean.news.v1', stage: 'transform', partitions: 3, compacted: false },
  features: { name: 'stock.features.v1', stage: 'transform', partitions: 6, compacted: false },
  /** Feature schemas (names and version) keyed by their hash: feature vectors carry only the hash (compacted). */
  featureSchemas: { name: 'stock.schemas.v1', stage: 'transform', partitions: 1, compacted: true },
  pricePredictions: { name: 'stock.predictions.price.v1', stage: 'predict', partitions: 6, compacted: false },
  sentimentPredictions: { name: 'stock.predictions.sentiment.v1', stage: 'predict', partitions: 3, compacted: false },
  /** A challenger model's predictions, scored beside production and never served (same event ids). */
  pricePredictionsShadow: { name: 'stock.predictions.shadow.v1', stage: 'predict', partitions: 6, compacted: false },
  /** Human sentiment labels, keyed by the text's hash: the last label per text wins (compacted). */
  sentimentLabels: { name: 'stock.labels.sentiment.v1', stage: 'raw', partitions: 3, compacted: true },
  modelEvents: { name: 'stock.models.events.v1', stage: 'train', partitions: 1, compacted: false },
  monitorEvents: { name: 'stock.monitor.events.v1', stage: 'monitor', partitions: 1, compacted: false },
  dlqTransform: { name: 'stock.dlq.transform.v1', stage: 'transform', partitions: 1, compacted: false },
  dlqLoad: { name: 'stock.dlq.load.v1', stage: 'load', partitions: 1, compacted: false },
  dlqPredict: { name: 'stock.dlq.predict.v1', stage: 'predict', partitions: 1, compacted: false },
  dlqTrain: { name: 'stock.dlq.train.v1', stage: 'train', partitions: 1, compacted: false },
  dlqMonitor: { name: 'stock.dlq.monitor.v1', stage: 'monitor', partitions: 1, compacted: false },
} as const;

export type TopicKey = keyof typeof TOPIC_DEFS;
export type Topics = { readonly [K in TopicKey]: string };

export const TOPIC_KEYS = Object.keys(TOPIC_DEFS) as TopicKey[];

/** Dead-letter topic for records that a stage could not process. */
export const DLQ_BY_STAGE = {
  transform: 'dlqTransform',
  load: 'dlqLoad',
  predict: 'dlqPredict',
  train: 'dlqTrain',
  monitor: 'dlqMonitor',
} as const satisfies Record<string, TopicKey>;
export type Stage = keyof typeof DLQ_BY_STAGE;

const PREFIX_RE = /^[a-zA-Z0-9._-]{0,100}$/;

/** Resolve every topic name under an optional namespace prefix. */
export function resolveTopics(prefix = ''): Topics {
  if (!PREFIX_RE.test(prefix)) {
    throw Object.assign(new Error(`invalid topic prefix "${prefix}": use letters, digits, '.', '_' or '-'`), {
      code: 'E_TOPIC_PREFIX',
    });
  }
  const out = {} as Record<TopicKey, string>;
  for (const key of TOPIC_KEYS) out[key] = `${prefix}${TOPIC_DEFS[key].name}`;
  return out;
}
