/**
 * The loader's label writes: a consumed batch of `stock.labels.sentiment.v1` records is checked
 * (key = the text's hash, the labeller's rate limit) and the rest is written with writeLabels
 * (the most recent label per text wins). Rejected records go to the loader's dead-letter topic
 * with a reason; the batch goes on.
 */
import type { Db } from 'mongodb';
import client from 'prom-client';
import { sentimentTextHash } from '@stock-mlops/contracts';
import { withDbRetry, type BatchContext, type Consumed, type Logger, type Metrics } from '@stock-mlops/platform';
import { SENTIMENT_LABELS_COLLECTION, writeLabels, type LabelInput } from '@stock-mlops/load';
import type { LoaderConfig } from './config.ts';
import { createLabelRateLimit } from './label_guard.ts';

/** Dead-letter codes of label records (the reason header starts with the snake_case name). */
export const LABEL_DLQ = {
  keyMismatch: { code: 'E_LABEL_KEY', reason: 'label_key_mismatch' },
  rateLimited: { code: 'E_LABELLER_RATE_LIMITED', reason: 'labeller_rate_limited' },
} as const;

export type LabelCheck = { ok: true; input: LabelInput } | { ok: false; code: string; reason: string };

/** Pure mapping of one consumed label record to what writeLabels stores, or why it is rejected. */
export function toLabelInput(m: Pick<Consumed<'sentimentLabels'>, 'key' | 'envelope' | 'partition' | 'offset'>, admit: (l: { labeller: string; textHash: string; labelledAt: string }) => boolean, limit: string): LabelCheck {
  const record = m.envelope.data;
  const textHash = sentimentTextHash(record.text);
  if (m.key !== textHash) {
    return { ok: false, code: LABEL_DLQ.keyMismatch.code, reason: `${LABEL_DLQ.keyMismatch.reason}: key "${m.key.slice(0, 80)}" is not sentimentTextHash(text) = ${textHash}` };
  }
  if (!admit({ labeller: record.labeller, textHash, labelledAt: record.labelledAt })) {
    return { ok: false, code: LABEL_DLQ.rateLimited.code, reason: `${LABEL_DLQ.rateLimited.reason}: labeller "${record.labeller.slice(0, 100)}" is over ${limit}` };
  }
  return { ok: true, input: { textHash, record, eventId: m.envelope.eventId, partition: m.partition, offset: Number(m.offset) } };
}

export interface LabelLoaderDeps {
  db: Db;
  config: Pick<LoaderConfig, 'LABELS_MAX_PER_LABELLER_PER_WINDOW' | 'LABELS_WINDOW_SECONDS'>;
  log: Logger;
  metrics: Metrics;
}

export function createLabelLoader({ db, config, log, metrics }: LabelLoaderDeps) {
  const rateLimit = createLabelRateLimit({ maxPerWindow: config.LABELS_MAX_PER_LABELLER_PER_WINDOW, windowMs: config.LABELS_WINDOW_SECONDS * 1000 });
  const limit = `${config.LABELS_MAX_PER_LABELLER_PER_WINDOW} distinct texts per ${config.LABELS_WINDOW_SECONDS} s`;
  const conflicts = new client.Counter({
    name: 'stockmlops_sentiment_label_conflicts_total',
    help: 'Stored sentiment labels that contradicted the current label of their text and came from another labeller (kept: the most recent wins)',
    registers: [metrics.registry],
  });
  const rateLimited = new client.Counter({
    name: 'stockmlops_sentiment_labels_rate_limited_total',
    help: 'Sentiment labels dead-lettered because their labeller was over the per-window cap',
    labelNames: ['labeller'] as const,
    registers: [metrics.registry],
  });
  const stored = new client.Counter({
    name: 'stockmlops_sentiment_labels_total',
    help: 'Sentiment label records applied to the label store (applied) or already applied before (redelivered)',
    labelNames: ['outcome'] as const,
    registers: [metrics.registry],
  });
  return async (batch: Consumed<'sentimentLabels'>[], ctx: BatchContext): Promise<void> => {
    const inputs: LabelInput[] = [];
    for (const m of batch) {
      const r = toLabelInput(m, rateLimit.admit, limit);
      if (r.ok) {
        inputs.push(r.input);
        continue;
      }
      if (r.code === LABEL_DLQ.rateLimited.code) rateLimited.inc({ labeller: m.envelope.data.labeller });
      ctx.deadLetter(m, r.code, r.reason);
    }
    if (inputs.length === 0) return;
    const r = await withDbRetry(() => writeLabels(db, inputs), { log, isStopping: ctx.isStopping });
    conflicts.inc(r.conflicts);
    stored.inc({ outcome: 'applied' }, inputs.length - r.unchanged);
    stored.inc({ outcome: 'redelivered' }, r.unchanged);
    log.debug({ collection: SENTIMENT_LABELS_COLLECTION, n: inputs.length, ...r }, 'labels written');
  };
}
