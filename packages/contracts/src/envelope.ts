import { z } from 'zod';
import * as S from './schemas.ts';
import { Timestamp } from './primitives.ts';
import type { TopicKey } from './topics.ts';
import { sentimentTextHash } from './ids.ts';

/**
 * Every message on every (non dead-letter) topic is an envelope:
 * `{ eventId, type, schemaVersion, eventTime, source, traceId?, data }`, keyed by symbol (labels: by
 * the text hash, feature schemas by their hash; see messageKey).
 */
export const MESSAGE_DEFS = {
  rawPrices: { type: 'price.bar.raw', schemaVersion: 1, data: S.RawPriceBar },
  rawFinancials: { type: 'financial.fact.raw', schemaVersion: 1, data: S.RawFinancialFact },
  rawNews: { type: 'news.article.raw', schemaVersion: 1, data: S.RawNewsArticle },
  cleanPrices: { type: 'price.bar.clean', schemaVersion: 1, data: S.CleanPriceBar },
  cleanFinancials: { type: 'financial.fact.clean', schemaVersion: 1, data: S.CleanFinancialFact },
  cleanNews: { type: 'news.article.clean', schemaVersion: 1, data: S.CleanNewsArticle },
  features: { type: 'features.vector', schemaVersion: 1, data: S.FeatureVector },
  featureSchemas: { type: 'features.schema', schemaVersion: 1, data: S.FeatureSchemaRecord },
  pricePredictions: { type: 'prediction.price', schemaVersion: 1, data: S.PricePrediction },
  sentimentPredictions: { type: 'prediction.sentiment', schemaVersion: 1, data: S.SentimentPrediction },
  pricePredictionsShadow: { type: 'prediction.price.shadow', schemaVersion: 1, data: S.PricePrediction },
  sentimentLabels: { type: 'label.sentiment', schemaVersion: 1, data: S.SentimentLabelRecord },
  modelEvents: { type: 'model.event', schemaVersion: 1, data: S.ModelEvent },
  monitorEvents: { type: 'monitor.event', schemaVersion: 1, data: S.MonitorEvent },
} as const;

export type DataTopicKey = keyof typeof MESSAGE_DEFS;
export const DATA_TOPIC_KEYS = Object.keys(MESSAGE_DEFS) as DataTopicKey[];
export type DataOf<K extends DataTopicKey> = z.infer<(typeof MESSAGE_DEFS)[K]['data']>;
export type DataInputOf<K extends DataTopicKey> = z.input<(typeof MESSAGE_DEFS)[K]['data']>;

export interface Envelope<D> {
  eventId: string;
  type: string;
  schemaVersion: number;
  eventTime: string;
  source: string;
  traceId?: string | undefined;
  data: D;
}
export type EnvelopeOf<K extends DataTopicKey> = Envelope<DataOf<K>>;

const envelopeBase = {
  eventId: z.string().min(8).max(128).regex(/^[A-Za-z0-9:_-]+$/, 'eventId: letters, digits, ":", "_" or "-"'),
  eventTime: Timestamp,
  source: z.string().min(1).max(100),
  traceId: z.string().regex(/^[0-9a-f]{16,32}$/).optional(),
};

/** Envelope schema for one topic: the literal type and schema version are enforced. */
export function envelopeSchema<K extends DataTopicKey>(key: K) {
  const def = MESSAGE_DEFS[key];
  return z.strictObject({
    ...envelopeBase,
    type: z.literal(def.type),
    schemaVersion: z.literal(def.schemaVersion),
    data: def.data,
  });
}

const cache = new Map<DataTopicKey, z.ZodType>();
export function cachedEnvelopeSchema(key: DataTopicKey): z.ZodType {
  let s = cache.get(key);
  if (!s) {
    s = envelopeSchema(key);
    cache.set(key, s);
  }
  return s;
}

/** Kafka message key: messages are keyed by symbol (model events by model name, monitor events by task, feature schemas by hash). */
export function messageKey<K extends DataTopicKey>(key: K, data: DataOf<K>): string {
  if (key === 'sentimentLabels') return sentimentTextHash((data as S.SentimentLabelRecord).text);
  if (key === 'featureSchemas') return (data as S.FeatureSchemaRecord).schemaHash;
  const d = data as Record<string, unknown>;
  if (typeof d.symbol === 'string') return d.symbol;
  if (key === 'modelEvents') return (data as S.ModelEvent).model.name;
  if (key === 'monitorEvents') return (data as S.MonitorEvent).task;
  return '';
}

export function isDataTopicKey(k: TopicKey): k is DataTopicKey {
  return k in MESSAGE_DEFS;
}
