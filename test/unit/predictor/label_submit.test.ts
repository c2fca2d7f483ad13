import * as assert from 'uvu/assert';
import { decode, sentimentTextHash } from '@stock-mlops/contracts';
import type { OutMessage } from '@stock-mlops/platform';
import { checkLabelItem, DEFAULT_LABELLER } from '../../../services/predictor/src/label_submit.ts';
import { createLabelPublisher } from '@stock-mlops/platform';
import { suite } from '../../harness/index.ts';

const t = suite('predictor: SubmitSentimentLabels items and publishing');
const AT = '2026-12-07T17:00:00.000Z';

t('a valid item becomes a label record keyed by the hash of its normalised text; empty optional fields are unset', () => {
  const c = checkLabelItem({ text: '  Apple  beats estimates ', label: 'positive', labeller: '', articleId: '', symbol: 'AAPL' }, 0, AT);
  assert.equal(c, { ok: true, textHash: sentimentTextHash('Apple beats estimates'), record: { text: 'Apple  beats estimates', label: 'positive', labeller: DEFAULT_LABELLER, labelledAt: AT, symbol: 'AAPL' } });
});

t('bad items are refused with their index and the reason', () => {
  const why = (item: Parameters<typeof checkLabelItem>[0], i = 3) => {
    const c = checkLabelItem(item, i, AT);
    assert.is(c.ok, false);
    return c.ok ? '' : `${c.code} ${c.message}`;
  };
  assert.is(why({ text: '   ', label: 'positive' }), 'E_INVALID_ARGUMENT items[3]: text must not be empty');
  assert.is(why({ label: 'positive' }, 0), 'E_INVALID_ARGUMENT items[0]: text must not be empty');
  assert.is(why({ text: 'x'.repeat(2001), label: 'positive' }), 'E_INVALID_ARGUMENT items[3]: text is 2001 characters, at most 2000 are allowed');
  assert.is(why({ text: 'ok', label: 'bullish' }), 'E_INVALID_ARGUMENT items[3]: label "bullish" is not one of negative, neutral, positive');
  assert.is(why({ text: 'ok', label: '' }), 'E_INVALID_ARGUMENT items[3]: label "" is not one of negative, neutral, positive');
  assert.match(why({ text: 'ok', label: 'neutral', labeller: 'x'.repeat(101) }), /^E_INVALID_ARGUMENT items\[3\]: labeller: /);
  assert.match(why({ text: 'ok', label: 'neutral', symbol: 'not a symbol!' }), /^E_INVALID_ARGUMENT items\[3\]: symbol: /);
});

t('the publisher sends valid envelopes keyed by the text hash, and reports a broker failure as E_LABELS_UNAVAILABLE', async () => {
  const sent: Array<{ topic: string; messages: OutMessage[] }> = [];
  const publish = createLabelPublisher({ send: async (topic, messages) => void sent.push({ topic, messages }) }, { sentimentLabels: 'p.labels' }, 'predictor-grpc');
  const record = { text: 'Shares fall', label: 'negative' as const, labeller: 'ann', labelledAt: AT };
  await publish([record]);
  assert.is(sent.length, 1);
  assert.is(sent[0]!.topic, 'p.labels');
  const m = sent[0]!.messages[0]!;
  assert.is(m.key, sentimentTextHash('Shares fall'));
  const d = decode('sentimentLabels', m.value as string);
  assert.ok(d.ok);
  if (d.ok) assert.equal([d.envelope.data, d.envelope.source, d.envelope.eventTime], [record, 'predictor-grpc', AT]);
  const failing = createLabelPublisher({ send: async () => { throw new Error('broker down'); } }, { sentimentLabels: 'p.labels' }, 'predictor-grpc');
  try {
    await failing([record]);
    assert.unreachable('a failed send must throw');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'E_LABELS_UNAVAILABLE');
    assert.not.match((err as Error).message, /broker down/, 'internals are not shown to clients');
  }
});

t.run();
