import { AppError, encode, makeEnvelope, type SentimentLabelRecord, type Topics } from '@stock-mlops/contracts';
import type { BatchingProducer } from './producer.ts';

/** Publishes label records to `stock.labels.sentiment.v1` (resolves once the broker acknowledged them). */
export type LabelPublisher = (records: readonly SentimentLabelRecord[]) => Promise<void>;

/**
 * A way onto the labels topic for our own services (the predictor's SubmitSentimentLabels, the
 * dashboard): one envelope per record (event id from text, labeller and time, so a retried
 * publish is the same event), keyed by the text's hash. A broker failure is
 * E_LABELS_UNAVAILABLE (retriable), without the broker's message.
 */
export function createLabelPublisher(producer: Pick<BatchingProducer, 'send'>, topics: Pick<Topics, 'sentimentLabels'>, source: string): LabelPublisher {
  return async (records) => {
    const messages = records.map((data) => {
      const env = makeEnvelope('sentimentLabels', { data, source, idParts: [data.text, data.labeller, data.labelledAt], eventTime: data.labelledAt });
      return encode('sentimentLabels', env);
    });
    try {
      await producer.send(topics.sentimentLabels, messages);
    } catch (err) {
      throw new AppError('E_LABELS_UNAVAILABLE', 'labels could not be published; retry later', { cause: err, retriable: true });
    }
  };
}
