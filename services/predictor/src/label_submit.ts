/**
 * SubmitSentimentLabels without the transport: each item of a request becomes a label record for
 * `stock.labels.sentiment.v1` or a reason naming the item. No gRPC or Kafka here (grpc_domain.ts
 * adapts, createLabelPublisher in @stock-mlops/platform publishes).
 */
import { SENTIMENT_LABELS_MAX_TEXT_CHARS, SentimentLabel, SentimentLabelRecord, sentimentTextHash } from '@stock-mlops/contracts';

export interface LabelItemRequest {
  text?: string;
  label?: string;
  labeller?: string;
  articleId?: string;
  symbol?: string;
}

/** Labeller of items that name none. */
export const DEFAULT_LABELLER = 'grpc';

export type LabelItemCheck = { ok: true; record: SentimentLabelRecord; textHash: string } | { ok: false; code: 'E_INVALID_ARGUMENT'; message: string };

/** One item: proto3 empty strings are "not set" for the optional fields. */
export function checkLabelItem(item: LabelItemRequest, index: number, labelledAt: string): LabelItemCheck {
  const bad = (why: string): LabelItemCheck => ({ ok: false, code: 'E_INVALID_ARGUMENT', message: `items[${index}]: ${why}` });
  const text = (item.text ?? '').trim();
  if (text.length === 0) return bad('text must not be empty');
  if (text.length > SENTIMENT_LABELS_MAX_TEXT_CHARS) return bad(`text is ${text.length} characters, at most ${SENTIMENT_LABELS_MAX_TEXT_CHARS} are allowed`);
  if (!SentimentLabel.safeParse(item.label).success) return bad(`label "${String(item.label ?? '').slice(0, 32)}" is not one of ${SentimentLabel.options.join(', ')}`);
  const parsed = SentimentLabelRecord.safeParse({
    text,
    label: item.label,
    labeller: item.labeller || DEFAULT_LABELLER,
    labelledAt,
    ...(item.articleId ? { articleId: item.articleId } : {}),
    ...(item.symbol ? { symbol: item.symbol } : {}),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return bad(`${issue.path.join('.') || 'item'}: ${issue.message}`);
  }
  return { ok: true, record: parsed.data, textHash: sentimentTextHash(parsed.data.text) };
}
