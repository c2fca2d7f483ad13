/**
 * The body of `POST /api/labels` as a label record, without HTTP or Kafka: the fields of
 * SentimentLabelRecord but `labelledAt` (the dashboard's time of the request), `labeller` optional.
 */
import { z } from 'zod';
import { SentimentLabelRecord, sentimentTextHash } from '@stock-mlops/contracts';

/** Labeller of a request that names none. */
export const DEFAULT_DASHBOARD_LABELLER = 'dashboard';

const LabelRequest = SentimentLabelRecord.omit({ labelledAt: true }).extend({
  labeller: z.string().trim().max(100).optional(),
});

export type LabelRequestCheck = { ok: true; record: SentimentLabelRecord; textHash: string } | { ok: false; code: 'E_BAD_REQUEST'; message: string };

export function checkLabelRequest(body: unknown, labelledAt: string): LabelRequestCheck {
  const parsed = LabelRequest.safeParse(body);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const where = i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(',') : 'body');
    return { ok: false, code: 'E_BAD_REQUEST', message: `${where}: ${i.message}` };
  }
  const { labeller, ...rest } = parsed.data;
  const record: SentimentLabelRecord = { ...rest, labeller: labeller || DEFAULT_DASHBOARD_LABELLER, labelledAt };
  return { ok: true, record, textHash: sentimentTextHash(record.text) };
}
