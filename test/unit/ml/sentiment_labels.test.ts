/**
 * Human labels in sentiment training: the held-back slice is chosen by text hash (stable, about
 * 1 in 5, never trained on); stored labels merge with the bundled data deduplicated by hash and
 * override bundled labels; the lineage (count, hash range, digest, watermark); when a retrain is
 * due; and the gate that needs both "not worse on the fixed set" and "better on the held-back labels".
 */
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { sentimentTextHash } from '@stock-mlops/contracts';
import { decideSentimentPromotion } from '@stock-mlops/ml/registry/sentiment_gate';
import { SentimentGateConfig } from '@stock-mlops/ml/training/config';
import type { SentimentLabel } from '@stock-mlops/ml/models/sentiment_analyzer';
import { assembleSentimentData, isHeldBack, labelLineage, labelRetrainDue, labelsWatermark, splitHeldBack, type StoredLabel } from '@stock-mlops/ml/training/sentiment_labels';
import { suite } from '../../harness/index.ts';

const t = suite('ml: sentiment labels (held-back split, merge, lineage, gate)');

const label = (text: string, l: SentimentLabel, at = '2026-12-01T00:00:00Z', labeller = 'ana'): StoredLabel => ({ hash: sentimentTextHash(text), text, label: l, labeller, labelledAt: new Date(at) });
/** The first texts "headline <i>" on the given side of the held-back split. */
function texts(heldBack: boolean, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (isHeldBack(sentimentTextHash(`headline ${i}`)) === heldBack) out.push(`headline ${i}`);
  return out;
}

t('held back: decided by the text hash alone, about one in five', () => {
  assert.is(isHeldBack('00000000ff'), true);
  assert.is(isHeldBack('00000001ff'), false);
  assert.is(isHeldBack('00000005'), true);
  const hashes = Array.from({ length: 5_000 }, (_, i) => sentimentTextHash(`text ${i}`));
  const share = hashes.filter((h) => isHeldBack(h)).length / hashes.length;
  assert.ok(share > 0.17 && share < 0.23, `share ${share}`);
  const labels = hashes.slice(0, 200).map((_, i) => label(`text ${i}`, 'neutral'));
  const a = splitHeldBack(labels);
  const b = splitHeldBack([...labels].reverse());
  assert.equal(new Set(a.heldBack.map((l) => l.hash)), new Set(b.heldBack.map((l) => l.hash)), 'order does not matter');
  assert.is(a.train.length + a.heldBack.length, 200);
  assert.ok(a.heldBack.every((l) => !a.train.includes(l)));
});

t('merge: bundled + trained labels, deduplicated by hash; a stored label overrides a bundled one; held-back and test texts are never trained on', () => {
  const [trainA, trainB] = texts(false, 2) as [string, string];
  const [heldA] = texts(true, 1) as [string];
  const bundledTrain = { texts: ['alpha up', 'beta down', '  alpha   up ', heldA], labels: ['positive', 'negative', 'positive', 'neutral'] as SentimentLabel[] };
  const bundledTest = { texts: ['gamma flat', 'delta up'], labels: ['neutral', 'positive'] as SentimentLabel[] };
  const stored = [label('beta down', 'neutral'), label(trainA, 'positive'), label(trainB, 'negative'), label(heldA, 'positive'), label('delta up', 'negative')];
  const d = assembleSentimentData(bundledTrain, bundledTest, stored);
  // 'alpha up' twice (whitespace) → once; 'beta down' relabelled; heldA excluded; 'delta up' is a test text.
  const trainedBeta = d.train.labels[d.train.texts.indexOf('beta down')];
  assert.is(trainedBeta, 'neutral', 'the stored label overrides the bundled one');
  assert.is(d.train.texts.filter((x) => sentimentTextHash(x) === sentimentTextHash('alpha up')).length, 1);
  assert.not.ok(d.train.texts.includes(heldA), 'held back: never trained on');
  assert.not.ok(d.train.texts.includes('delta up'), 'test texts: never trained on');
  assert.ok(d.train.texts.includes(trainA) && d.train.texts.includes(trainB));
  assert.is(d.train.texts.length, 4);
  assert.equal(d.heldBack, { texts: [heldA], labels: ['positive'] });
  assert.equal(d.test, { texts: ['gamma flat', 'delta up'], labels: ['neutral', 'negative'] }, 'test labels follow the store too');
  assert.equal(d.trainedLabels.map((l) => l.text).sort(), ['beta down', 'delta up', trainA, trainB].filter((x) => !isHeldBack(sentimentTextHash(x))).sort());
  const none = assembleSentimentData(bundledTrain, bundledTest, []);
  assert.is(none.heldBack.texts.length, 0);
  assert.equal(none.test, bundledTest);
});

t('lineage: count, hash range, digest of the sorted hashes, latest labelledAt of all labels read', () => {
  const trained = [label('b', 'neutral', '2026-12-01T00:00:00Z'), label('a', 'positive', '2026-12-03T00:00:00Z')];
  const held = [label('c', 'negative', '2026-12-05T10:00:00Z')];
  const l = labelLineage(trained, held);
  const hashes = trained.map((x) => x.hash).sort();
  assert.is(l.count, 2);
  assert.is(l.heldBack, 1);
  assert.is(l.minHash, hashes[0]);
  assert.is(l.maxHash, hashes[1]);
  assert.ok(l.minHash < l.maxHash);
  assert.is(l.digest, createHash('sha256').update(hashes.join('\n')).digest('hex'));
  assert.is(l.digest, labelLineage([...trained].reverse(), held).digest, 'order-independent');
  assert.is.not(l.digest, labelLineage(trained.slice(1), held).digest);
  assert.is(l.latestLabelledAt, '2026-12-05T10:00:00.000Z');
  assert.equal(labelLineage([], []), { count: 0, minHash: '', maxHash: '', digest: createHash('sha256').update('').digest('hex'), heldBack: 0, latestLabelledAt: '' });
});

t('retrain trigger: N new labels after the newest version\'s watermark; 0 = off', () => {
  assert.is(labelsWatermark({ labels: { latestLabelledAt: '2026-12-05T10:00:00.000Z' } })?.toISOString(), '2026-12-05T10:00:00.000Z');
  assert.is(labelsWatermark({ labels: { latestLabelledAt: '' } }), undefined);
  assert.is(labelsWatermark({ source: 'csv' }), undefined);
  assert.is(labelsWatermark(undefined), undefined);
  assert.is(labelRetrainDue(199, 200), false);
  assert.is(labelRetrainDue(200, 200), true);
  assert.is(labelRetrainDue(10_000, 0), false);
});

const gate = SentimentGateConfig.parse({ labelsTolerance: 0.01, minHeldBack: 20 });
const s = (macroF1: number, accuracy = macroF1) => ({ macroF1, accuracy });
const input = (fixed: number, held: number, n = 50) => ({
  candidate: s(fixed),
  majority: s(0.3),
  production: s(0.7),
  productionNote: 'production v1',
  heldBack: { n, candidate: s(held), production: s(0.6) },
});

t('gate with held-back labels: not worse on the fixed set beyond the tolerance AND better on the held-back labels', () => {
  const ok = decideSentimentPromotion(gate, input(0.695, 0.65));
  assert.ok(ok.promote, ok.reason);
  assert.equal(ok.checks.map((c) => c.name), ['baseline:majority', 'production:fixed', 'production:held_back']);
  assert.match(ok.reason, /50 held-back labels/);
  const forgets = decideSentimentPromotion(gate, input(0.68, 0.9));
  assert.not.ok(forgets.promote, 'forgets the old data');
  assert.match(forgets.reason, /production:fixed/);
  const ignores = decideSentimentPromotion(gate, input(0.75, 0.6));
  assert.not.ok(ignores.promote, 'a tie on the new labels is no improvement');
  assert.match(ignores.reason, /production:held_back/);
  const belowBaseline = decideSentimentPromotion(gate, { ...input(0.695, 0.9), majority: s(0.8) });
  assert.not.ok(belowBaseline.promote);
  const margin = decideSentimentPromotion({ ...gate, labelsMargin: 0.1 }, input(0.7, 0.65));
  assert.not.ok(margin.promote, 'labelsMargin raises the bar');
});

t('gate without enough held-back labels or without production: the plain rule', () => {
  const few = decideSentimentPromotion(gate, input(0.695, 0.9, 19));
  assert.not.ok(few.promote, 'plain rule: must beat production strictly');
  assert.equal(few.checks.map((c) => c.name), ['baseline:majority', 'production']);
  const better = decideSentimentPromotion(gate, input(0.71, 0.5, 5));
  assert.ok(better.promote, better.reason);
  const first = decideSentimentPromotion(gate, { candidate: s(0.5), majority: s(0.3), productionNote: 'no production model yet', heldBack: { n: 50, candidate: s(0.5) } });
  assert.ok(first.promote, first.reason);
  assert.match(first.reason, /no production model yet/);
});

t.run();
