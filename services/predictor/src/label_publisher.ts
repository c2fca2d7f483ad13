import { encode, makeEnvelope, type SentimentLabelRecord, type Topics } from '@stock-mlops/contracts';
import { RpcError, type BatchingProducer } from '@stock-mlops/platform';

/** Publishes label records to `stock.labels.sentiment.v1` (resolves once the broker acknowledged them). */
export type LabelPublisher = (records: readonly SentimentLabelRecord[]) => Promise<void>;

/**
 * The predictor's way onto the labels topic: one envelope per record (source `predictor-grpc`,
 * event id from text hash, labeller and time, so a retried publish is the same event), keyed by
 * the text's hash. A broker failure is E_LABELS_UNAVAILABLE (UNAVAILABLE: the client may retry).
 */
export function createLabelPublisher(producer: Pick<BatchingProducer, 'send'>, topics: Pick<Topics, 'sentimentLabels'>): LabelPublisher {
  return async (records) => {
    const messages = records.map((data) => {
      const env = makeEnvelope('sentimentLabels', { data, source: 'predictor-grpc', idParts: [data.text, data.labeller, data.labelledAt], eventTime: data.labelledAt });
      return encode('sentimentLabels', env);
    });
    try {
      await producer.send(topics.sentimentLabels, messages);
    } catch (err) {
      throw Object.assign(new RpcError('E_LABELS_UNAVAILABLE', 'labels could not be published; retry later'), { cause: err });
    }
  };
}
