/**
 * Point-in-time joins (financial facts, news sentiment), the lexicon scorer, the published
 * pipeline schema and SymbolPipeline's ordering, snapshot and determinism guarantees.
 */
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  FEATURE_SCHEMA,
  FUNDAMENTAL_FEATURES,
  FundamentalsJoin,
  NEWS_FEATURES,
  NewsJoin,
  PIPELINE_SCHEMA,
  ROLLING_Z_WINDOW,
  SymbolPipeline,
  WARMUP_BARS,
  computeFeaturesFromBars,
  computePipelineFeatures,
  featureSchemaHash,
  lexiconSentiment,
  type Bar,
  type FinancialFact,
  type PipelineEvent,
  type PipelineSnapshot,
  type SentimentScore,
} from '@stock-mlops/transform';
import { suite } from '../../harness/index.ts';
import { loadBars, pricesDir, sharedDataDir } from '../../support/transform.ts';

const t = suite('transform/joins');
const day = (d: string) => Math.floor(Date.parse(`${d}T00:00:00.000Z`) / 86_400_000);
const F = (name: (typeof FUNDAMENTAL_FEATURES)[number]) => FUNDAMENTAL_FEATURES.indexOf(name);
const N = (name: (typeof NEWS_FEATURES)[number]) => NEWS_FEATURES.indexOf(name);

function fact(concept: string, value: number, periodEnd: string, filed: string, periodStart?: string, unit?: string): FinancialFact {
  return {
    symbol: 'TEST',
    concept,
    value,
    unit: unit ?? (concept.includes('Shares') ? 'shares' : concept.startsWith('EarningsPerShare') ? 'USD/shares' : 'USD'),
    periodEnd,
    form: '10-K',
    filed,
    ...(periodStart ? { periodStart } : {}),
  };
}

const shares = (n: number, end: string, filed: string) => fact('EntityCommonStockSharesOutstanding', n, end, filed);
const netIncome = (v: number, start: string, end: string, filed: string) => fact('NetIncomeLoss', v, end, filed, start);

t('schema: technical block first, then joins and the normalized block; version 2.0.0, hash = sha256(version|names)', () => {
  assert.is(PIPELINE_SCHEMA.version, '2.0.0');
  assert.equal(PIPELINE_SCHEMA.names.slice(0, FEATURE_SCHEMA.names.length), [...FEATURE_SCHEMA.names]);
  assert.equal(PIPELINE_SCHEMA.names.slice(PIPELINE_SCHEMA.blocks.fundamentals, PIPELINE_SCHEMA.blocks.news), [...FUNDAMENTAL_FEATURES]);
  assert.equal(PIPELINE_SCHEMA.names.slice(PIPELINE_SCHEMA.blocks.news, PIPELINE_SCHEMA.blocks.normalized), [...NEWS_FEATURES]);
  assert.equal(PIPELINE_SCHEMA.names.slice(PIPELINE_SCHEMA.blocks.normalized), ['z60_atr_14', 'z60_volatility_20', 'z60_log_volume', 'z_ready']);
  assert.is(new Set(PIPELINE_SCHEMA.names).size, PIPELINE_SCHEMA.names.length);
  assert.is(PIPELINE_SCHEMA.hash, featureSchemaHash(PIPELINE_SCHEMA.version, PIPELINE_SCHEMA.names));
  assert.is.not(PIPELINE_SCHEMA.hash, FEATURE_SCHEMA.hash);
  assert.is(PIPELINE_SCHEMA.normalization.window, ROLLING_Z_WINDOW);
});

t('facts are known from the day after they were filed — never by period end', () => {
  const j = new FundamentalsJoin();
  assert.equal(j.add(netIncome(100, '2019-01-01', '2019-12-31', '2020-02-15')), { ok: true, stored: true });
  j.add(shares(10, '2020-01-31', '2020-02-15'));
  assert.is(j.features(day('2020-01-10'), 50)[F('fund_eps_avail')], 0, 'period over, not filed yet');
  assert.is(j.features(day('2020-02-15'), 50)[F('fund_eps_avail')], 0, 'filed that day: not known to that day');
  const v = j.features(day('2020-02-16'), 50);
  assert.is(v[F('fund_eps_avail')], 1);
  assert.is(v[F('fund_earnings_yield')], 10 / 50, 'EPS = net income / shares = 10');
  assert.is(v[F('fund_pe')], 5);
  assert.is(v[F('fund_filing_age')], 1 / 365);
});

t('TTM = FY + YTD − prior YTD; YoY growth against the TTM a year earlier', () => {
  const j = new FundamentalsJoin();
  j.add(netIncome(80, '2018-01-01', '2018-12-31', '2019-02-15'));
  j.add(netIncome(15, '2018-01-01', '2018-03-31', '2018-05-01'));
  j.add(netIncome(20, '2019-01-01', '2019-03-31', '2019-05-01'));
  j.add(netIncome(100, '2019-01-01', '2019-12-31', '2020-02-15'));
  j.add(netIncome(30, '2020-01-01', '2020-03-31', '2020-05-01'));
  j.add(shares(10, '2020-01-31', '2020-02-15'));
  const before = j.features(day('2020-05-01'), 100);
  assert.is(before[F('fund_earnings_yield')], 10 / 100, 'before the Q1 filing: FY2019 = 100');
  assert.is(before[F('fund_eps_growth_yoy')], (100 - 80) / 80, 'FY2019 vs FY2018 (which ended 365 days earlier)');
  const after = j.features(day('2020-05-02'), 100);
  assert.is(after[F('fund_earnings_yield')], (100 + 30 - 20) / 10 / 100, 'TTM to 2020-03-31 = 110');
  assert.is(after[F('fund_growth_avail')], 1);
  assert.is(after[F('fund_eps_growth_yoy')], (110 - (80 + 20 - 15)) / (80 + 20 - 15));
});

t('TTM from four quarters; a restatement counts from its own filing date; stale facts are dropped', () => {
  const j = new FundamentalsJoin();
  const quarters: Array<[string, string, number]> = [
    ['2019-04-01', '2019-06-30', 25],
    ['2019-07-01', '2019-09-30', 26],
    ['2019-10-01', '2019-12-31', 27],
    ['2020-01-01', '2020-03-31', 28],
  ];
  for (const [s, e, v] of quarters) j.add({ ...netIncome(v, s, e, '2020-05-01'), form: '10-Q' });
  j.add(shares(1, '2020-04-20', '2020-05-01'));
  assert.is(j.features(day('2020-06-01'), 212)[F('fund_pe')], 2, 'TTM = 25 + 26 + 27 + 28 = 106');
  j.add({ ...netIncome(38, '2020-01-01', '2020-03-31', '2020-07-01'), form: '10-Q/A' });
  assert.is(j.features(day('2020-07-01'), 212)[F('fund_pe')], 2, 'restatement not known yet');
  assert.is(j.features(day('2020-07-02'), 232)[F('fund_pe')], 2, 'TTM = 116 from the restatement on');
  const stale = j.features(day('2022-01-01'), 100);
  assert.is(stale[F('fund_eps_avail')], 0, 'a period that ended > 550 days before the bar is not used');
  assert.is(stale[F('fund_filing_age')], 0);
});

t('P/B from equity and shares; negative earnings keep the earnings yield, P/E is 0; reported EPS when net income is missing', () => {
  const j = new FundamentalsJoin();
  j.add(fact('StockholdersEquity', 500, '2019-12-31', '2020-02-01'));
  j.add(shares(10, '2020-01-15', '2020-02-01'));
  j.add(netIncome(-50, '2019-01-01', '2019-12-31', '2020-02-01'));
  const v = j.features(day('2020-03-02'), 100);
  assert.equal([v[F('fund_pb_avail')], v[F('fund_pb')]], [1, 2]);
  assert.equal([v[F('fund_eps_avail')], v[F('fund_earnings_yield')], v[F('fund_pe')]], [1, -0.05, 0]);
  const e = new FundamentalsJoin();
  e.add(fact('EarningsPerShareDiluted', 4, '2019-12-31', '2020-02-01', '2019-01-01'));
  assert.is(e.features(day('2020-03-02'), 100)[F('fund_pe')], 25, 'no net income / shares: TTM of reported EPS');
  assert.is(e.features(day('2020-03-02'), 100)[F('fund_pb_avail')], 0);
});

t('untracked concepts are ignored, malformed facts rejected with a code; snapshots round-trip through JSON', () => {
  const j = new FundamentalsJoin();
  assert.equal(j.add(fact('Revenues', 1, '2019-12-31', '2020-02-01', '2019-01-01')), { ok: true, stored: false });
  assert.equal(j.add(fact('NetIncomeLoss', 1, '2019-12-31', '2020-02-01', '2019-01-01', 'shares')), { ok: true, stored: false }, 'wrong unit for the measure');
  const bad = j.add(fact('NetIncomeLoss', Number.NaN, '2019-12-31', '2020-02-01', '2019-01-01'));
  assert.is(bad.ok ? '' : bad.code, 'E_BAD_FACT');
  j.add(netIncome(100, '2019-01-01', '2019-12-31', '2020-02-15'));
  j.add(netIncome(100, '2019-01-01', '2019-12-31', '2020-03-15'));
  assert.is(j.size, 1, 'the same value filed again adds nothing');
  j.add(shares(10, '2020-01-31', '2020-02-15'));
  const copy = FundamentalsJoin.restore(JSON.parse(JSON.stringify(j.snapshot())));
  for (const d of ['2020-02-15', '2020-02-16', '2021-01-01']) assert.equal(copy.features(day(d), 42), j.features(day(d), 42), d);
});

t('news: only articles published before the bar start; windows since the last bar and over 7 days', () => {
  const j = new NewsJoin();
  const s = (articleId: string, publishedAt: string, score: number, source: SentimentScore['source'] = 'lexicon'): SentimentScore => ({ articleId, symbol: 'TEST', publishedAt, score, source });
  j.add(s('a', '2020-01-09T00:00:00.000Z', 0.5));
  j.add(s('b', '2020-01-09T23:59:59.000Z', -0.1));
  j.add(s('c', '2020-01-10T00:00:00.000Z', 1));
  j.add(s('d', '2020-01-03T00:00:00.000Z', 0.3));
  j.add(s('e', '2020-01-02T23:59:59.999Z', -1));
  const v = j.features(Date.parse('2020-01-10T00:00:00.000Z'), Date.parse('2020-01-09T00:00:00.000Z'));
  assert.is(v[N('news_count_1')], Math.log1p(2), 'a and b; c is not before the bar start');
  assert.is(v[N('news_sent_1')], (0.5 + -0.1) / 2);
  assert.is(v[N('news_avail_1')], 1);
  assert.is(v[N('news_count_7d')], Math.log1p(3), 'a, b and d; e is older than 7 days');
  assert.is(v[N('news_sent_7d')], (0.5 + -0.1 + 0.3) / 3);
  const none = j.features(Date.parse('2020-02-10T00:00:00.000Z'), Date.parse('2020-02-07T00:00:00.000Z'));
  assert.equal(none, [0, 0, 0, 0, 0, 0], 'no article: zeros and flags 0');
});

t('news: a model score replaces the lexicon score of an article, never the reverse; order of arrival does not change sums', () => {
  const ts = Date.parse('2020-01-10T00:00:00.000Z');
  const s = (articleId: string, score: number, source: SentimentScore['source']): SentimentScore => ({ articleId, symbol: 'TEST', publishedAt: '2020-01-09T12:00:00.000Z', score, source });
  const j = new NewsJoin();
  j.add(s('x', 0.9, 'lexicon'));
  j.add(s('x', -0.4, 'model'));
  assert.equal(j.add(s('x', 0.9, 'lexicon')), { ok: true, stored: false });
  assert.is(j.features(ts, undefined)[N('news_sent_1')], -0.4);
  assert.is(j.features(ts, undefined)[N('news_count_1')], Math.log1p(1), 'one article, one count');
  const scores = [0.1, 0.2, 0.7, -0.3, 0.123456789, 1e-9].map((v, i) => s(`id${i}`, v, 'model'));
  const a = new NewsJoin();
  const b = new NewsJoin();
  scores.forEach((x) => a.add(x));
  [...scores].reverse().forEach((x) => b.add(x));
  assert.equal(JSON.stringify(a.features(ts, undefined)), JSON.stringify(b.features(ts, undefined)));
  a.prune(ts + 8 * 86_400_000);
  assert.is(a.size, 0, 'articles older than the 7-day window of any later bar are dropped');
  const bad = a.add({ ...s('y', Number.POSITIVE_INFINITY, 'model') });
  assert.is(bad.ok ? '' : bad.code, 'E_BAD_SCORE');
});

t('lexicon: polarity, negation, and on the shared Financial PhraseBank positive > neutral > negative on average', () => {
  assert.ok(lexiconSentiment('Apple beats estimates, raises guidance') > 0);
  assert.ok(lexiconSentiment('Shares plunge after the company misses and cuts its outlook') < 0);
  assert.ok(lexiconSentiment('Sales did not improve') < 0, 'negation flips');
  assert.is(lexiconSentiment('The company will hold its meeting on Tuesday'), 0);
  const rows = readFileSync(path.join(sharedDataDir, 'sentiment', 'financial_phrasebank_50agree.train80.csv'), 'utf8').split('\n').slice(1);
  const by: Record<string, number[]> = { positive: [], neutral: [], negative: [] };
  for (const line of rows) {
    const m = /^\d+,(.*),(positive|negative|neutral),\d+$/.exec(line.trim());
    if (m) by[m[2] as string]!.push(lexiconSentiment(m[1] as string));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(by.positive!.length > 500 && by.negative!.length > 200);
  assert.ok(mean(by.positive!) > mean(by.neutral!) && mean(by.neutral!) > mean(by.negative!), `means ${mean(by.positive!)}, ${mean(by.neutral!)}, ${mean(by.negative!)}`);
});

const msft = loadBars(path.join(pricesDir, 'MSFT.csv')).slice(0, 200);
const asTest = (b: Bar): Bar => ({ ...b, symbol: 'TEST' });

t('pipeline: the technical block equals computeFeaturesFromBars; unknown joins are 0 with flags 0; z-scores ready after the window', () => {
  const bars = msft.map(asTest);
  const out = computePipelineFeatures(bars);
  const batch = computeFeaturesFromBars(bars).rows;
  assert.is(out.rows.length, batch.length);
  assert.is(out.rows.length, bars.length - WARMUP_BARS + 1);
  out.rows.forEach((r, i) => {
    assert.is(r.vector.length, PIPELINE_SCHEMA.names.length);
    assert.equal(JSON.stringify(r.vector.slice(0, FEATURE_SCHEMA.names.length)), JSON.stringify(batch[i]!.vector));
    assert.equal(r.vector.slice(PIPELINE_SCHEMA.blocks.fundamentals, PIPELINE_SCHEMA.blocks.normalized), new Array(FUNDAMENTAL_FEATURES.length + NEWS_FEATURES.length).fill(0));
    const zReady = r.vector.at(-1);
    assert.is(zReady, i + 1 >= ROLLING_Z_WINDOW ? 1 : 0, `z_ready at row ${i}`);
    if (zReady === 1) assert.ok(r.vector.slice(PIPELINE_SCHEMA.blocks.normalized, -1).some((z) => z !== 0));
  });
});

t('pipeline: a fact or an article affects exactly the bars released after it was added', () => {
  const bars = msft.slice(0, 100).map(asTest);
  const cut = 80;
  const halfDayBefore = (b: Bar) => new Date(Date.parse(b.ts) - 12 * 3_600_000).toISOString();
  const late: PipelineEvent[] = [
    { fact: netIncome(1e9, '2011-07-01', '2012-06-30', '2012-08-01') },
    { fact: shares(1e8, '2012-07-20', '2012-08-01') },
    // Published before bar 70 (inside the 7-day window of bars 70..74) but arriving after bar 79.
    { sentiment: { articleId: 'old', symbol: 'TEST', publishedAt: halfDayBefore(bars[70]!), score: 0.5, source: 'lexicon' } },
    { sentiment: { articleId: 'fresh', symbol: 'TEST', publishedAt: halfDayBefore(bars[cut]!), score: -0.5, source: 'lexicon' } },
  ];
  const out = computePipelineFeatures([...bars.slice(0, cut), ...late, ...bars.slice(cut)]);
  const avail = (r: { vector: number[] }) => r.vector[PIPELINE_SCHEMA.blocks.fundamentals + F('fund_eps_avail')];
  const news = (r: { vector: number[] }, name: (typeof NEWS_FEATURES)[number]) => r.vector[PIPELINE_SCHEMA.blocks.news + N(name)];
  const rows = out.rows;
  const firstAfter = rows.findIndex((r) => r.ts === bars[cut]!.ts);
  assert.ok(firstAfter > 10);
  assert.ok(rows.slice(0, firstAfter).every((r) => avail(r) === 0 && news(r, 'news_avail_7d') === 0), 'bars emitted before are never revised');
  assert.ok(rows.slice(firstAfter).every((r) => avail(r) === 1), 'bars emitted after: the fact (filed 2012-08-01) is known');
  const first = rows[firstAfter]!;
  assert.equal([news(first, 'news_avail_1'), news(first, 'news_sent_1')], [1, -0.5], 'the fresh article is in the next bar\'s since-last-bar window');
  assert.is(news(first, 'news_sent_7d'), -0.5, 'the old article is outside its 7-day window');
});

t('pipeline: restoring from a JSON snapshot at any point continues bit for bit, joins and z-scores included; another schema is refused', () => {
  const events: PipelineEvent[] = [];
  msft.forEach((b, i) => {
    events.push(asTest(b));
    if (i === 30) events.push({ fact: netIncome(2e10, '2011-07-01', '2012-06-30', '2012-08-01') }, { fact: shares(8e9, '2012-07-20', '2012-08-01') });
    if (i % 17 === 0) events.push({ sentiment: { articleId: `a${i}`, symbol: 'TEST', publishedAt: b.ts.replace('T00', 'T13'), score: ((i % 5) - 2) / 2, source: 'lexicon' } });
  });
  const expected = computePipelineFeatures(events, { reorderWindow: 2 }).rows;
  let p = SymbolPipeline.create('TEST', { reorderWindow: 2 });
  const rows: number[][] = [];
  events.forEach((e, i) => {
    if ('fact' in e) p.addFact(e.fact);
    else if ('sentiment' in e) p.addSentiment(e.sentiment);
    else rows.push(...p.push(e).features.map((f) => f.vector));
    if (i % 37 === 0) p = SymbolPipeline.restore(JSON.parse(JSON.stringify(p.snapshot())) as PipelineSnapshot)!;
  });
  rows.push(...p.flush().features.map((f) => f.vector));
  assert.is(JSON.stringify(rows), JSON.stringify(expected.map((r) => r.vector)));
  const other = { ...p.snapshot(), schemaHash: FEATURE_SCHEMA.hash };
  assert.is(SymbolPipeline.restore(other), undefined);
});

t('pipeline: redelivered records are recognised by (partition, offset)', () => {
  const p = SymbolPipeline.create('TEST');
  p.push(asTest(msft[0]!), { partitionKey: 'raw:0', offset: '41' });
  p.addFact(netIncome(1, '2011-07-01', '2012-06-30', '2012-08-01'), { partitionKey: 'facts:2', offset: '7' });
  assert.ok(p.seen('raw:0', '41') && p.seen('raw:0', '3') && !p.seen('raw:0', '42'));
  assert.ok(p.seen('facts:2', '7') && !p.seen('facts:2', '8') && !p.seen('raw:1', '0'));
  const back = SymbolPipeline.restore(JSON.parse(JSON.stringify(p.snapshot())))!;
  assert.ok(back.seen('raw:0', '41') && !back.seen('raw:0', '42'));
});

t('real data: AAPL SEC facts joined onto AAPL prices give plausible P/E and P/B after the 2014 split', async () => {
  const { parseCompanyFacts } = await import('@stock-mlops/extract/financials/sec_edgar');
  const body = JSON.parse(readFileSync(path.join(sharedDataDir, 'financials', 'sec_edgar_companyfacts_CIK0000320193_AAPL.json'), 'utf8'));
  const facts = parseCompanyFacts(body, { provider: 'sec-edgar', symbol: 'AAPL' }).facts.map((f) => ({ fact: f.fact as FinancialFact }));
  const bars = loadBars(path.join(pricesDir, 'AAPL.csv'));
  const { rows, joinRejected } = computePipelineFeatures([...facts, ...bars]);
  assert.is(joinRejected.length, 0);
  const at = (name: (typeof FUNDAMENTAL_FEATURES)[number]) => (r: { vector: number[] }) => r.vector[PIPELINE_SCHEMA.blocks.fundamentals + F(name)] as number;
  const before = rows.filter((r) => r.ts < '2009-07-23');
  assert.ok(before.length > 1000 && before.every((r) => at('fund_eps_avail')(r) === 0), 'nothing known before the first XBRL filing (2009-07-22)');
  const after = rows.filter((r) => r.ts >= '2014-11-01');
  assert.ok(after.length > 700);
  const pe = after.map(at('fund_pe'));
  const pb = after.map(at('fund_pb'));
  assert.ok(pe.every((x) => x > 8 && x < 25), `P/E in (8, 25): ${Math.min(...pe)}..${Math.max(...pe)}`);
  assert.ok(pb.every((x) => x > 2.5 && x < 10), `P/B in (2.5, 10): ${Math.min(...pb)}..${Math.max(...pb)}`);
  assert.ok(after.every((r) => at('fund_growth_avail')(r) === 1 && at('fund_filing_age')(r) < 0.35), 'growth known; a filing at least every quarter');
});

t.run();
