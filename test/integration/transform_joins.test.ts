/**
 * Point-in-time joins through the real transformer (real Kafka, real MongoDB): real SEC facts
 * for AAPL, real CNBC market headlines for SPY (lexicon-scored by the transformer), model
 * sentiment predictions overriding some of them, and real prices — fed in phases whose order is
 * fixed by waiting for the transformer's persisted state to cover each phase. Part of the facts
 * and news arrives after bars they would have been visible to: those bars are not revised. The
 * features in MongoDB are byte-identical to the same event order run in process.
 */
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { encode, makeEnvelope, resolveTopics, type RawFinancialFact, type RawNewsArticle } from '@stock-mlops/contracts';
import { COLLECTIONS } from '@stock-mlops/load';
import { FUNDAMENTAL_FEATURES, lexiconSentiment, NEWS_FEATURES, parseYahooCsv, PIPELINE_SCHEMA, type Bar, type PipelineEvent } from '@stock-mlops/transform';
import { parseCompanyFacts } from '@stock-mlops/extract/financials/sec_edgar';
import { suite } from '../harness/index.ts';
import { kafkaClient, mongoClient, waitFor, withStack } from '../support/stack.ts';
import { createTopics, expectedForEvents, firstDifference, rawPriceMessage, rng, startService, waitForExact } from '../support/replay.ts';

const DATA = process.env.SHARED_DATA_DIR ?? path.resolve(import.meta.dirname, '../../../shared/data');
const t = suite('transformer: point-in-time joins of facts and news (real broker and database)', { timeoutMs: 120_000 });

function bars(symbol: string, from: string, to: string): Bar[] {
  const { bars: all } = parseYahooCsv(readFileSync(path.join(DATA, 'prices', `${symbol}.csv`), 'utf8'), symbol, 'yahoo-csv');
  return all.filter((b) => b.ts >= from && b.ts < to);
}

const TRACKED = new Set(['EarningsPerShareDiluted', 'NetIncomeLoss', 'StockholdersEquity', 'EntityCommonStockSharesOutstanding', 'Revenues']);
function aaplFacts(): RawFinancialFact[] {
  const body = JSON.parse(readFileSync(path.join(DATA, 'financials', 'sec_edgar_companyfacts_CIK0000320193_AAPL.json'), 'utf8'));
  return parseCompanyFacts(body, { provider: 'sec-edgar', symbol: 'AAPL' })
    .facts.map((f) => f.fact)
    .filter((f) => TRACKED.has(f.concept) && f.filed <= '2015-08-31' && f.periodEnd >= '2011-01-01');
}

/** CNBC headlines (" 7:51  PM ET Fri, 17 July 2020") as market news for SPY; ET taken as UTC−4. */
function spyNews(from: string, to: string): RawNewsArticle[] {
  const text = readFileSync(path.join(DATA, 'news', 'cnbc_headlines.csv'), 'utf8');
  const out = new Map<string, RawNewsArticle>();
  const re = /^"?(.+?)"?,"\s*(\d{1,2}):(\d{2})\s+(AM|PM) ET \w{3}, (\d{1,2}) (\w+) (\d{4})","?(.*?)"?$/;
  for (const line of text.split('\n')) {
    const m = re.exec(line.trim());
    if (!m) continue;
    const [, title, hh, mm, ampm, dd, month, yyyy, description] = m as unknown as string[];
    const local = Date.parse(`${dd} ${month} ${yyyy} ${hh}:${mm} ${ampm} UTC`);
    if (!Number.isFinite(local)) continue;
    const publishedAt = new Date(local + 4 * 3_600_000).toISOString();
    if (publishedAt < from || publishedAt >= to) continue;
    const id = createHash('sha256').update(`${title}|${publishedAt}`).digest('hex').slice(0, 32);
    out.set(id, { id, url: `https://www.cnbc.com/headline/${id}`, publishedAt, title: title!.slice(0, 1000), summary: (description ?? '').slice(0, 2000), source: 'cnbc', tickers: ['SPY'], language: 'en' });
  }
  return [...out.values()].sort((a, b) => a.publishedAt.localeCompare(b.publishedAt) || a.id.localeCompare(b.id));
}

t('facts and news join point in time; late arrivals affect only later bars; MongoDB equals the in-process run', async () => {
  const aapl = bars('AAPL', '2014-06-01', '2015-09-01');
  const spy = bars('SPY', '2019-06-01', '2020-05-01');
  const facts = aaplFacts();
  const news = spyNews('2019-05-01', '2020-05-01');
  assert.ok(facts.length > 150 && news.length > 300 && aapl.length > 250 && spy.length > 200, `fixtures: ${facts.length} facts, ${news.length} articles, ${aapl.length}+${spy.length} bars`);
  // Phases: ~60 % of the facts and every other article, the first half of the bars, then the
  // rest of the facts and news (some of it visible to bars already emitted), then the other half.
  const r = rng(5);
  const early = facts.filter(() => r() < 0.6);
  const late = facts.filter((f) => !early.includes(f));
  const modelScored = new Set(news.filter((_, i) => i % 7 === 0).map((a) => a.id));
  const predictions = news.filter((a) => modelScored.has(a.id)).map((a, i) => ({ articleId: a.id, symbol: 'SPY', publishedAt: a.publishedAt, label: 'neutral' as const, probs: { negative: 0.25, neutral: 0.5, positive: 0.25 }, score: ((i % 9) - 4) / 4, model: { name: 'sentiment', version: 1 }, latencyMs: 1 }));
  const phases = [
    { facts: early, news: news.filter((_, i) => i % 2 === 0), predictions: predictions.filter((_, i) => i % 2 === 0), bars: [] as Bar[] },
    { facts: [], news: [], predictions: [], bars: [...aapl.slice(0, aapl.length >> 1), ...spy.slice(0, spy.length >> 1)] },
    { facts: late, news: news.filter((_, i) => i % 2 === 1), predictions: predictions.filter((_, i) => i % 2 === 1), bars: [] as Bar[] },
    { facts: [], news: [], predictions: [], bars: [...aapl.slice(aapl.length >> 1), ...spy.slice(spy.length >> 1)] },
  ];
  const events: PipelineEvent[] = phases.flatMap((p) => [
    ...p.facts.map((fact) => ({ fact })),
    ...p.news.map((a) => ({ sentiment: { articleId: a.id, symbol: 'SPY', publishedAt: a.publishedAt, score: lexiconSentiment(`${a.title}. ${a.summary}`), source: 'lexicon' as const } })),
    ...p.predictions.map((s) => ({ sentiment: { articleId: s.articleId, symbol: s.symbol, publishedAt: s.publishedAt, score: s.score, source: 'model' as const } })),
    ...p.bars,
  ]);
  const expected = expectedForEvents(events);

  await withStack({ services: [], env: { TRANSFORM_REORDER_WINDOW: '0', LOG_LEVEL: 'info', KAFKA_SESSION_TIMEOUT_MS: '6000' } }, async (stack) => {
    const topics = resolveTopics(stack.prefix);
    await createTopics(stack.prefix);
    const producer = kafkaClient('joins-producer').producer();
    await producer.connect();
    const mongo = await mongoClient();
    const state = mongo.db(stack.db).collection('transformer_state');
    /** Highest offset per topic the transformer's stored state of `symbol` covers. */
    const covered = async (symbol: string) => {
      const doc = await state.findOne({ _id: symbol as never });
      const offsets = doc ? (JSON.parse(doc.snapshot as string) as { offsets: Record<string, string> }).offsets : {};
      const by: Record<string, number> = {};
      for (const [k, v] of Object.entries(offsets)) {
        const topic = k.slice(0, k.lastIndexOf(':'));
        by[topic] = Math.max(by[topic] ?? -1, Number(v));
      }
      return by;
    };
    try {
      startService(stack, 'transformer');
      startService(stack, 'loader');
      const sent = { facts: 0, news: 0, predictions: 0, AAPL: 0, SPY: 0 };
      for (const [i, p] of phases.entries()) {
        const send = (topic: string, messages: Array<{ key: string; value: string }>) => (messages.length ? producer.send({ topic, acks: -1, messages }) : undefined);
        await send(topics.rawFinancials, p.facts.map((f) => encode('rawFinancials', makeEnvelope('rawFinancials', { data: f, source: 'sec-edgar', idParts: [f.concept, f.unit, f.periodStart ?? '', f.periodEnd, f.accession ?? '', f.filed] }))));
        await send(topics.rawNews, p.news.map((a) => encode('rawNews', makeEnvelope('rawNews', { data: a, source: 'cnbc', idParts: [a.id] }))));
        await send(topics.sentimentPredictions, p.predictions.map((s) => encode('sentimentPredictions', makeEnvelope('sentimentPredictions', { data: s, source: 'test-model', idParts: [s.articleId] }))));
        await send(topics.rawPrices, p.bars.map(rawPriceMessage));
        sent.facts += p.facts.length;
        sent.news += p.news.length;
        sent.predictions += p.predictions.length;
        sent.AAPL += p.bars.filter((b) => b.symbol === 'AAPL').length;
        sent.SPY += p.bars.filter((b) => b.symbol === 'SPY').length;
        // Phase barrier: the stored state covers every record of the phase (all of a symbol's
        // records are on one partition per topic, offsets from 0).
        await waitFor(`phase ${i + 1} applied`, async () => {
          const [a, s] = [await covered('AAPL'), await covered('SPY')];
          return (
            (sent.facts === 0 || a[topics.cleanFinancials] === sent.facts - 1) &&
            (sent.AAPL === 0 || a[topics.rawPrices] === sent.AAPL - 1) &&
            (sent.news === 0 || s[topics.cleanNews] === sent.news - 1) &&
            (sent.predictions === 0 || s[topics.sentimentPredictions] === sent.predictions - 1) &&
            (sent.SPY === 0 || s[topics.rawPrices] === sent.SPY - 1)
          );
        }, 60_000, 250);
      }
      const got = await waitForExact(mongo.db(stack.db), expected, 60_000);
      assert.is(firstDifference(expected.vectors, got.vectors), undefined, 'feature vectors byte-identical');
      const docs = await mongo.db(stack.db).collection(COLLECTIONS.features).find({}).toArray();
      // Stored vectors carry the hash, not the names: those are stored once, by the transformer.
      assert.ok(docs.every((d) => d.schemaHash === PIPELINE_SCHEMA.hash && !('names' in d)), 'hash and values, no names');
      const schema = await mongo.db(stack.db).collection(COLLECTIONS.featureSchemas).findOne({ _id: PIPELINE_SCHEMA.hash as never });
      assert.equal([schema?.schemaVersion, schema?.names], [PIPELINE_SCHEMA.version, [...PIPELINE_SCHEMA.names]], 'the schema stored once per hash');
      // The joins are really there, and late arrivals did not revise earlier bars.
      const fund = (name: (typeof FUNDAMENTAL_FEATURES)[number]) => PIPELINE_SCHEMA.blocks.fundamentals + FUNDAMENTAL_FEATURES.indexOf(name);
      const newsAt = (name: (typeof NEWS_FEATURES)[number]) => PIPELINE_SCHEMA.blocks.news + NEWS_FEATURES.indexOf(name);
      const aaplRows = docs.filter((d) => d.symbol === 'AAPL').sort((a, b) => (a.ts < b.ts ? -1 : 1));
      const spyRows = docs.filter((d) => d.symbol === 'SPY');
      assert.ok(aaplRows.every((d) => (d.values as number[])[fund('fund_eps_avail')] === 1), 'AAPL: TTM EPS known on every bar');
      assert.ok(spyRows.filter((d) => (d.values as number[])[newsAt('news_avail_7d')] === 1).length > spyRows.length / 2, 'SPY: news in most 7-day windows');
      console.log(`  ${sent.facts} facts, ${sent.news} articles (${sent.predictions} model-scored), ${sent.AAPL + sent.SPY} bars → ${got.features} joined vectors identical to the in-process run`);
    } finally {
      await producer.disconnect();
      await mongo.close();
    }
  });
});

t.run();
