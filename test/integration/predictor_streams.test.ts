/**
 * Streaming inference with the real predictor process, Kafka and the registry in MongoDB:
 * features → price predictions, and clean news → sentiment predictions. News that arrives before
 * any sentiment model exists waits (nothing is published, nothing is lost) and is scored once a
 * `sentiment@production` version is registered. Every prediction names its model version and
 * event time and carries its inference latency.
 */
import * as assert from 'uvu/assert';
import { encode, makeEnvelope, resolveTopics, type CleanNewsArticle, type PricePrediction, type SentimentPrediction } from '@stock-mlops/contracts';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { suite } from '../harness/index.ts';
import { collect, freePort, kafkaClient, mongoClient, waitFor, withStack } from '../support/stack.ts';
import { exitWhenDone, featureSeries, LOOKBACK, promote, randomPriceModel, SCHEMA_HASH, sentimentArtifacts, storeSyntheticSchema } from '../support/predictor/fixtures.ts';

const t = suite('predictor streams: features → price predictions, news → sentiment predictions', { timeoutMs: 150_000 });

function article(i: number, title: string): CleanNewsArticle {
  return {
    id: `article-${String(i).padStart(4, '0')}`,
    url: `https://news.example/${i}`,
    publishedAt: new Date(Date.UTC(2024, 0, 2, i)).toISOString(),
    title,
    summary: '',
    source: 'test',
    tickers: ['AAA'],
    language: 'en',
    symbol: 'AAA',
  };
}

t('price predictions from streamed features; news waits for a sentiment model, then is scored', async () => {
  const sentiment = sentimentArtifacts();
  const price = await (await randomPriceModel(7)).serialize();
  await withStack({ services: ['predictor'], perService: { predictor: { GRPC_PORT: String(await freePort()), WS_PORT: String(await freePort()), MODEL_POLL_MS: '1000', LOG_LEVEL: 'info' } } }, async (stack, defer) => {
    const topics = resolveTopics(stack.prefix);
    const mongo = await mongoClient();
    defer(() => mongo.close());
    const store = new ModelStore(mongo.db(stack.db));
    const producer = kafkaClient('streams-test').producer();
    await producer.connect();
    defer(() => producer.disconnect());
    const vPrice = await promote(store, 'price', price);
    await storeSyntheticSchema(mongo.db(stack.db));
    // The predictor creates the topics at start-up.
    await waitFor('the predictor to listen', () => stack.logs.some((l) => l.includes('predictor listening')), 90_000);
    const out = await collect([topics.pricePredictions, topics.sentimentPredictions], 'streams-out');
    defer(() => out.stop());

    const series = featureSeries('AAA', 12, 3);
    await producer.send({ topic: topics.features, messages: series.map((fv) => encode('features', makeEnvelope('features', { data: fv, source: 'test', idParts: [fv.symbol, fv.ts] }))) });
    const news = [article(1, 'profit beats expectations and shares rose'), article(2, 'stock plunges after weak guidance')];
    await producer.send({ topic: topics.cleanNews, messages: news.map((a) => encode('cleanNews', makeEnvelope('cleanNews', { data: a, source: 'test', idParts: [a.id, a.symbol] }))) });

    const expected = series.length - LOOKBACK + 1;
    const prices = await waitFor(
      `${expected} price predictions`,
      () => {
        const p = out.messages.filter((m) => m.topic === topics.pricePredictions);
        return p.length >= expected ? p : undefined;
      },
      90_000,
      200,
    );
    const preds = prices.map((m) => (JSON.parse(m.m.value!.toString()) as { data: PricePrediction; eventTime: string }));
    assert.equal(preds.map((p) => p.data.asOf), series.slice(LOOKBACK - 1).map((f) => f.ts), 'one prediction per full window, as of its features’ event time');
    for (const p of preds) {
      assert.equal(p.data.model, { name: 'price', version: vPrice });
      assert.is(p.data.featureSchemaHash, SCHEMA_HASH);
      assert.is(p.eventTime, p.data.asOf);
      assert.ok(p.data.latencyMs >= 0 && Number.isFinite(p.data.predictedReturn));
    }

    // No sentiment model yet: the news waits.
    await new Promise((r) => setTimeout(r, 3_000));
    assert.is(out.messages.filter((m) => m.topic === topics.sentimentPredictions).length, 0, 'nothing is scored without a sentiment model');

    const vSent = await promote(store, 'sentiment', sentiment);
    const scored = await waitFor(
      'sentiment predictions for the waiting news',
      () => {
        const s = out.messages.filter((m) => m.topic === topics.sentimentPredictions);
        return s.length >= news.length ? s : undefined;
      },
      60_000,
      200,
    );
    const sents = scored.map((m) => (JSON.parse(m.m.value!.toString()) as { data: SentimentPrediction; eventTime: string }).data).sort((a, b) => a.articleId.localeCompare(b.articleId));
    assert.equal(sents.map((s) => [s.articleId, s.symbol, s.publishedAt]), news.map((a) => [a.id, a.symbol, a.publishedAt]));
    for (const s of sents) {
      assert.equal(s.model, { name: 'sentiment', version: vSent });
      assert.ok(Math.abs(s.probs.negative + s.probs.neutral + s.probs.positive - 1) < 1e-4);
      assert.ok(s.latencyMs >= 0);
      assert.ok(['negative', 'neutral', 'positive'].includes(s.label));
    }
  });
});

t.after(() => {
  exitWhenDone();
});

t.run();
