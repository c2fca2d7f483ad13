/**
 * Dead-letter records keep the original bytes as the value; these headers say why and where from.
 */
export const DLQ_HEADERS = {
  reason: 'dlq.reason',
  code: 'dlq.code',
  stage: 'dlq.stage',
  sourceTopic: 'dlq.source.topic',
  sourcePartition: 'dlq.source.partition',
  sourceOffset: 'dlq.source.offset',
  time: 'dlq.time',
} as const;

/** Kafka header that carries the trace id from extraction to prediction. */
export const TRACE_HEADER = 'trace-id';
