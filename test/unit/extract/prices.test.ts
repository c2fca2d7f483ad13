import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { deterministicId, makeEnvelope, RawPriceBar } from '@stock-mlops/contracts';
import {
  createAlphaVantagePriceProvider,
  createCsvReplayProvider,
  createSyntheticProvider,
  createYahooChartProvider,
  type PriceFetchResult,
  type PriceProvider,
} from '@stock-mlops/extract';
import { suite } from '../../harness/index.ts';
import { fakeRuntime, readJson, readText, rejects, send, sendFile, serve, shared } from '../../support/extract.ts';

const t = suite('extract/prices');

const YAHOO_1D = shared('fixtures/yahoo_v8_chart_AAPL_1d_2020-08-31_to_2020-11-07.json');
const YAHOO_EMPTY = shared('fixtures/yahoo_v8_chart_AAPL_1m_2025-02-01_no_trading_empty.json');
const AV_DAILY = shared('fixtures/alphavantage_TIME_SERIES_DAILY_IBM_compact.json');
const AV_INTRADAY = shared('fixtures/alphavantage_TIME_SERIES_INTRADAY_MSFT_1min.json');
const AV_KEY = 'AVKEY-7f3c9e21';

/** Everything a provider emits must pass the contract schema. */
function assertValid(result: PriceFetchResult): void {
  for (const item of result.items) assert.ok(RawPriceBar.safeParse(item.data).success, JSON.stringify(item.data));
}

const utcDate = (epochS: number) => new Date(epochS * 1000).toISOString().slice(0, 10);

t('yahoo daily chart: every bar, values, adjClose, splits and dividends from the recorded file', async () => {
  const raw = readJson(YAHOO_1D).chart.result[0];
  const q = raw.indicators.quote[0];
  const srv = await serve((req, res) => (req.path === '/v8/finance/chart/AAPL' ? sendFile(res, YAHOO_1D) : send(res, 404, '{}')));
  try {
    const yahoo = createYahooChartProvider({ baseUrl: srv.url, runtime: fakeRuntime('2025-02-20T00:00:00Z').runtime });
    const r = await yahoo.fetchSince({ symbol: 'AAPL' });
    assertValid(r);
    assert.is(r.items.length, raw.timestamp.length);
    assert.is(r.items.length, 49);
    const first = r.items[0]!.data;
    const last = r.items.at(-1)!.data;
    assert.equal(first, {
      symbol: 'AAPL',
      interval: '1d',
      ts: `${utcDate(raw.timestamp[0])}T00:00:00.000Z`,
      open: q.open[0],
      high: q.high[0],
      low: q.low[0],
      close: q.close[0],
      adjClose: raw.indicators.adjclose[0].adjclose[0],
      volume: q.volume[0],
      currency: 'USD',
    });
    assert.is(first.ts, '2020-08-31T00:00:00.000Z');
    assert.is(last.ts, '2020-11-06T00:00:00.000Z');
    assert.is(last.close, q.close.at(-1));
    assert.is(last.adjClose, raw.indicators.adjclose[0].adjclose.at(-1));
    assert.is(last.volume, q.volume.at(-1));
    assert.equal(r.items[0]!.idParts, ['AAPL', '1d', '2020-08-31T00:00:00.000Z']);
    assert.is(r.items[0]!.eventTime, first.ts);

    assert.equal(r.actions, [
      { kind: 'split', symbol: 'AAPL', ts: '2020-08-31T00:00:00.000Z', date: '2020-08-31', numerator: 4, denominator: 1, ratio: '4:1' },
      { kind: 'dividend', symbol: 'AAPL', ts: '2020-11-06T00:00:00.000Z', date: '2020-11-06', amount: 0.205, currency: 'USD' },
    ]);
    assert.is(r.nextCursor, '2020-11-06T00:00:00.000Z');

    // Envelope-ready: what an adapter does with an item.
    const env = makeEnvelope('rawPrices', { ...r.items[0]!, source: yahoo.name });
    assert.is(env.eventId, deterministicId('price.bar.raw', 'AAPL', '1d', '2020-08-31T00:00:00.000Z'));
    assert.is(env.source, 'yahoo');

    const sent = srv.requests[0]!;
    assert.is(sent.query.get('interval'), '1d');
    assert.is(sent.query.get('events'), 'div|split');
    assert.ok(Number(sent.query.get('period1')) < Number(sent.query.get('period2')));
  } finally {
    await srv.close();
  }
});

t('price ids are provider-independent: symbol|interval|trading date, no provider name in them', async () => {
  const srv = await serve((_req, res) => sendFile(res, YAHOO_1D));
  try {
    const y = await createYahooChartProvider({ baseUrl: srv.url, runtime: fakeRuntime().runtime }).fetchSince({ symbol: 'AAPL' });
    const c = await createCsvReplayProvider({ path: shared('prices/AAPL.csv'), runtime: fakeRuntime().runtime }).fetchSince({ symbol: 'AAPL' });
    // Yahoo stamps daily bars with the 09:30 New York open; the CSV with the date only: same key shape.
    assert.equal(y.items[0]!.idParts, ['AAPL', '1d', '2020-08-31T00:00:00.000Z']);
    assert.equal(c.items[0]!.idParts, ['AAPL', '1d', '2004-08-19T00:00:00.000Z']);
    assert.is(deterministicId(...y.items[0]!.idParts), deterministicId('AAPL', '1d', '2020-08-31T00:00:00.000Z'));
  } finally {
    await srv.close();
  }
});

t('yahoo cursor: a second fetch with the returned cursor is empty; a middle cursor yields exactly the rest', async () => {
  const srv = await serve((_req, res) => sendFile(res, YAHOO_1D));
  try {
    const yahoo = createYahooChartProvider({ baseUrl: srv.url, runtime: fakeRuntime().runtime });
    const all = await yahoo.fetchSince({ symbol: 'AAPL' });
    const again = await yahoo.fetchSince({ symbol: 'AAPL', cursor: all.nextCursor });
    assert.is(again.items.length, 0);
    assert.is(again.actions.length, 0);
    assert.is(again.nextCursor, all.nextCursor);

    const mid = all.items[19]!.eventTime;
    const rest = await yahoo.fetchSince({ symbol: 'AAPL', cursor: mid });
    assert.equal(rest.items, all.items.slice(20));
    assert.equal(rest.actions.map((a) => a.kind), ['dividend']);
    // The request window starts at the cursor, not the lookback.
    assert.is(Number(srv.requests.at(-1)!.query.get('period1')), Date.parse(mid) / 1000);

    const until = await yahoo.fetchSince({ symbol: 'AAPL', until: new Date(all.items[9]!.eventTime) });
    assert.equal(until.items, all.items.slice(0, 10));
    assert.equal(until.actions.map((a) => a.kind), ['split']);
  } finally {
    await srv.close();
  }
});

t('yahoo: a no-trading-day response (meta only) is zero items, not an error', async () => {
  const srv = await serve((_req, res) => sendFile(res, YAHOO_EMPTY));
  try {
    const yahoo = createYahooChartProvider({ baseUrl: srv.url, interval: '1m', runtime: fakeRuntime('2025-02-02T00:00:00Z').runtime });
    const r = await yahoo.fetchSince({ symbol: 'AAPL' });
    assert.equal(r.items, []);
    assert.equal(r.actions, []);
    assert.is(r.nextCursor, undefined);
    const withCursor = await yahoo.fetchSince({ symbol: 'AAPL', cursor: '2025-01-31T20:59:00.000Z' });
    assert.is(withCursor.nextCursor, '2025-01-31T20:59:00.000Z');
  } finally {
    await srv.close();
  }
});

t('yahoo: null values inside quote arrays skip that bar only', async () => {
  const body = readJson(YAHOO_1D);
  body.chart.result[0].indicators.quote[0].close[5] = null;
  body.chart.result[0].indicators.quote[0].volume[6] = null;
  const srv = await serve((_req, res) => send(res, 200, JSON.stringify(body)));
  try {
    const r = await createYahooChartProvider({ baseUrl: srv.url, runtime: fakeRuntime().runtime }).fetchSince({ symbol: 'AAPL' });
    assert.is(r.items.length, 47);
    assert.ok(r.warnings.some((w) => /skipped 2 bar\(s\) with null values/.test(w)));
    const dates = r.items.map((i) => i.data.ts.slice(0, 10));
    assert.not.ok(dates.includes(utcDate(body.chart.result[0].timestamp[5])));
  } finally {
    await srv.close();
  }
});

t('yahoo: a negative price is E_SCHEMA naming provider and symbol; with onInvalid "skip" the bar is dropped', async () => {
  const negative = readJson(YAHOO_1D);
  negative.chart.result[0].indicators.quote[0].low[3] = -1;
  const srv = await serve((_req, res) => send(res, 200, JSON.stringify(negative)));
  try {
    const err = await rejects(() => createYahooChartProvider({ baseUrl: srv.url, runtime: fakeRuntime().runtime }).fetchSince({ symbol: 'AAPL' }));
    assert.is(err.code, 'E_SCHEMA');
    assert.match(err.message, /^yahoo \[AAPL\]: invalid item at timestamp\[3\]=\d+: low must be > 0/);

    const skipping = createYahooChartProvider({ baseUrl: srv.url, runtime: fakeRuntime().runtime, onInvalid: 'skip' });
    const r = await skipping.fetchSince({ symbol: 'AAPL' });
    assert.is(r.items.length, 48);
    assert.ok(r.warnings.some((w) => /skipped 1 invalid item/.test(w)));
  } finally {
    await srv.close();
  }
});

t('yahoo: a wrong type (price as a string) is E_SCHEMA naming provider, symbol and path', async () => {
  const wrongType = readJson(YAHOO_1D);
  wrongType.chart.result[0].indicators.quote[0].close[3] = '116.2';
  const srv = await serve((_req, res) => send(res, 200, JSON.stringify(wrongType)));
  try {
    const err = await rejects(() => createYahooChartProvider({ baseUrl: srv.url, runtime: fakeRuntime().runtime }).fetchSince({ symbol: 'AAPL' }));
    assert.is(err.code, 'E_SCHEMA');
    assert.match(err.message, /^yahoo \[AAPL\]: unexpected chart response: .*close\.3/);
  } finally {
    await srv.close();
  }
});

t('yahoo: an invalid symbol is refused before any request', async () => {
  const yahoo = createYahooChartProvider({ baseUrl: 'http://127.0.0.1:9', runtime: fakeRuntime().runtime });
  const err = await rejects(() => yahoo.fetchSince({ symbol: '../../etc' }));
  assert.is(err.code, 'E_INVALID_SYMBOL');
});

t('alpha vantage daily: strings to numbers, ascending dates, the key only in the query', async () => {
  const raw = readJson(AV_DAILY)['Time Series (Daily)'];
  const dates = Object.keys(raw).sort();
  const srv = await serve((_req, res) => sendFile(res, AV_DAILY));
  try {
    const av = createAlphaVantagePriceProvider({ apiKey: AV_KEY, baseUrl: srv.url, runtime: fakeRuntime('2024-06-20T00:00:00Z').runtime });
    const r = await av.fetchSince({ symbol: 'IBM' });
    assertValid(r);
    assert.is(r.items.length, 100);
    const first = raw[dates[0]!];
    assert.equal(r.items[0]!.data, {
      symbol: 'IBM',
      interval: '1d',
      ts: '2024-01-26T00:00:00.000Z',
      open: Number(first['1. open']),
      high: Number(first['2. high']),
      low: Number(first['3. low']),
      close: Number(first['4. close']),
      volume: Number(first['5. volume']),
    });
    assert.is(r.items.at(-1)!.data.ts, '2024-06-18T00:00:00.000Z');
    assert.is(r.items.at(-1)!.data.close, 170.55);
    const q = srv.requests[0]!.query;
    assert.is(q.get('function'), 'TIME_SERIES_DAILY');
    assert.is(q.get('outputsize'), 'full');
    assert.is(q.get('apikey'), AV_KEY);

    const again = await av.fetchSince({ symbol: 'IBM', cursor: r.nextCursor });
    assert.is(again.items.length, 0);
    assert.is(srv.requests[1]!.query.get('outputsize'), 'compact');
  } finally {
    await srv.close();
  }
});

t('alpha vantage intraday: US/Eastern wall-clock keys become UTC bar starts', async () => {
  const srv = await serve((_req, res) => sendFile(res, AV_INTRADAY));
  try {
    const av = createAlphaVantagePriceProvider({
      apiKey: AV_KEY,
      interval: '1m',
      baseUrl: srv.url,
      runtime: fakeRuntime('2017-12-19T00:00:00Z').runtime,
    });
    const r = await av.fetchSince({ symbol: 'MSFT' });
    assertValid(r);
    assert.is(r.items.length, 100);
    // 2017-12-18 is in EST (UTC-5).
    assert.is(r.items[0]!.data.ts, '2017-12-18T18:17:00.000Z');
    assert.is(r.items.at(-1)!.data.ts, '2017-12-18T19:56:00.000Z');
    assert.is(r.items.at(-1)!.data.open, 86.49);
    assert.is(r.items.at(-1)!.data.volume, 10494);
    assert.is(srv.requests[0]!.query.get('interval'), '1min');
  } finally {
    await srv.close();
  }
});

t('alpha vantage Note / Information / Error Message bodies become coded errors without the key', async () => {
  const bodies = [
    { Note: 'Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day.' },
    { Information: 'Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day.' },
    { 'Error Message': 'Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY.' },
    { Information: 'Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints' },
  ];
  const srv = await serve((_req, res, n) => send(res, 200, JSON.stringify(bodies[n - 1])));
  try {
    const av = createAlphaVantagePriceProvider({ apiKey: AV_KEY, baseUrl: srv.url, runtime: fakeRuntime().runtime });
    const codes = [];
    for (let i = 0; i < bodies.length; i++) {
      const err = await rejects(() => av.fetchSince({ symbol: 'IBM' }));
      codes.push([err.code, err.retriable]);
      assert.match(err.message, /^alphavantage \[IBM\]: Alpha Vantage/);
      assert.not.match(err.message, AV_KEY);
    }
    assert.equal(codes, [
      ['E_PROVIDER_LIMIT', true],
      ['E_PROVIDER_LIMIT', true],
      ['E_PROVIDER', false],
      ['E_PROVIDER', false],
    ]);
  } finally {
    await srv.close();
  }
});

/** Fetch until a replay returns nothing; the concatenated items. */
async function drain(p: PriceProvider, symbol: string, cursor?: string) {
  const items = [];
  for (;;) {
    const r = await p.fetchSince({ symbol, cursor });
    if (!r.items.length) return { items, cursor };
    items.push(...r.items);
    cursor = r.nextCursor;
  }
}

function csvRows(file: string): string[][] {
  return readText(file)
    .split(/\r?\n/)
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => l.split(','));
}

t('csv replay: the four bundled-licence files (AAPL, GOOG, MSFT, SPY) parse completely', async () => {
  for (const sym of ['AAPL', 'GOOG', 'MSFT', 'SPY']) {
    const file = shared(`prices/${sym}.csv`);
    const rows = csvRows(file);
    const replay = createCsvReplayProvider({ path: file, runtime: fakeRuntime().runtime });
    const { items } = await drain(replay, sym);
    assert.is(items.length, rows.length, sym);
    // SPY has a leading index column and no Adj Close.
    const [dateCol, openCol, closeCol, volCol] = sym === 'SPY' ? [1, 2, 5, 6] : [0, 1, 4, 6];
    const firstRow = rows[0]!;
    const lastRow = rows.at(-1)!;
    assert.is(items[0]!.data.ts, `${firstRow[dateCol]}T00:00:00.000Z`, sym);
    assert.is(items[0]!.data.open, Number(firstRow[openCol]), sym);
    assert.is(items.at(-1)!.data.close, Number(lastRow[closeCol]), sym);
    assert.is(items.at(-1)!.data.volume, Number(lastRow[volCol]), sym);
    assert.is(items[0]!.data.adjClose, sym === 'SPY' ? undefined : Number(firstRow[5]), sym);
    for (const it of items) assert.ok(RawPriceBar.safeParse(it.data).success);
  }
});

t('csv replay: a directory of the shared files, incl. DJI (newest first, Volume before Adj Close) and 005930.KS', async () => {
  const dir = shared('prices');
  const replay = createCsvReplayProvider({ path: dir, runtime: fakeRuntime().runtime, maxItems: 10_000 });
  const expected = readdirSync(dir).filter((f) => f.endsWith('.csv')).map((f) => f.slice(0, -4)).sort();
  assert.equal((await replay.symbols()).sort(), expected);

  const dji = (await replay.fetchSince({ symbol: 'DJI' })).items;
  const djiRows = csvRows(shared('prices/DJI.csv'));
  assert.is(dji.length, djiRows.length);
  assert.is(dji[0]!.data.ts, '2008-08-08T00:00:00.000Z');
  const oldest = djiRows.at(-1)!; // Date,Open,High,Low,Close,Volume,Adj Close
  assert.is(dji[0]!.data.volume, Number(oldest[5]));
  assert.is(dji[0]!.data.adjClose, Number(oldest[6]));

  const ks = (await replay.fetchSince({ symbol: '005930.KS' })).items;
  assert.is(ks.length, csvRows(shared('prices/005930.KS.csv')).length);
  assert.is(ks.filter((i) => i.data.volume === 0).length, 127);
  assert.is(ks.at(-1)!.data.ts, '2022-04-26T00:00:00.000Z');
});

t('csv replay: a restarted replay resumes from the stored cursor', async () => {
  const file = shared('prices/MSFT.csv');
  const first = createCsvReplayProvider({ path: file, maxItems: 100, runtime: fakeRuntime().runtime });
  const a = await first.fetchSince({ symbol: 'MSFT' });
  assert.is(a.items.length, 100);
  const restarted = createCsvReplayProvider({ path: file, maxItems: 100, runtime: fakeRuntime().runtime });
  const b = await restarted.fetchSince({ symbol: 'MSFT', cursor: a.nextCursor });
  const all = await drain(createCsvReplayProvider({ path: file, runtime: fakeRuntime().runtime }), 'MSFT');
  assert.equal(b.items, all.items.slice(100, 200));
});

t('csv replay speed: N× real time from the first bar after the cursor', async () => {
  const fake = fakeRuntime('2030-01-01T00:00:00Z');
  const file = shared('prices/AAPL.csv');
  const replay = createCsvReplayProvider({ path: file, speed: 86_400, runtime: fake.runtime }); // 1 day of data per second
  const dates = csvRows(file).map((r) => r[0]!);
  const first = await replay.fetchSince({ symbol: 'AAPL' });
  assert.equal(first.items.map((i) => i.data.ts.slice(0, 10)), [dates[0]]); // 2004-08-19 only
  fake.advance(4_000); // data clock: 2004-08-23
  const next = await replay.fetchSince({ symbol: 'AAPL', cursor: first.nextCursor });
  assert.equal(next.items.map((i) => i.data.ts.slice(0, 10)), dates.filter((d) => d > dates[0]! && d <= '2004-08-23'));
  const none = await replay.fetchSince({ symbol: 'AAPL', cursor: next.nextCursor });
  assert.is(none.items.length, 0);
});

t('synthetic: seeded, deterministic across call patterns, valid OHLC, synthetic: true', async () => {
  const opts = { seed: 42, start: '2024-01-01', runtime: fakeRuntime('2024-12-31T00:00:00Z').runtime, maxItems: 10_000 };
  const a = await createSyntheticProvider(opts).fetchSince({ symbol: 'SYN' });
  const b = await createSyntheticProvider(opts).fetchSince({ symbol: 'SYN' });
  assert.ok(a.items.length > 250);
  assert.equal(a.items, b.items);
  for (const it of a.items) {
    assert.is(it.data.synthetic, true);
    assert.ok(RawPriceBar.safeParse(it.data).success);
    assert.ok(it.data.low <= Math.min(it.data.open, it.data.close) && it.data.high >= Math.max(it.data.open, it.data.close));
    assert.not.ok([0, 6].includes(new Date(it.data.ts).getUTCDay()));
  }
  const p = createSyntheticProvider({ ...opts, maxItems: 50 });
  const chunked = await drain(p, 'SYN');
  assert.equal(chunked.items, a.items);
  assert.is(p.name, 'synthetic');

  const other = await createSyntheticProvider({ ...opts, seed: 43 }).fetchSince({ symbol: 'SYN' });
  assert.not.equal(other.items[10]!.data.close, a.items[10]!.data.close);
  const otherSymbol = await createSyntheticProvider(opts).fetchSince({ symbol: 'SYN2' });
  assert.not.equal(otherSymbol.items[10]!.data.close, a.items[10]!.data.close);
});

t('synthetic intraday: bars every interval up to the clock, no future bars', async () => {
  const fake = fakeRuntime('2024-03-01T01:00:00Z');
  const p = createSyntheticProvider({ seed: 'x', start: '2024-03-01T00:00:00Z', interval: '5m', runtime: fake.runtime });
  const r = await p.fetchSince({ symbol: 'SYN' });
  assert.is(r.items.length, 13);
  assert.is(r.items.at(-1)!.data.ts, '2024-03-01T01:00:00.000Z');
  fake.advance(600_000);
  const more = await p.fetchSince({ symbol: 'SYN', cursor: r.nextCursor });
  assert.equal(more.items.map((i) => i.data.ts), ['2024-03-01T01:05:00.000Z', '2024-03-01T01:10:00.000Z']);
});

t.run();
