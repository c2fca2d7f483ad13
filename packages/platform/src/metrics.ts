import client from 'prom-client';

/** One registry per process, with the counters every stage reports. */
export function createMetrics(service: string) {
  const registry = new client.Registry();
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry });
  const processed = new client.Counter({
    name: 'stockmlops_messages_processed_total',
    help: 'Messages handled, by topic and outcome (ok, failed, dead_lettered)',
    labelNames: ['topic', 'outcome'] as const,
    registers: [registry],
  });
  const deadLettered = new client.Counter({
    name: 'stockmlops_dead_lettered_total',
    help: 'Records sent to a dead-letter topic, by stage and error code',
    labelNames: ['stage', 'code'] as const,
    registers: [registry],
  });
  const stageLatency = new client.Histogram({
    name: 'stockmlops_stage_latency_seconds',
    help: 'Time to handle one consumed batch, by topic',
    labelNames: ['topic'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const consumerLag = new client.Gauge({
    name: 'stockmlops_consumer_lag',
    help: 'High watermark minus the next offset to process, per topic partition',
    labelNames: ['topic', 'partition'] as const,
    registers: [registry],
  });
  const produced = new client.Counter({
    name: 'stockmlops_messages_produced_total',
    help: 'Messages produced, by topic',
    labelNames: ['topic'] as const,
    registers: [registry],
  });
  const modelInfo = new client.Gauge({
    name: 'stockmlops_model_version_info',
    help: 'Model version in use (value 1), by model name and version',
    labelNames: ['model', 'version', 'task'] as const,
    registers: [registry],
  });
  const consumerRecoveries = new client.Counter({
    name: 'stockmlops_consumer_recoveries_total',
    help: 'Kafka consumer crashes recovered in process (rejoin or kafkajs restart), by consumer group and reason',
    labelNames: ['group', 'reason'] as const,
    registers: [registry],
  });
  return { registry, processed, deadLettered, stageLatency, consumerLag, produced, modelInfo, consumerRecoveries };
}
export type Metrics = ReturnType<typeof createMetrics>;
