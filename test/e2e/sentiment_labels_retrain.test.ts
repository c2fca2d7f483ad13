/**
 * The sentiment loop on real data (issue 15), on real Kafka + MongoDB with the loader, the
 * trainer and the predictor: the trainer starts with a model trained only on the bundled Twitter
 * set, which the predictor serves; three analysts label Financial PhraseBank sentences
 * (../shared/data/sentiment, a domain the model has not seen) by producing records to
 * stock.labels.sentiment.v1, as any Kafka producer would; the loader stores them
 * (`sentiment_labels`); once TRAIN_SENTIMENT_NEW_LABELS are stored the trainer retrains on the
 * bundled data plus the labels, the gate (fixed Twitter set + held-back labels) promotes, the
 * predictor hot-swaps to the new version (AnalyzeSentiment answers with it), the version's lineage
 * records the labels, and accuracy on a fixed PhraseBank slice that was never labelled rises over
 * the first model's, both measured here.
 */
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MongoClient } from 'mongodb';
import { encode, makeEnvelope, resolveTopics, sentimentTextHash, type SentimentLabelRecord } from '@stock-mlops/contracts';
import { freePort } from '@stock-mlops/platform';
import { SENTIMENT_LABELS_COLLECTION } from '@stock-mlops/load';
import { evaluateSentimentModel, loadSentimentVersion, SENTIMENT_MODEL } from '@stock-mlops/ml/ml_service';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { loadSentimentCsv, type LabelledTexts, type SentimentLabel } from '@stock-mlops/ml/models/sentiment_analyzer';
import { isHeldBack, type LabelLineage } from '@stock-mlops/ml/training/sentiment_labels';
import { suite } from '../harness/index.ts';
import { clients } from '../support/predictor/grpc_client.ts';
import { dumpLogs, kafkaClient, mongoClient, startStack, waitFor, type RunningStack } from '../support/stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PHRASEBANK = path.join(ROOT, '..', 'shared', 'data', 'sentiment', 'financial_phrasebank_50agree.train80.csv');
const ANALYSTS = 3;

const t = suite('e2e: human labels → retrain → gated promotion, on real data', { timeoutMs: 600_000 });
const ctx: { stack?: RunningStack; mongo?: MongoClient } = {};

/** Small, fast training config: the served recipe (an exact lbfgs bag) on a 3,000-tweet sample. */
function fastConfig(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sentiment-labels-'));
  const file = path.join(dir, 'sentiment.json');
  writeFileSync(
    file,
    JSON.stringify({
      model: { members: [{ kind: 'bag', solver: 'lbfgs', l2: 1e-4, l2Grid: [3e-5, 1e-4, 3e-4], calibrate: true }], monitor: 'accuracy' },
      seed: 42,
      data: { textColumn: 'text', labelColumn: 'label', labelMap: '0=negative,1=positive,2=neutral', testFraction: 0.2, validationFraction: 0.15, maxRows: 3_000 },
      // A new domain costs this small 3,000-tweet model some Twitter macro-F1 (0.684 → 0.646 measured
      // with 1,200 PhraseBank labels, which the default tolerance of 0.01 rejects): the test allows 0.05.
      gate: { metric: 'macroF1', baseline: 'majority', baselineMargin: 0, productionMargin: 0, labelsTolerance: 0.05 },
    }),
  );
  return file;
}

/**
 * PhraseBank split by row: rows 0, 4, 8 … are the fixed evaluation slice (never labelled); rows
 * 2, 6, 10 … are labelled. Both stride the whole file, which is ordered roughly by label.
 */
async function phraseBank(): Promise<{ evalSlice: LabelledTexts; labels: Array<{ text: string; label: SentimentLabel }> }> {
  const all = await loadSentimentCsv(PHRASEBANK, { textColumn: 'sentence', labelColumn: 'label' });
  const evalSlice: LabelledTexts = { texts: [], labels: [] };
  const byHash = new Map<string, { text: string; label: SentimentLabel }>();
  all.texts.forEach((text, i) => {
    if (i % 4 === 0) {
      evalSlice.texts.push(text);
      evalSlice.labels.push(all.labels[i]!);
    } else if (i % 4 === 2) byHash.set(sentimentTextHash(text), { text, label: all.labels[i]! });
  });
  const evalHashes = new Set(evalSlice.texts.map(sentimentTextHash));
  return { evalSlice, labels: [...byHash.entries()].filter(([h]) => !evalHashes.has(h)).map(([, l]) => l) };
}

t('PhraseBank labels on the labels topic retrain the Twitter-only model; the gate promotes; the predictor swaps; PhraseBank accuracy rises', async () => {
  const started = Date.now();
  const { evalSlice, labels } = await phraseBank();
  const grpcPort = await freePort();
  const stack = startStack({
    services: ['loader', 'trainer', 'predictor'],
    env: { KAFKA_SESSION_TIMEOUT_MS: '6000' },
    perService: {
      loader: { LOG_LEVEL: 'info' },
      predictor: { LOG_LEVEL: 'info', GRPC_PORT: String(grpcPort), WS_PORT: String(await freePort()) },
      trainer: {
        LOG_LEVEL: 'info',
        TRAIN_ON_START: 'false',
        TRAIN_SENTIMENT_DATA: path.join(ROOT, 'data/sentiment/twitter_financial_news_sentiment.csv'),
        TRAIN_SENTIMENT_CONFIG: fastConfig(),
        // Every label the analysts submit: the retrain starts once all of them are stored.
        TRAIN_SENTIMENT_NEW_LABELS: String(labels.length),
        TRAIN_SENTIMENT_LABELS_POLL_MS: '1000',
      },
    },
  });
  ctx.stack = stack;
  ctx.mongo = await mongoClient();
  const db = ctx.mongo.db(stack.db);
  const store = new ModelStore(db);
  const c = clients(grpcPort);
  const producer = kafkaClient('labels-analysts').producer({ idempotent: true, maxInFlightRequests: 1 });
  /** The version the predictor answers AnalyzeSentiment with (undefined while it serves none). */
  const served = () =>
    c
      .domain<{ modelVersion: number }>('AnalyzeSentiment', { texts: ['Shares rose after the earnings beat'] }, { deadlineMs: 5_000 })
      .then((r) => r.modelVersion, () => undefined);
  try {
    const first = await waitFor('the Twitter-only production model', async () => (await store.getAlias(SENTIMENT_MODEL, 'production')) ?? undefined, 240_000, 1_000);
    const v1 = await store.get(SENTIMENT_MODEL, first.version);
    assert.is((v1.lineage.labels as LabelLineage).count, 0, 'the first model saw no label');
    await waitFor(`the predictor serving v${first.version}`, async () => (await served()) === first.version || undefined, 180_000, 1_000);
    const before = await loadSentimentVersion(store, first.version);
    const accBefore = (await evaluateSentimentModel(before, evalSlice)).accuracy;
    before.dispose();

    // The analysts' labels, produced to the labels topic keyed by text hash, as a labeller's
    // producer (or kcat) would; the loader stores the last label per text.
    const t0 = Date.now();
    const records: SentimentLabelRecord[] = labels.map((l, i) => ({ text: l.text, label: l.label, labeller: `analyst-${i % ANALYSTS}`, labelledAt: new Date(t0 + i).toISOString() }));
    const topic = resolveTopics(stack.prefix).sentimentLabels;
    await producer.connect();
    for (let i = 0; i < records.length; i += 200) {
      // encode() keys each record by its text hash (the topic's contract).
      const messages = records.slice(i, i + 200).map((r) => encode('sentimentLabels', makeEnvelope('sentimentLabels', { data: r, source: 'e2e-analyst', idParts: [r.text, r.labeller, r.labelledAt], eventTime: r.labelledAt })));
      await producer.send({ topic, messages });
    }
    const hashes = records.map((r) => sentimentTextHash(r.text));
    await waitFor('the loader to store every label', async () => ((await db.collection(SENTIMENT_LABELS_COLLECTION).countDocuments()) === records.length ? true : undefined), 120_000, 1_000);

    const v2 = await waitFor(
      'the retrained sentiment version, gated',
      async () => {
        const latest = await store.latest(SENTIMENT_MODEL);
        return latest && latest.version !== first.version && latest.status !== 'candidate' ? latest : undefined;
      },
      300_000,
      1_000,
    );
    console.log(
      `v${v2.version} ${v2.status}: held-back labels (${v2.metrics.heldback_n}) accuracy ${v2.metrics.production_heldback_accuracy?.toFixed(4)} → ${v2.metrics.heldback_accuracy?.toFixed(4)}; ` +
        `Twitter fixed set macro-F1 ${v2.metrics.production_macroF1?.toFixed(4)} → ${v2.metrics.macroF1?.toFixed(4)}; ${v2.statusReason}`,
    );
    assert.is(v2.status, 'production', v2.statusReason);
    assert.is((await store.getAlias(SENTIMENT_MODEL, 'production'))!.version, v2.version);
    assert.match(v2.statusReason, /gate passed: .*production:fixed.*production:held_back/);
    assert.match(String(v2.lineage.reason), /new labels since/);

    // Lineage: exactly the labels not held back, with their hash range and digest.
    const trained = hashes.filter((h) => !isHeldBack(h)).sort();
    const lineage = v2.lineage.labels as LabelLineage;
    assert.is(lineage.count, trained.length);
    assert.is(lineage.heldBack, hashes.length - trained.length);
    assert.is(lineage.minHash, trained[0]);
    assert.is(lineage.maxHash, trained[trained.length - 1]);
    assert.is(lineage.digest, createHash('sha256').update(trained.join('\n')).digest('hex'));
    assert.is(lineage.latestLabelledAt, new Date(t0 + records.length - 1).toISOString());
    assert.ok(v2.metrics.heldback_accuracy! > v2.metrics.production_heldback_accuracy!, 'better on the held-back labels');

    // The predictor follows the promotion (model event, or its registry poll) without a restart.
    await waitFor(`the predictor hot-swapping to v${v2.version}`, async () => (await served()) === v2.version || undefined, 120_000, 1_000);

    const after = await loadSentimentVersion(store, v2.version);
    const accAfter = (await evaluateSentimentModel(after, evalSlice)).accuracy;
    after.dispose();
    console.log(
      `PhraseBank fixed slice (${evalSlice.texts.length} sentences, never labelled): accuracy v${first.version} (Twitter only) ${accBefore.toFixed(4)} → v${v2.version} (+${lineage.count} labels) ${accAfter.toFixed(4)}; ` +
        `${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    assert.ok(accAfter > accBefore, `PhraseBank accuracy ${accBefore} → ${accAfter}`);

    // Nothing new since: no further retrain is requested.
    await new Promise((r) => setTimeout(r, 3_000));
    assert.is((await store.latest(SENTIMENT_MODEL))!.version, v2.version, 'no retrain without new labels');
  } catch (err) {
    dumpLogs(stack, 80);
    throw err;
  } finally {
    c.close();
    await producer.disconnect();
  }
});

t.after(async () => {
  await ctx.stack?.stop();
  await ctx.mongo?.close();
});

t.run();
