import * as assert from 'uvu/assert';
import { encode, makeEnvelope, sentimentTextHash, type SentimentLabelRecord } from '@stock-mlops/contracts';
import { mergeLabel, type LabelInput, type SentimentLabelDoc } from '@stock-mlops/load';
import { createLabelRateLimit } from '../../../services/loader/src/label_guard.ts';
import { LABEL_DLQ, toLabelInput } from '../../../services/loader/src/load_labels.ts';
import { suite } from '../../harness/index.ts';

const t = suite('loader: sentiment labels (guard rails, mapping, last label wins)');

const HOUR = 3_600_000;
const at = (min: number) => new Date(Date.UTC(2026, 0, 1) + min * 60_000).toISOString();
const rec = (text: string, label: SentimentLabelRecord['label'], labeller: string, min: number): SentimentLabelRecord => ({ text, label, labeller, labelledAt: at(min) });
const input = (r: SentimentLabelRecord, offset: number, partition = 0): LabelInput => ({ textHash: sentimentTextHash(r.text), record: r, eventId: `e${offset}`, partition, offset });

t('rate limit: a labeller gets maxPerWindow distinct texts per window; repeats are free; other labellers and the next window are not affected', () => {
  const rl = createLabelRateLimit({ maxPerWindow: 2, windowMs: HOUR });
  const admit = (labeller: string, text: string, min: number) => rl.admit({ labeller, textHash: sentimentTextHash(text), labelledAt: at(min) });
  assert.equal([admit('ann', 'a', 0), admit('ann', 'b', 1), admit('ann', 'c', 2)], [true, true, false]);
  assert.ok(admit('ann', 'a', 3), 'a text already admitted in the window (a redelivery) stays admitted');
  assert.ok(admit('bob', 'c', 4), 'the cap is per labeller');
  assert.ok(admit('ann', 'c', 61), 'a new window starts a new allowance');
});

t('rate limit: backdated labels count against the window before the newest, not a fresh one', () => {
  const rl = createLabelRateLimit({ maxPerWindow: 1, windowMs: HOUR });
  const admit = (text: string, min: number) => rl.admit({ labeller: 'ann', textHash: sentimentTextHash(text), labelledAt: at(min) });
  assert.ok(admit('a', 5 * 60));
  assert.ok(admit('b', 4 * 60), 'the previous window has its own allowance');
  assert.not.ok(admit('c', 0), 'a label from long ago counts against the previous window, which is full');
});

t('rate limit: 0 disables it; bad options are refused', () => {
  const rl = createLabelRateLimit({ maxPerWindow: 0, windowMs: HOUR });
  for (let i = 0; i < 100; i++) assert.ok(rl.admit({ labeller: 'ann', textHash: String(i), labelledAt: at(0) }));
  assert.throws(() => createLabelRateLimit({ maxPerWindow: -1, windowMs: HOUR }), /maxPerWindow/);
  assert.throws(() => createLabelRateLimit({ maxPerWindow: 1, windowMs: 0 }), /windowMs/);
});

t('the key of a label record on its topic is the hash of the normalised text', () => {
  const env = makeEnvelope('sentimentLabels', { data: { ...rec('  Apple  beats\testimates ', 'positive', 'ann', 0), symbol: 'AAPL' }, source: 'test' });
  assert.is(encode('sentimentLabels', env).key, sentimentTextHash('Apple beats estimates'));
  assert.is(sentimentTextHash('Apple beats estimates'), sentimentTextHash('Apple\u00a0beats  estimates'));
});

t('mapping: a record keyed by its hash becomes a LabelInput; a wrong key or an over-cap labeller is rejected with a reason', () => {
  const r = rec('Shares fall', 'negative', 'ann', 0);
  const envelope = makeEnvelope('sentimentLabels', { data: r, source: 'test', eventId: 'event-0001' });
  const msg = (key: string) => ({ key, envelope, partition: 2, offset: '17' });
  const ok = toLabelInput(msg(sentimentTextHash(r.text)), () => true, 'cap');
  assert.equal(ok, { ok: true, input: { textHash: sentimentTextHash(r.text), record: r, eventId: 'event-0001', partition: 2, offset: 17 } });
  const wrongKey = toLabelInput(msg('AAPL'), () => true, 'cap');
  assert.is(wrongKey.ok, false);
  if (!wrongKey.ok) {
    assert.is(wrongKey.code, LABEL_DLQ.keyMismatch.code);
    assert.match(wrongKey.reason, /^label_key_mismatch: key "AAPL"/);
  }
  const limited = toLabelInput(msg(sentimentTextHash(r.text)), () => false, '2 distinct texts per 3600 s');
  assert.is(limited.ok, false);
  if (!limited.ok) {
    assert.is(limited.code, 'E_LABELLER_RATE_LIMITED');
    assert.is(limited.reason, 'labeller_rate_limited: labeller "ann" is over 2 distinct texts per 3600 s');
  }
});

t('merge: the most recent label wins; a contradiction from another labeller is counted either way', () => {
  const first = mergeLabel(undefined, input(rec('x', 'positive', 'ann', 10), 1));
  assert.equal([first.changed, first.conflict, first.doc.label, first.doc.labels, first.doc.conflicts], [true, false, 'positive', 1, 0]);
  const newer = mergeLabel(first.doc, input(rec('x', 'negative', 'bob', 20), 2));
  assert.equal([newer.conflict, newer.doc.label, newer.doc.labeller, newer.doc.eventId, newer.doc.offset, newer.doc.labels, newer.doc.conflicts], [true, 'negative', 'bob', 'e2', 2, 2, 1]);
  const older = mergeLabel(newer.doc, input(rec('x', 'neutral', 'cat', 5), 3));
  assert.equal([older.conflict, older.doc.label, older.doc.labeller, older.doc.eventId, older.doc.offset, older.doc.conflicts], [true, 'negative', 'bob', 'e2', 3, 2], 'an older label does not win, but is counted');
  const sameLabeller = mergeLabel(older.doc, input(rec('x', 'positive', 'bob', 30), 4));
  assert.equal([sameLabeller.conflict, sameLabeller.doc.label, sameLabeller.doc.conflicts], [false, 'positive', 2], 'a labeller correcting themselves is no conflict');
  const agree = mergeLabel(sameLabeller.doc, input(rec('x', 'positive', 'dan', 40), 5));
  assert.equal([agree.conflict, agree.doc.labeller, agree.doc.labels], [false, 'dan', 5]);
});

t('merge: a redelivered record (at or before the stored offset) changes and counts nothing', () => {
  const a = mergeLabel(undefined, input(rec('x', 'positive', 'ann', 10), 7)).doc;
  const b = mergeLabel(a, input(rec('x', 'negative', 'bob', 20), 8)).doc;
  for (const offset of [7, 8]) {
    const again = mergeLabel(b, input(rec('x', offset === 7 ? 'positive' : 'negative', offset === 7 ? 'ann' : 'bob', offset === 7 ? 10 : 20), offset));
    assert.equal([again.changed, again.conflict], [false, false]);
    assert.is(again.doc, b);
  }
  const retried = mergeLabel(b, { ...input(rec('x', 'negative', 'bob', 20), 9), eventId: 'e8' });
  assert.equal([retried.changed, retried.conflict], [false, false], 'a producer retry of the current label (same event id, later offset) is no new label');
  const doc: SentimentLabelDoc = b;
  assert.equal(Object.keys(doc).sort(), ['_id', 'conflicts', 'eventId', 'label', 'labelledAt', 'labeller', 'labels', 'offset', 'partition', 'text']);
});

t.run();
