import { z } from 'zod';
import { envelopeSchema, MESSAGE_DEFS, type DataTopicKey } from './envelope.ts';
import { TOPIC_DEFS } from './topics.ts';

/** Topics that external producers may write to: their JSON Schemas are published in schemas/. */
export const RAW_TOPIC_KEYS = ['rawPrices', 'rawFinancials', 'rawNews', 'sentimentLabels'] as const satisfies readonly DataTopicKey[];

/** JSON Schema (draft 2020-12) of a topic's envelope, generated from the zod source of truth. */
export function topicJsonSchema(key: DataTopicKey): Record<string, unknown> {
  const schema = z.toJSONSchema(envelopeSchema(key), { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: `https://stock-mlops.dev/schemas/${TOPIC_DEFS[key].name}.json`,
    title: `${TOPIC_DEFS[key].name} (${MESSAGE_DEFS[key].type} v${MESSAGE_DEFS[key].schemaVersion})`,
    description: `Envelope for topic ${TOPIC_DEFS[key].name}; Kafka key = ${key === 'sentimentLabels' ? 'sha256 hex of data.text, NFC-normalised, trimmed, whitespace collapsed' : 'data.symbol'}.`,
  };
}
