/**
 * Loader on the real database and broker: idempotent upserts on natural keys (insert first,
 * replace only changed content), the latest-state document per symbol under concurrent writers,
 * and the loader process end to end (documents, replays, dead letters, latest state, feature
 * vectors without names resolved by schema hash, an unknown hash dead-lettered; the
 * challenger's shadow predictions in their own collection).
 */
import * as assert from 'uvu/assert';
import pino from 'pino';
import { DLQ_HEADERS, encode, makeEnvelope, resolveTopics } from '@stock-mlops/contracts';
import { connectMongo, ensureTopics, type MongoHandle } from '@stock-mlops/platform';
import { COLLECTIONS, Database, FeatureSchemaResolver, FeatureSchemaStore, LatestStateStore, LruCache, resolveFeatureBatch } from '@stock-mlops/load';
import { loadPriceTrainConfig } from '@stock-mlops/ml/training/config';
import { loadPriceData } from '@stock-mlops/ml/training/jobs';
import { suite } from '../harness/index.ts';
import { collect, kafkaClient, mongoClient, requireInfra, uniqueId, waitFor, withStack } from '../support/stack.ts';

const t = suite('loader (real database and broker)', { timeoutMs: 90_000 });
const log = pino({ level: 'silent' });
const ctx: { h?: MongoHandle } = {};
const SCHEMA = { schemaHash: 'ab'.repeat(32), schemaVersion: '9.9.9', names: ['close', 'one'] };

t.before(async () => {
  ctx.h = await connectMongo(requireInfra().MONGO_URL, uniqueId('ld'), log);
});

t('upsertMany inserts new keys, leaves identical ones, replaces changed ones; the last copy in a batch wins', async () => {
  const db = new Database(ctx.h!.db);
  const doc = (i: number, close: number, traceId?: string) => ({ _id: `X|1d|2020-01-0${i}`, symbol: 'X', ts: `2020-01-0${i}`, close, values: [close, -close], ...(traceId ? { traceId } : {}) });
  assert.equal(await db.upsertMany('bars', [doc(1, 1), doc(2, 2), doc(2, 2.5)]), { inserted: 2, unchanged: 0, replaced: 0 });
  assert.is((await ctx.h!.db.collection('bars').findOne({ _id: 'X|1d|2020-01-02' as never }))?.close, 2.5, 'the later copy of a key in one batch wins');
  // A replay: same keys, same content (another trace id), plus one new key.
  assert.equal(await db.upsertMany('bars', [doc(1, 1, 'aaaaaaaaaaaaaaaa'), doc(2, 2.5), doc(3, 3)]), { inserted: 1, unchanged: 2, replaced: 0 });
  // Changed content under an existing key (e.g. recomputed under a new feature schema) replaces it.
  assert.equal(await db.upsertMany('bars', [doc(1, 10)]), { inserted: 0, unchanged: 0, replaced: 1 });
  const all = await ctx.h!.db.collection('bars').find({}).sort({ _id: 1 }).toArray();
  assert.equal(all.map((d) => [d._id, d.close, d.values]), [
    ['X|1d|2020-01-01', 10, [10, -10]],
    ['X|1d|2020-01-02', 2.5, [2.5, -2.5]],
    ['X|1d|2020-01-03', 3, [3, -3]],
  ]);
});

t('with a write memory, keys this process wrote skip the read-back; changed content is still replaced; forgetWrites after a rebalance', async () => {
  const db = new Database(ctx.h!.db, new LruCache<string>(100, Number.POSITIVE_INFINITY));
  const doc = (i: number, close: number) => ({ _id: `M|1d|2020-01-0${i}`, symbol: 'M', close });
  assert.equal(await db.upsertMany('mem', [doc(1, 1), doc(2, 2)]), { inserted: 2, unchanged: 0, replaced: 0 });
  assert.equal(await db.upsertMany('mem', [doc(1, 1), doc(2, 2)]), { inserted: 0, unchanged: 2, replaced: 0 });
  assert.equal(await db.upsertMany('mem', [doc(1, 1.5)]), { inserted: 0, unchanged: 0, replaced: 1 });
  // Another instance (after a rebalance) rewrites a key behind our back …
  await ctx.h!.db.collection('mem').replaceOne({ _id: 'M|1d|2020-01-02' as never }, { symbol: 'M', close: 99 });
  db.forgetWrites();
  // … so the memory is dropped, and our write of the old content is compared and restored.
  assert.equal(await db.upsertMany('mem', [doc(2, 2)]), { inserted: 0, unchanged: 0, replaced: 1 });
  assert.is((await ctx.h!.db.collection('mem').findOne({ _id: 'M|1d|2020-01-02' as never }))?.close, 2);
});

t('feature schemas: stored once per hash and resolved from MongoDB; training rows from stored vectors without names get their schema\'s names', async () => {
  const store = new FeatureSchemaStore(ctx.h!.db);
  await store.put(SCHEMA);
  await store.put(SCHEMA);
  assert.is(await ctx.h!.db.collection(COLLECTIONS.featureSchemas).countDocuments(), 1, 'one document per hash');
  assert.equal(await store.get(SCHEMA.schemaHash), SCHEMA);
  assert.is(await store.get('ef'.repeat(32)), undefined);
  const resolver = new FeatureSchemaResolver(store);
  const fv = (i: number, schemaHash: string) => ({ symbol: 'TRN', interval: '1d' as const, ts: `2020-02-0${i}T00:00:00.000Z`, close: 10 + i, schemaVersion: '9.9.9', schemaHash, values: [10 + i, 1] });
  const rejected: string[] = [];
  const kept = await resolveFeatureBatch([fv(1, SCHEMA.schemaHash), fv(2, 'ef'.repeat(32))], resolver, { data: (x) => x, reject: (_x, code) => rejected.push(code) });
  assert.equal([kept.map((k) => k.names), rejected], [[SCHEMA.names], ['E_UNKNOWN_SCHEMA']]);
  // The trainer reads the stored vectors (hash and values only) and takes the names from the schema store.
  await new Database(ctx.h!.db).upsertMany(COLLECTIONS.features, [1, 2, 3].map((i) => ({ _id: `TRN|1d|${i}`, ...fv(i, SCHEMA.schemaHash), eventId: `e${i}` })));
  const data = await loadPriceData({ db: ctx.h!.db }, loadPriceTrainConfig());
  assert.equal([data.schemaHash, data.names, data.rows.length], [SCHEMA.schemaHash, SCHEMA.names, 3]);
});

t('latest state: the newest item per part wins; parts written concurrently for a new symbol all land', async () => {
  const latest = new LatestStateStore(ctx.h!.db);
  const item = (symbol: string, ts: string) => ({ symbol, ts, value: { symbol, ts } as never });
  for (let i = 0; i < 5; i++) {
    const symbol = `NEW${i}`;
    await Promise.all([
      latest.putNewest('bar', [item(symbol, '2020-01-02T00:00:00.000Z')]),
      latest.putNewest('features', [item(symbol, '2020-01-02T00:00:00.000Z')]),
      latest.putNewest('prediction', [item(symbol, '2020-01-01T00:00:00.000Z')]),
    ]);
    const s = await latest.get(symbol);
    assert.equal([s?.barTs, s?.featuresTs, s?.predictionTs], ['2020-01-02T00:00:00.000Z', '2020-01-02T00:00:00.000Z', '2020-01-01T00:00:00.000Z'], symbol);
  }
  await latest.putNewest('bar', [item('NEW0', '2020-01-03T00:00:00.000Z'), item('NEW0', '2019-12-31T00:00:00.000Z')]);
  await latest.putNewest('bar', [item('NEW0', '2020-01-01T00:00:00.000Z')]);
  const s = await latest.get('NEW0');
  assert.is(s?.barTs, '2020-01-03T00:00:00.000Z', 'an older bar never overwrites a newer one');
  assert.is((s?.bar as { ts?: string } | undefined)?.ts, '2020-01-03T00:00:00.000Z');
  assert.is(s?.featuresTs, '2020-01-02T00:00:00.000Z', 'other parts untouched');
});

t('the loader process stores each record once by natural key, survives replays and dead-letters bad records', () =>
  withStack({ services: [], env: { LOG_LEVEL: 'info', KAFKA_SESSION_TIMEOUT_MS: '6000' } }, async (stack) => {
    const topics = resolveTopics(stack.prefix);
    await ensureTopics(kafkaClient('loader-test-admin'), stack.prefix);
    const bars = Array.from({ length: 30 }, (_, i) => {
      const ts = new Date(Date.UTC(2020, 0, 1 + i)).toISOString();
      return { symbol: 'LDR', interval: '1d' as const, ts, open: 10 + i, high: 11 + i, low: 9 + i, close: 10.5 + i, volume: 1000 + i, adjFactor: 1, zeroVolume: false, outlier: false };
    });
    const messages = [
      ...bars.map((b) => encode('cleanPrices', makeEnvelope('cleanPrices', { data: b, source: 'test', idParts: [b.symbol, b.interval, b.ts] }))),
      ...bars.slice(5).map((b) =>
        encode('features', makeEnvelope('features', { data: { symbol: b.symbol, interval: b.interval, ts: b.ts, close: b.close, schemaVersion: '9.9.9', schemaHash: SCHEMA.schemaHash, values: [b.close, 1] }, source: 'test', idParts: [b.ts] })),
      ),
    ];
    // A vector whose schema hash was never published: dead-lettered with the reason, not stored.
    const unknownHash = 'cd'.repeat(32);
    const orphan = encode('features', makeEnvelope('features', { data: { symbol: 'LDR', interval: '1d', ts: '2021-06-01T00:00:00.000Z', close: 1, schemaVersion: '9.9.9', schemaHash: unknownHash, values: [1, 1] }, source: 'test', idParts: ['orphan'] }));
    const producer = kafkaClient('loader-test').producer();
    await producer.connect();
    const mongo = await mongoClient();
    const dlq = await collect([topics.dlqLoad], 'loader-dlq');
    try {
      await producer.send({ topic: topics.cleanPrices, messages: messages.slice(0, bars.length) });
      await producer.send({ topic: topics.features, messages: messages.slice(bars.length) });
      // Feature vectors carry the hash, not the names: their schema is stored once (the transformer does this at startup).
      await new FeatureSchemaStore(mongo.db(stack.db)).put(SCHEMA);
      stack.sup.start({ name: 'loader', entry: 'services/loader/src/main.ts', env: { HTTP_PORT: '0' } });
      const db = mongo.db(stack.db);
      await waitFor('30 bars and 25 feature vectors', async () => (await db.collection(COLLECTIONS.bars).countDocuments()) === 30 && (await db.collection(COLLECTIONS.features).countDocuments()) === 25, 60_000, 250);
      // Replay everything, plus one record that is not a valid envelope.
      await producer.send({ topic: topics.cleanPrices, messages: [...messages.slice(0, bars.length), { key: 'LDR', value: '{"not":"an envelope"}' }] });
      await producer.send({ topic: topics.features, messages: messages.slice(bars.length) });
      const dead = await waitFor('the invalid record dead-lettered', () => dlq.messages[0], 60_000);
      assert.is(dead.m.headers?.[DLQ_HEADERS.code]?.toString(), 'E_SCHEMA');
      assert.is(dead.m.headers?.[DLQ_HEADERS.sourceTopic]?.toString(), topics.cleanPrices);
      // The dead letter is written with the batch after the replayed bars: they are processed too.
      await waitFor('the replay processed', async () => (await db.collection(COLLECTIONS.latest).findOne({ _id: 'LDR' as never }))?.featuresTs === bars[29]!.ts, 60_000, 250);
      assert.is(await db.collection(COLLECTIONS.bars).countDocuments(), 30, 'one document per bar after the replay');
      assert.is(await db.collection(COLLECTIONS.features).countDocuments(), 25);
      const stored = await db.collection(COLLECTIONS.bars).findOne({ _id: `LDR|1d|${bars[7]!.ts}` as never });
      assert.equal([stored?.close, stored?.volume, stored?.adjFactor], [bars[7]!.close, bars[7]!.volume, 1], 'natural key → the bar');
      const latest = await db.collection(COLLECTIONS.latest).findOne({ _id: 'LDR' as never });
      assert.is(latest?.barTs, bars[29]!.ts, 'latest bar in the latest-state document');
      assert.equal((latest?.features as { values?: number[] } | undefined)?.values, [bars[29]!.close, 1]);
      const storedFeature = await db.collection(COLLECTIONS.features).findOne({ _id: `LDR|1d|${bars[7]!.ts}` as never });
      assert.equal([storedFeature?.schemaHash, storedFeature?.values, 'names' in (storedFeature ?? {})], [SCHEMA.schemaHash, [bars[7]!.close, 1], false], 'stored: the hash and the values');
      // An unknown schema hash: the record is dead-lettered with its code and reason; the next vector is still stored.
      const nextTs = '2021-07-01T00:00:00.000Z';
      const next = encode('features', makeEnvelope('features', { data: { symbol: 'LDR', interval: '1d', ts: nextTs, close: 2, schemaVersion: '9.9.9', schemaHash: SCHEMA.schemaHash, values: [2, 1] }, source: 'test', idParts: [nextTs] }));
      await producer.send({ topic: topics.features, messages: [orphan, next] });
      const unknown = await waitFor('the unknown-schema vector dead-lettered', () => dlq.messages.find((d) => d.m.headers?.[DLQ_HEADERS.code]?.toString() === 'E_UNKNOWN_SCHEMA'), 60_000);
      assert.is(unknown.m.headers?.[DLQ_HEADERS.sourceTopic]?.toString(), topics.features);
      assert.match(unknown.m.headers?.[DLQ_HEADERS.reason]?.toString() ?? '', unknownHash);
      await waitFor('the vector after it stored', async () => (await db.collection(COLLECTIONS.features).countDocuments()) === 26 || undefined, 60_000, 250);
      assert.is(await db.collection(COLLECTIONS.features).countDocuments({ schemaHash: unknownHash }), 0, 'the orphan is not stored');
    } finally {
      await dlq.stop();
      await producer.disconnect();
      await mongo.close();
    }
  }),
);

t('shadow predictions: stored once per natural key in their own collection, apart from production and the latest state', () =>
  withStack({ services: [], env: { LOG_LEVEL: 'info', KAFKA_SESSION_TIMEOUT_MS: '6000' } }, async (stack) => {
    const topics = resolveTopics(stack.prefix);
    await ensureTopics(kafkaClient('loader-shadow-admin'), stack.prefix);
    const prediction = (i: number, version: number, r: number) => {
      const asOf = new Date(Date.UTC(2020, 0, 1 + i)).toISOString();
      const lastClose = 100 + i;
      return { symbol: 'SHD', interval: '1d' as const, asOf, horizon: 1, lastClose, predictedReturn: r, predictedPrice: lastClose * (1 + r), model: { name: 'price', version }, featureSchemaHash: 'ab'.repeat(8), latencyMs: 2 };
    };
    const production = Array.from({ length: 12 }, (_, i) => makeEnvelope('pricePredictions', { data: prediction(i, 1, 0.001), source: 'test', idParts: ['SHD', i] }));
    // The challenger's prediction of each event carries the production event id (as the predictor's shadow scorer does).
    const shadow = production.map((p, i) => makeEnvelope('pricePredictionsShadow', { data: prediction(i, 2, -0.002 * (i + 1)), source: 'test', eventId: p.eventId, eventTime: p.data.asOf }));
    const producer = kafkaClient('loader-shadow').producer();
    await producer.connect();
    const mongo = await mongoClient();
    try {
      await producer.send({ topic: topics.pricePredictions, messages: production.map((e) => encode('pricePredictions', e)) });
      await producer.send({ topic: topics.pricePredictionsShadow, messages: shadow.map((e) => encode('pricePredictionsShadow', e)) });
      stack.sup.start({ name: 'loader', entry: 'services/loader/src/main.ts', env: { HTTP_PORT: '0' } });
      const db = mongo.db(stack.db);
      const counts = async () => [await db.collection(COLLECTIONS.predictions).countDocuments(), await db.collection(COLLECTIONS.shadowPredictions).countDocuments()];
      await waitFor('12 production and 12 shadow predictions', async () => (await counts()).join() === '12,12', 60_000, 250);
      // A redelivery of the shadow topic, plus one new shadow prediction behind it: still one document per key.
      const extra = makeEnvelope('pricePredictionsShadow', { data: prediction(12, 2, 0.003), source: 'test', idParts: ['SHD', 12] });
      await producer.send({ topic: topics.pricePredictionsShadow, messages: [...shadow, extra].map((e) => encode('pricePredictionsShadow', e)) });
      await waitFor('the shadow replay processed', async () => (await db.collection(COLLECTIONS.shadowPredictions).findOne({ _id: `SHD|1d|${extra.data.asOf}|price|2` as never })) !== null, 60_000, 250);
      assert.equal(await counts(), [12, 13], 'one document per key after the replay; production untouched');
      const stored = await db.collection(COLLECTIONS.shadowPredictions).find({}).sort({ asOf: 1 }).toArray();
      assert.equal(stored.slice(0, 12).map((d) => [d._id, d.eventId, d.predictedReturn, d.model.version]), shadow.map((e) => [`SHD|1d|${e.data.asOf}|price|2`, e.eventId, e.data.predictedReturn, 2]));
      assert.equal(stored.slice(0, 12).map((d) => d.eventId), production.map((e) => e.eventId), 'paired with production by event id');
      const latest = await db.collection(COLLECTIONS.latest).findOne({ _id: 'SHD' as never });
      assert.equal([latest?.predictionTs, (latest?.prediction as { model?: { version?: number } } | undefined)?.model?.version], [production.at(-1)!.data.asOf, 1], 'the latest state holds production only');
      const indexes = (await db.collection(COLLECTIONS.shadowPredictions).indexes()).map((i) => JSON.stringify(i.key));
      assert.ok(indexes.includes(JSON.stringify({ symbol: 1, asOf: 1 })), `indexes ${indexes.join(' ')}`);
    } finally {
      await producer.disconnect();
      await mongo.close();
    }
  }),
);

t.after(async () => {
  await ctx.h?.db.dropDatabase().catch(() => {});
  await ctx.h?.close();
});

t.run();
