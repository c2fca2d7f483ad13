import * as assert from 'uvu/assert';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createJsonFileCursorStore,
  createMemoryCursorStore,
  createProviderRegistry,
  nextCursor,
  parseCursor,
  parseExactAmount,
  redact,
  sliceAfter,
  zonedTimeToUtc,
  parseZonedDateTime,
} from '@stock-mlops/extract';
import { suite } from '../../harness/index.ts';
import { fakeRuntime, rejects, sendFile, serve, shared } from '../../support/extract.ts';

const t = suite('extract/core');

t('zoned time → UTC follows DST (New York), including the transition days', () => {
  const ny = 'America/New_York';
  assert.is(new Date(parseZonedDateTime('2017-12-18 14:56:00', 'US/Eastern')).toISOString(), '2017-12-18T19:56:00.000Z');
  assert.is(new Date(parseZonedDateTime('2024-07-01 09:30:00', ny)).toISOString(), '2024-07-01T13:30:00.000Z');
  assert.is(new Date(parseZonedDateTime('2024-03-10 01:59:00', ny)).toISOString(), '2024-03-10T06:59:00.000Z');
  assert.is(new Date(parseZonedDateTime('2024-03-10 03:00:00', ny)).toISOString(), '2024-03-10T07:00:00.000Z');
  // 02:30 does not exist on 2024-03-10: read as if the clock had not moved (EST).
  assert.is(new Date(parseZonedDateTime('2024-03-10 02:30:00', ny)).toISOString(), '2024-03-10T07:30:00.000Z');
  // 01:30 happens twice on 2024-11-03: the earlier (EDT) instant.
  assert.is(new Date(parseZonedDateTime('2024-11-03 01:30:00', ny)).toISOString(), '2024-11-03T05:30:00.000Z');
  assert.is(new Date(zonedTimeToUtc({ year: 2024, month: 11, day: 4, hour: 9, minute: 30 }, ny)).toISOString(), '2024-11-04T14:30:00.000Z');
  assert.is(new Date(parseZonedDateTime('2022-04-26 09:00:00', 'Asia/Seoul')).toISOString(), '2022-04-26T00:00:00.000Z');
  assert.ok(Number.isNaN(parseZonedDateTime('2024-02-30', ny)));
});

t('cursor: strictly after the time, with tie-break keys for items sharing it', () => {
  const items = [
    { t: '2025-01-31T10:06:00.000Z', k: 'b' },
    { t: '2025-01-31T10:00:00.000Z', k: 'a' },
    { t: '2025-01-31T10:06:00.000Z', k: 'c' },
  ];
  const acc = { time: (i: (typeof items)[number]) => i.t, key: (i: (typeof items)[number]) => i.k };
  const all = sliceAfter(items, undefined, undefined, acc);
  assert.equal(all.map((i) => i.k), ['a', 'b', 'c']);
  const c1 = nextCursor(all.slice(0, 2), undefined, acc);
  assert.is(c1, '2025-01-31T10:06:00.000Z|b');
  assert.equal(sliceAfter(items, c1, undefined, acc).map((i) => i.k), ['c']);
  const c2 = nextCursor(['c'].map((k) => items.find((i) => i.k === k)!), c1, acc);
  assert.is(c2, '2025-01-31T10:06:00.000Z|b,c');
  assert.equal(sliceAfter(items, c2, undefined, acc), []);
  assert.is(nextCursor([], c2, acc), c2);
  // A bare time means everything at that time was seen.
  assert.equal(sliceAfter(items, '2025-01-31T10:06:00.000Z', undefined, acc), []);
  assert.equal(sliceAfter(items, undefined, new Date('2025-01-31T10:00:00Z'), acc).map((i) => i.k), ['a']);
});

t('cursor: garbage is E_CURSOR', async () => {
  const err = await rejects(async () => parseCursor('yesterday', 'yahoo', 'AAPL'));
  assert.is(err.code, 'E_CURSOR');
  assert.match(err.message, /^yahoo \[AAPL\]:/);
});

t('redact: secret query parameters and literal secrets', () => {
  const s = redact('GET https://x/api?crtfc_key=abc123&corp_code=1&apikey=Z9&api_key=q&token=t#f and header K3Y-VALUE', ['K3Y-VALUE']);
  assert.is(s, 'GET https://x/api?crtfc_key=***&corp_code=1&apikey=***&api_key=***&token=***#f and header ***');
});

t('parseExactAmount: separators, negatives, blanks, and refusal beyond 2^53', () => {
  assert.equal(parseExactAmount('195,936,557,000,000'), { ok: true, value: 195_936_557_000_000 });
  assert.equal(parseExactAmount('-1,234'), { ok: true, value: -1234 });
  assert.equal(parseExactAmount('(1,234)'), { ok: true, value: -1234 });
  assert.equal(parseExactAmount('1.25'), { ok: true, value: 1.25 });
  assert.is(parseExactAmount(''), undefined);
  assert.is(parseExactAmount('-'), undefined);
  assert.equal(parseExactAmount('9,007,199,254,740,991'), { ok: true, value: Number.MAX_SAFE_INTEGER });
  assert.is(parseExactAmount('9,007,199,254,740,992')?.ok, false);
  assert.is(parseExactAmount('12a')?.ok, false);
});

t('memory cursor store', async () => {
  const store = createMemoryCursorStore({ yahoo: { AAPL: '2020-01-01T00:00:00.000Z' } });
  assert.is(await store.get('yahoo', 'AAPL'), '2020-01-01T00:00:00.000Z');
  await store.set('yahoo', 'MSFT', 'x');
  assert.is(await store.get('yahoo', 'MSFT'), 'x');
  assert.is(await store.get('edgar', 'AAPL'), undefined);
  assert.is((await rejects(() => store.set('__proto__', 'AAPL', 'x'))).code, 'E_CURSOR');
});

t('json-file cursor store: survives a restart, writes atomically, refuses a corrupt file', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'extract-cursors-'));
  try {
    const file = path.join(dir, 'nested', 'cursors.json');
    const a = createJsonFileCursorStore(file);
    assert.is(await a.get('yahoo', 'AAPL'), undefined);
    await Promise.all([a.set('yahoo', 'AAPL', 'c1'), a.set('yahoo', 'MSFT', 'c2'), a.set('sec-edgar', 'AAPL', '2025-10-31|acc')]);
    const b = createJsonFileCursorStore(file);
    assert.is(await b.get('yahoo', 'AAPL'), 'c1');
    assert.is(await b.get('yahoo', 'MSFT'), 'c2');
    assert.is(await b.get('sec-edgar', 'AAPL'), '2025-10-31|acc');
    assert.is(await b.get('yahoo', 'constructor'), undefined);
    assert.equal(await readdir(path.dirname(file)), ['cursors.json']);
    assert.equal(JSON.parse(await readFile(file, 'utf8')).version, 1);

    await writeFile(file, '{"version":1,"cursors":');
    const err = await rejects(() => createJsonFileCursorStore(file).get('yahoo', 'AAPL'));
    assert.is(err.code, 'E_CURSOR');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const registryConfig = {
  providers: {
    yahoo: { type: 'yahoo-chart' as const },
    av: { type: 'alphavantage-prices' as const, apiKey: 'k-12345', rateLimitGroup: 'alphavantage' },
    'av-news': { type: 'alphavantage-news' as const, apiKey: 'k-12345', rateLimitGroup: 'alphavantage' },
    edgar: { type: 'sec-edgar' as const, userAgent: 'tests t@example.com', ciks: { AAPL: 320193 } },
    dart: { type: 'opendart' as const, apiKey: 'd-12345', corpCodes: { '005930.KS': '00126380' } },
    replay: { type: 'csv-replay' as const, path: shared('prices') },
  },
  rateLimitGroups: { alphavantage: { capacity: 5, refillPerSec: 5 / 60 } },
  routes: {
    prices: { US: ['yahoo', 'av'], KR: ['yahoo'] },
    financials: { US: ['edgar'], KR: ['dart'] },
    news: { '*': ['av-news'] },
  },
  symbols: { SPY: { prices: ['replay'] } },
};

t('registry: providers by market (.KS/.KQ → KR) and per-symbol overrides', () => {
  const reg = createProviderRegistry(registryConfig, { runtime: fakeRuntime().runtime });
  assert.is(reg.marketOf('005930.KS'), 'KR');
  assert.is(reg.marketOf('035720.KQ'), 'KR');
  assert.is(reg.marketOf('AAPL'), 'US');
  assert.equal(reg.select('financials', '005930.KS').map((p) => p.name), ['dart']);
  assert.equal(reg.select('financials', 'AAPL').map((p) => p.name), ['edgar']);
  assert.equal(reg.select('prices', 'AAPL').map((p) => p.name), ['yahoo', 'av']);
  assert.equal(reg.select('prices', '005930.KS').map((p) => p.name), ['yahoo']);
  assert.equal(reg.select('prices', 'SPY').map((p) => p.name), ['replay']);
  assert.equal(reg.select('news', '005930.KS').map((p) => p.name), ['av-news']);
  assert.is(reg.get('edgar')?.kind, 'financials');
  assert.is(reg.list().length, 6);
});

t('registry: configuration mistakes are E_CONFIG', async () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ ...registryConfig, routes: { prices: { US: ['nope'] } } }, /unknown provider "nope"/],
    [{ ...registryConfig, routes: { prices: { US: ['edgar'] } } }, /a financials provider, under prices/],
    [{ ...registryConfig, providers: { x: { type: 'ftp' } }, routes: {} }, /unknown provider type "ftp"/],
    [{ ...registryConfig, providers: { x: { type: 'yahoo-chart', rateLimitGroup: 'none' } }, routes: {} }, /unknown rateLimitGroup/],
    [{ ...registryConfig, providers: { edgar: { type: 'sec-edgar', ciks: {} } }, routes: {} }, /userAgent/],
  ];
  for (const [config, re] of cases) {
    const err = await rejects(async () => createProviderRegistry(config as never));
    assert.is(err.code, 'E_CONFIG');
    assert.match(err.message, re);
  }
});

t('registry: injected fetch/runtime/onEvent reach the providers', async () => {
  const srv = await serve((_req, res) => sendFile(res, shared('fixtures/yahoo_v8_chart_AAPL_1d_2020-08-31_to_2020-11-07.json')));
  try {
    const events: string[] = [];
    const reg = createProviderRegistry(
      { providers: { yahoo: { type: 'yahoo-chart', baseUrl: srv.url } }, routes: { prices: { US: ['yahoo'] } } },
      { runtime: fakeRuntime().runtime, onEvent: (e) => events.push(`${e.provider}:${e.outcome}`) },
    );
    const [yahoo] = reg.select('prices', 'AAPL');
    const r = await yahoo!.fetchSince({ symbol: 'AAPL' });
    assert.is(r.items.length, 49);
    assert.equal(events, ['yahoo:ok']);
  } finally {
    await srv.close();
  }
});

t.run();
