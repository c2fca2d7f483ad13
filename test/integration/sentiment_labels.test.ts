/**
 * Human sentiment labels on the real broker and database: labels produced straight to
 * stock.labels.sentiment.v1 and labels sent through the predictor's gRPC SubmitSentimentLabels
 * reach MongoDB (sentiment_labels); the most recent label per text wins and contradictions from
 * other labellers are counted on the loader's /metrics; a wrong key, an invalid record and a
 * labeller over the cap are dead-lettered with their reasons; without the token the RPC is refused.
 */
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { DLQ_HEADERS, encode, makeEnvelope, resolveTopics, sentimentTextHash, type SentimentLabelRecord } from '@stock-mlops/contracts';
import { BatchingProducer, createLabelPublisher, ensureTopics, freePort } from '@stock-mlops/platform';
import { SENTIMENT_LABELS_COLLECTION, type SentimentLabelDoc } from '@stock-mlops/load';
import { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { startGrpcServer } from '../../services/predictor/src/grpc_server.ts';
import { serviceSpec } from '../../scripts/lib/supervisor.ts';
import { suite } from '../harness/index.ts';
import { bearer, clients, statusOf } from '../support/predictor/grpc_client.ts';
import { collect, kafkaClient, mongoClient, waitFor, withStack } from '../support/stack.ts';

const t = suite('sentiment labels: Kafka and gRPC in, MongoDB out, guard rails', { timeoutMs: 150_000 });
const log = pino({ level: 'silent' });
const TOKEN = 'labels-test-token-0123456789';
const T0 = Date.UTC(2026, 0, 1, 10, 0);
const at = (min: number) => new Date(T0 + min * 60_000).toISOString();

t('labels from a producer and from SubmitSentimentLabels are stored, last wins, conflicts counted, bad ones dead-lettered', async () => {
  const opsPort = await freePort();
  await withStack({ services: [], env: { LOG_LEVEL: 'info', KAFKA_SESSION_TIMEOUT_MS: '6000' } }, async (stack) => {
    const topics = resolveTopics(stack.prefix);
    await ensureTopics(kafkaClient('labels-admin'), stack.prefix);
    stack.sup.start(serviceSpec('loader', { HTTP_PORT: String(opsPort), LABELS_MAX_PER_LABELLER_PER_WINDOW: '3', LABELS_WINDOW_SECONDS: '3600' }));
    // Idempotent: a send retried under load must not put a second copy of a label on the topic.
    const producer = kafkaClient('labels-producer').producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const platformProducer = new BatchingProducer(kafkaClient('labels-grpc'), { log });
    await platformProducer.connect();
    const grpcServer = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      log,
      // SubmitSentimentLabels needs no model: a core without one, a catalog that is never asked.
      core: new PredictorCore(async () => []),
      catalog: { getModel: async () => { throw new Error('unused'); }, listModels: async () => [] },
      maxMessageBytes: 1024 * 1024,
      token: TOKEN,
      version: 'test',
      domain: { maxBatchRequests: 16, maxTexts: 16, maxStreamBacklog: 10 },
      oip: { maxElements: 1000, maxTexts: 16 },
      labels: createLabelPublisher(platformProducer, topics, 'predictor-grpc'),
    });
    const c = clients(grpcServer.port);
    const mongo = await mongoClient();
    const dlq = await collect([topics.dlqLoad], 'labels-dlq');
    try {
      const labels = mongo.db(stack.db).collection<SentimentLabelDoc>(SENTIMENT_LABELS_COLLECTION);
      const msg = (r: SentimentLabelRecord, i: number) => encode('sentimentLabels', makeEnvelope('sentimentLabels', { data: r, source: 'test', idParts: ['direct', i] }));
      const A = 'Chipmaker shares slide after  weak guidance';
      const B = 'Retailer keeps its outlook unchanged';
      const direct: SentimentLabelRecord[] = [
        { text: A, label: 'positive', labeller: 'ann', labelledAt: at(0) },
        { text: A, label: 'negative', labeller: 'bob', labelledAt: at(1) },
        { text: B, label: 'neutral', labeller: 'cat', labelledAt: at(5) },
        // Older than the stored label of B: kept in the count, does not win.
        { text: B, label: 'positive', labeller: 'cat', labelledAt: at(2) },
        ...[1, 2, 3, 4, 5].map((i) => ({ text: `Flood headline number ${i}`, label: 'neutral' as const, labeller: 'eve', labelledAt: at(10 + i) })),
      ];
      await producer.send({
        topic: topics.sentimentLabels,
        messages: [
          ...direct.map(msg),
          // A key that is not the text's hash, and a label that is not one of the three.
          { key: 'AAPL', value: msg({ text: 'Wrong key headline', label: 'positive', labeller: 'ann', labelledAt: at(3) }, 90).value },
          { key: sentimentTextHash('Bad label'), value: msg({ text: 'Bad label', label: 'positive', labeller: 'ann', labelledAt: at(3) }, 91).value.replace('"positive"', '"bullish"') },
        ],
      });
      const docs = await waitFor('the direct labels stored', async () => {
        const all = await labels.find({}).toArray();
        const a = all.find((d) => d._id === sentimentTextHash(A));
        const b = all.find((d) => d._id === sentimentTextHash(B));
        return all.length === 5 && a?.labels === 2 && b?.labels === 2 ? all : undefined;
      }, 60_000);
      const byText = new Map(docs.map((d) => [d.text, d]));
      assert.equal(pick(byText.get(A)), { label: 'negative', labeller: 'bob', labelledAt: at(1), labels: 2, conflicts: 1 }, 'the later label of another labeller wins and is a conflict');
      assert.equal(pick(byText.get(B)), { label: 'neutral', labeller: 'cat', labelledAt: at(5), labels: 2, conflicts: 0 }, 'an older label does not win');
      assert.is(docs.filter((d) => d.labeller === 'eve').length, 3, 'eve is capped at 3 distinct texts per window');
      const dead = await waitFor('four dead letters', () => (dlq.messages.length >= 4 ? dlq.messages : undefined), 30_000);
      const reasons = dead.map(({ m }) => `${m.headers?.[DLQ_HEADERS.code]?.toString()} ${m.headers?.[DLQ_HEADERS.reason]?.toString().split(':')[0]}`).sort();
      assert.equal(reasons, ['E_LABELLER_RATE_LIMITED labeller_rate_limited', 'E_LABELLER_RATE_LIMITED labeller_rate_limited', 'E_LABEL_KEY label_key_mismatch', 'E_SCHEMA data.label']);
      assert.ok(dead.every(({ m }) => m.headers?.[DLQ_HEADERS.sourceTopic]?.toString() === topics.sentimentLabels));

      // gRPC: refused without the token, per-item answers with it.
      const items = [
        { text: 'Bank posts record profit', label: 'positive', labeller: 'gina', symbol: 'JPM' },
        { text: '   ', label: 'neutral' },
        { text: 'Shares drift', label: 'bullish' },
        { text: A.replace('  ', ' '), label: 'positive', labeller: 'hal' },
      ];
      assert.is(await statusOf(c.domain('SubmitSentimentLabels', { items })), grpc.status.UNAUTHENTICATED);
      assert.is(await statusOf(c.domain('SubmitSentimentLabels', { items }, { metadata: bearer('wrong-token-0123456789') })), grpc.status.UNAUTHENTICATED);
      assert.is(await statusOf(c.domain('SubmitSentimentLabels', { items: [] }, { metadata: bearer(TOKEN) })), grpc.status.INVALID_ARGUMENT);
      const res = await c.domain<{ results: Array<{ accepted: boolean; textHash: string; error?: { code: string; message: string; status: string } | null }> }>('SubmitSentimentLabels', { items }, { metadata: bearer(TOKEN) });
      assert.equal(
        res.results.map((r) => (r.accepted ? `ok ${r.textHash}` : `${r.error?.status} ${r.error?.code} ${r.error?.message}`)),
        [
          `ok ${sentimentTextHash('Bank posts record profit')}`,
          'INVALID_ARGUMENT E_INVALID_ARGUMENT items[1]: text must not be empty',
          'INVALID_ARGUMENT E_INVALID_ARGUMENT items[2]: label "bullish" is not one of negative, neutral, positive',
          `ok ${sentimentTextHash(A)}`,
        ],
      );
      const a = await waitFor('the gRPC labels stored', async () => {
        const [bank, a2] = await Promise.all([labels.findOne({ _id: sentimentTextHash('Bank posts record profit') }), labels.findOne({ _id: sentimentTextHash(A) })]);
        return bank && a2?.labels === 3 ? { bank, a2 } : undefined;
      }, 30_000);
      assert.equal([a.bank.label, a.bank.labeller, a.bank.symbol], ['positive', 'gina', 'JPM']);
      assert.equal([a.a2.label, a.a2.labeller, a.a2.conflicts], ['positive', 'hal', 2], 'the most recent label (now) wins; hal contradicted bob');
      assert.is(await labels.countDocuments(), 6);

      const metrics = await waitFor('loader metrics', async () => {
        const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
        return /^stockmlops_sentiment_label_conflicts_total\{[^}]*\} 2$/m.test(text) ? text : undefined;
      }, 15_000);
      assert.match(metrics, /^stockmlops_sentiment_labels_rate_limited_total\{[^}]*labeller="eve"[^}]*\} 2$/m);
      assert.match(metrics, /^stockmlops_dead_lettered_total\{[^}]*code="E_LABEL_KEY"[^}]*\} 1$/m);
    } finally {
      c.close();
      await grpcServer.close();
      await dlq.stop();
      await platformProducer.disconnect();
      await producer.disconnect();
      await mongo.db(stack.db).dropDatabase().catch(() => {});
      await mongo.close();
    }
  });
});

function pick(d: SentimentLabelDoc | undefined) {
  return d && { label: d.label, labeller: d.labeller, labelledAt: d.labelledAt, labels: d.labels, conflicts: d.conflicts };
}

t.run();
