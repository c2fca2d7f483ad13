import * as assert from 'uvu/assert';
import { deterministicId, makeEnvelope, RawNewsArticle } from '@stock-mlops/contracts';
import {
  canonicalUrl,
  createAlphaVantageNewsProvider,
  createNewsApiProvider,
  createRssProvider,
  createYahooSearchNewsProvider,
  htmlToText,
  type FetchResult,
} from '@stock-mlops/extract';
import path from 'node:path';
import { suite } from '../../harness/index.ts';
import { fakeRuntime, localFixtures, readJson, readText, rejects, send, sendFile, serve, shared } from '../../support/extract.ts';

const t = suite('extract/news');

const RSS = shared('fixtures/rss_cnbc_finance_2019-07.xml');
const ATOM = path.join(localFixtures, 'sec_edgar_browse_CIK0001844419_S-1.atom.xml');
const NEWSAPI = shared('fixtures/newsapi_v2_everything_business_2020-02-22.json');
const AV_NEWS = shared('fixtures/alphavantage_NEWS_SENTIMENT.json');
const YAHOO_SEARCH = shared('fixtures/yahoo_v1_search_AAPL_quotes_and_news.json');
const KEY = 'newskey-5b1e0d7a9c';

function assertValid(r: FetchResult<RawNewsArticle>): void {
  for (const it of r.items) {
    assert.ok(RawNewsArticle.safeParse(it.data).success, JSON.stringify(it.data));
    assert.is(it.data.id, deterministicId(canonicalUrl(it.data.url)!));
    assert.equal(it.idParts, [canonicalUrl(it.data.url)]);
    assert.is(it.eventTime, it.data.publishedAt);
  }
  const times = r.items.map((i) => i.data.publishedAt);
  assert.equal(times, [...times].sort());
}

t('canonical URL: lower-case host, no utm_*, no fragment, no trailing slash', () => {
  assert.is(
    canonicalUrl('https://WWW.CNBC.com/2019/07/29/story.html/?utm_source=rss&utm_medium=x&id=5#comments'),
    'https://www.cnbc.com/2019/07/29/story.html?id=5',
  );
  assert.is(canonicalUrl('https://Example.com/'), 'https://example.com');
  assert.is(canonicalUrl('javascript:alert(1)'), undefined);
  assert.is(canonicalUrl('/relative'), undefined);
});

t('htmlToText strips tags and decodes entities, including encoded markup', () => {
  assert.is(htmlToText(' &lt;b&gt;Filed:&lt;/b&gt; 2021-04-29 &amp; more'), 'Filed: 2021-04-29 & more');
  assert.is(htmlToText('<p>the index&#039;s <b>internals</b></p><script>x()</script>'), "the index's internals");
});

t('rss 2.0 (CNBC): 30 items, publish times, entities decoded, cursor semantics', async () => {
  const xml = readText(RSS);
  const pubDates = [...xml.matchAll(/<item>[\s\S]*?<pubDate>([^<]+)<\/pubDate>/g)].map((m) => new Date(Date.parse(m[1]!)).toISOString()).sort();
  const srv = await serve((_req, res) => sendFile(res, RSS, 'application/rss+xml'));
  try {
    const rss = createRssProvider({ feeds: { MARKET: `${srv.url}/id/10000664/device/rss/rss.html` }, runtime: fakeRuntime().runtime });
    const r = await rss.fetchSince({ symbol: 'MARKET' });
    assertValid(r);
    assert.is(r.items.length, 30);
    assert.equal(r.items.map((i) => i.data.publishedAt), pubDates);
    assert.match(r.items[0]!.data.publishedAt, /^2019-07-25T/);
    assert.is(r.items.at(-1)!.data.publishedAt, '2019-07-29T13:55:00.000Z');
    const ms = r.items.find((i) => i.data.title.startsWith('Morgan Stanley'))!.data;
    assert.is(ms.title, 'Morgan Stanley: The S&P 500 will fail to break out for a third time in 18 months');
    assert.match(ms.summary, "the index's internals and fundamentals are too weak");
    assert.is(ms.source, 'cnbc.com');
    assert.is(ms.language, 'en');
    assert.equal(ms.tickers, []);

    assert.is((await rss.fetchSince({ symbol: 'MARKET', cursor: r.nextCursor })).items.length, 0);
    const mid = await rss.fetchSince({ symbol: 'MARKET', cursor: r.items[9]!.data.publishedAt });
    assert.equal(mid.items, r.items.filter((i) => i.data.publishedAt > r.items[9]!.data.publishedAt));
  } finally {
    await srv.close();
  }
});

t('rss: a per-symbol urlTemplate tags articles with the symbol; truncated XML is E_BAD_BODY', async () => {
  const xml = readText(RSS);
  const srv = await serve((req, res) =>
    req.query.get('s') === 'AAPL' ? sendFile(res, RSS, 'application/rss+xml') : send(res, 200, xml.slice(0, 4000), { 'content-type': 'application/rss+xml' }),
  );
  try {
    const rss = createRssProvider({ urlTemplate: `${srv.url}/rss/2.0/headline?s={symbol}`, runtime: fakeRuntime().runtime });
    const r = await rss.fetchSince({ symbol: 'AAPL' });
    assert.ok(r.items.every((i) => i.data.tickers.length === 1 && i.data.tickers[0] === 'AAPL'));
    const err = await rejects(() => rss.fetchSince({ symbol: 'MSFT' }));
    assert.is(err.code, 'E_BAD_BODY');
    assert.match(err.message, /^rss \[MSFT\]: feed is not well-formed XML/);
  } finally {
    await srv.close();
  }
});

t('atom (SEC EDGAR feed): 5 entries, updated → publishedAt in UTC, HTML summary stripped', async () => {
  const srv = await serve((_req, res) => sendFile(res, ATOM, 'application/atom+xml'));
  try {
    const rss = createRssProvider({ feeds: { MAQC: { url: `${srv.url}/atom`, tickers: ['MAQC'], source: 'SEC EDGAR' } }, runtime: fakeRuntime().runtime });
    const r = await rss.fetchSince({ symbol: 'MAQC' });
    assertValid(r);
    assert.equal(r.items.map((i) => i.data.publishedAt), [
      '2021-02-16T22:25:34.000Z',
      '2021-03-22T23:39:21.000Z',
      '2021-03-26T15:33:44.000Z',
      '2021-04-08T21:04:59.000Z',
      '2021-04-29T20:45:49.000Z',
    ]);
    const last = r.items.at(-1)!.data;
    assert.is(last.url, 'https://www.sec.gov/Archives/edgar/data/1844419/000110465921057704/0001104659-21-057704-index.htm');
    assert.is(last.summary, 'Filed: 2021-04-29 AccNo: 0001104659-21-057704 Size: 1 MB');
    assert.is(last.title, 'S-1/A [Amend] - General form for registration of securities under the Securities Act of 1933');
    assert.is(last.source, 'SEC EDGAR');
    assert.equal(last.tickers, ['MAQC']);
  } finally {
    await srv.close();
  }
});

t('newsapi: 20 articles, key only in the X-Api-Key header, same-second articles split correctly by the cursor', async () => {
  const raw = readJson(NEWSAPI);
  const srv = await serve((_req, res) => sendFile(res, NEWSAPI));
  try {
    const api = createNewsApiProvider({ apiKey: KEY, baseUrl: srv.url, runtime: fakeRuntime('2020-02-23T00:00:00Z').runtime });
    const r = await api.fetchSince({ symbol: 'TTM' });
    assertValid(r);
    assert.is(r.items.length, raw.articles.length);
    assert.is(r.items.length, 20);
    const times = raw.articles.map((a: { publishedAt: string }) => new Date(a.publishedAt).toISOString()).sort();
    assert.equal(r.items.map((i) => i.data.publishedAt), times);
    assert.is(r.items[0]!.data.publishedAt, '2020-02-22T06:15:00.000Z');
    assert.is(r.items.at(-1)!.data.publishedAt, '2020-02-22T20:55:00.000Z');
    assert.is(r.items.at(-1)!.data.source, 'The Times of India');
    assert.is(r.items.at(-1)!.data.title, 'Govt summons urgent meeting on telco relief - Times of India');
    assert.equal(r.items[0]!.data.tickers, ['TTM']);

    const req = srv.requests[0]!;
    assert.is(req.headers['x-api-key'], KEY);
    assert.not.match(req.query.toString(), KEY);
    assert.is(req.query.get('q'), 'TTM');
    assert.is(req.query.get('from'), '2020-02-16T00:00:00');

    // Two articles share 06:41:00; a cursor that saw only the first still yields the second.
    const [a, b] = r.items.filter((i) => i.data.publishedAt === '2020-02-22T06:41:00.000Z');
    assert.ok(a && b);
    const partial = await api.fetchSince({ symbol: 'TTM', cursor: `2020-02-22T06:41:00.000Z|${a.data.id}` });
    assert.equal(partial.items, r.items.filter((i) => i.data.publishedAt > '2020-02-22T06:41:00.000Z' || i.data.id === b.data.id));
    assert.is((await api.fetchSince({ symbol: 'TTM', cursor: r.nextCursor })).items.length, 0);
  } finally {
    await srv.close();
  }
});

t('newsapi: 401 / error body never shows the key', async () => {
  const srv = await serve((_req, res) => send(res, 401, JSON.stringify({ status: 'error', code: 'apiKeyInvalid', message: `Your API key ${KEY} is invalid.` })));
  try {
    const api = createNewsApiProvider({ apiKey: KEY, baseUrl: srv.url, runtime: fakeRuntime().runtime });
    const err = await rejects(() => api.fetchSince({ symbol: 'AAPL' }));
    assert.is(err.code, 'E_HTTP_STATUS');
    assert.match(err.message, /^newsapi \[AAPL\]: GET .* HTTP 401/);
    assert.not.match(err.message, KEY);
  } finally {
    await srv.close();
  }
});

t('alpha vantage NEWS_SENTIMENT: 48 articles, time_published read as UTC, non-symbol tickers dropped', async () => {
  const raw = readJson(AV_NEWS);
  const srv = await serve((_req, res) => sendFile(res, AV_NEWS));
  try {
    const av = createAlphaVantageNewsProvider({ apiKey: KEY, baseUrl: srv.url, runtime: fakeRuntime('2025-02-01T00:00:00Z').runtime });
    const r = await av.fetchSince({ symbol: 'AAPL' });
    assertValid(r);
    assert.is(r.items.length, Number(raw.items));
    assert.is(r.items[0]!.data.publishedAt, '2025-01-31T09:15:00.000Z');
    assert.is(r.items.at(-1)!.data.publishedAt, '2025-01-31T10:57:09.000Z');
    const watch = r.items.at(-1)!.data;
    assert.match(watch.title, 'Apple, Exxon Mobil And 3 Stocks To Watch Heading Into Friday');
    assert.equal(watch.tickers, ['AAPL', 'CVX', 'PSX', 'V', 'XOM']);
    assert.is(watch.source, 'Benzinga');
    assert.ok(r.items.every((i) => !i.data.tickers.some((tk) => tk.includes(':'))));
    assert.ok(r.warnings.some((w) => /dropped 1 ticker/.test(w)));
    const q = srv.requests[0]!.query;
    assert.equal([q.get('function'), q.get('tickers'), q.get('sort'), q.get('time_from')], ['NEWS_SENTIMENT', 'AAPL', 'EARLIEST', '20250125T0000']);

    const next = await av.fetchSince({ symbol: 'AAPL', cursor: r.nextCursor });
    assert.is(next.items.length, 0);
    assert.is(srv.requests[1]!.query.get('time_from'), '20250131T1057');
  } finally {
    await srv.close();
  }
});

t('yahoo v1 search news: 4 articles, providerPublishTime epoch seconds, relatedTickers', async () => {
  const raw = readJson(YAHOO_SEARCH);
  const srv = await serve((_req, res) => sendFile(res, YAHOO_SEARCH));
  try {
    const y = createYahooSearchNewsProvider({ baseUrl: srv.url, runtime: fakeRuntime().runtime });
    const r = await y.fetchSince({ symbol: 'AAPL' });
    assertValid(r);
    assert.is(r.items.length, raw.news.length);
    const expected = raw.news
      .map((n: { providerPublishTime: number }) => new Date(n.providerPublishTime * 1000).toISOString())
      .sort();
    assert.equal(r.items.map((i) => i.data.publishedAt), expected);
    assert.is(r.items[0]!.data.publishedAt, '2022-06-29T13:00:01.000Z');
    const tiktok = r.items.find((i) => i.data.source === 'Barrons.com')!.data;
    assert.equal(tiktok.tickers, ['AAPL', 'RMPL-P', 'TWTR']);
    const podcast = r.items.find((i) => i.data.source === 'PR Newswire')!.data;
    assert.equal(podcast.tickers, []);
    assert.is(srv.requests[0]!.query.get('q'), 'AAPL');
    for (const it of r.items) assert.is(makeEnvelope('rawNews', { ...it, source: y.name }).data.id, it.data.id);
  } finally {
    await srv.close();
  }
});

t.run();
