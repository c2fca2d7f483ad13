/**
 * The synthetic continuation of a replayed symbol (synthetic provider with `anchor`) and the
 * replay of the bundled news fixtures: continuity with the last real bar, determinism,
 * business days, the `synthetic` label; each recorded article published by exactly one task.
 */
import * as assert from 'uvu/assert';
import path from 'node:path';
import { RawPriceBar } from '@stock-mlops/contracts';
import { createCsvReplayProvider, createNewsReplayProvider, createSyntheticProvider, type FetchResult, type PriceProvider, type SyntheticAnchor } from '@stock-mlops/extract';
import { suite } from '../../harness/index.ts';
import { fakeRuntime } from '../../support/extract.ts';

const t = suite('extract/continuation: synthetic after the replay, news fixtures replayed');
const ROOT = path.resolve(import.meta.dirname, '../../..');
const NEWSAPI = path.join(ROOT, 'data/fixtures/newsapi_v2_everything_business_2020-02-22.json');
const YAHOO = path.join(ROOT, 'data/fixtures/yahoo_v1_search_AAPL_quotes_and_news.json');

// AAPL's last bundled bar (a Friday).
const AAPL_LAST: SyntheticAnchor = { ts: '2018-01-19T00:00:00.000Z', close: 178.460007, adjClose: 178.460007, volume: 31269600 };
const continuation = (anchor: SyntheticAnchor | undefined, now = '2018-06-01T00:00:00Z', maxItems = 10_000) =>
  createSyntheticProvider({ seed: '42', anchor: async () => anchor, maxItems, runtime: fakeRuntime(now).runtime });

async function drain<T>(fetch: (cursor: string | undefined) => Promise<FetchResult<T>>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 10_000; i++) {
    const r = await fetch(cursor);
    if (r.items.length === 0) break;
    out.push(...r.items.map((x) => x.data));
    cursor = r.nextCursor;
  }
  return out;
}

t('the continuation starts the next business day from the last close, price level continuous', async () => {
  const r = await continuation(AAPL_LAST).fetchSince({ symbol: 'AAPL' });
  const first = r.items[0]!.data;
  assert.is(first.ts, '2018-01-22T00:00:00.000Z', 'Friday 2018-01-19 → Monday 2018-01-22');
  assert.ok(Math.abs(first.open / AAPL_LAST.close - 1) < 0.01, `first open ${first.open} within 1 % of the last close`);
  for (let i = 1; i < r.items.length; i++) {
    const prev = r.items[i - 1]!.data;
    const bar = r.items[i]!.data;
    assert.ok(Math.abs(bar.open / prev.close - 1) < 0.02, `${bar.ts}: open ${bar.open} continues close ${prev.close}`);
    assert.ok(Math.abs(Math.log(bar.close / prev.close)) < 0.15, `${bar.ts}: no jump`);
  }
  // Mean volume follows the anchor's (tens of millions for AAPL, not the default million).
  const meanVolume = r.items.reduce((s, x) => s + x.data.volume, 0) / r.items.length;
  assert.ok(meanVolume > 15e6 && meanVolume < 60e6, `mean volume ${meanVolume}`);
});

t('business days only, consecutive, nothing after the clock, labelled synthetic, valid bars', async () => {
  const p = continuation(AAPL_LAST, '2018-03-01T12:00:00Z');
  const r = await p.fetchSince({ symbol: 'AAPL' });
  assert.is(p.name, 'synthetic');
  let t0 = Date.parse(AAPL_LAST.ts);
  for (const { data } of r.items) {
    let next = t0 + 86_400_000;
    while ([0, 6].includes(new Date(next).getUTCDay())) next += 86_400_000;
    assert.is(data.ts, new Date(next).toISOString(), 'the next weekday, no gap');
    t0 = next;
    assert.is(data.synthetic, true);
    assert.ok(RawPriceBar.safeParse(data).success, JSON.stringify(data));
    assert.ok(data.low <= Math.min(data.open, data.close) && data.high >= Math.max(data.open, data.close));
    assert.is(data.adjClose, data.close, 'adjClose/close of the anchor (1 here) is kept');
  }
  assert.is(r.items.at(-1)!.data.ts, '2018-03-01T00:00:00.000Z', 'up to the clock, not beyond');
});

t('deterministic: one bar per fetch, a new process, or one big fetch give the same series', async () => {
  const whole = (await continuation(AAPL_LAST).fetchSince({ symbol: 'AAPL' })).items.map((x) => x.data);
  const paced = continuation(AAPL_LAST, '2018-06-01T00:00:00Z', 1);
  const oneByOne = await drain((cursor) => paced.fetchSince({ symbol: 'AAPL', cursor }));
  assert.equal(oneByOne, whole);
  // A restart: a fresh provider given a cursor in the middle continues with exactly the next bar.
  const cursor = whole[40]!.ts;
  const resumed = await continuation(AAPL_LAST, '2018-06-01T00:00:00Z', 1).fetchSince({ symbol: 'AAPL', cursor });
  assert.equal(resumed.items.map((x) => x.data), [whole[41]!]);

  const otherSeed = await createSyntheticProvider({ seed: '43', anchor: async () => AAPL_LAST, runtime: fakeRuntime('2018-06-01T00:00:00Z').runtime }).fetchSince({ symbol: 'AAPL' });
  assert.not.equal(otherSeed.items[5]!.data.close, whole[5]!.close);
  const otherSymbol = await continuation(AAPL_LAST).fetchSince({ symbol: 'MSFT' });
  assert.not.equal(otherSymbol.items[5]!.data.close, whole[5]!.close);
});

t('the adjusted level continues too: adjClose/close of the last bar is carried', async () => {
  const r = await continuation({ ts: '2017-09-01T00:00:00.000Z', close: 80, adjClose: 60, volume: 1000 }).fetchSince({ symbol: 'MSFT' });
  for (const { data } of r.items) assert.ok(Math.abs(data.adjClose! / data.close - 0.75) < 1e-3);
  const noAdj = await continuation({ ts: '2020-08-28T00:00:00.000Z', close: 350.58 }, '2020-09-30T00:00:00Z').fetchSince({ symbol: 'SPY' });
  assert.ok(noAdj.items.every((x) => x.data.adjClose === undefined));
});

t('from a real CSV: anchored at the replay provider last bar; a symbol without one is E_CONFIG', async () => {
  const csv = createCsvReplayProvider({ path: path.join(ROOT, 'data/prices') });
  const last = await csv.lastBar('SPY');
  assert.equal(last && { ts: last.ts, close: last.close }, { ts: '2020-08-28T00:00:00.000Z', close: 350.58 });
  const p: PriceProvider = createSyntheticProvider({ seed: 1, anchor: (s) => csv.lastBar(s), runtime: fakeRuntime('2020-09-10T00:00:00Z').runtime });
  const r = await p.fetchSince({ symbol: 'SPY' });
  assert.equal(r.items.map((x) => x.data.ts.slice(0, 10)), ['2020-08-31', '2020-09-01', '2020-09-02', '2020-09-03', '2020-09-04', '2020-09-07', '2020-09-08', '2020-09-09', '2020-09-10']);
  const err = await continuation(undefined).fetchSince({ symbol: 'ZZZ' }).catch((e: unknown) => e as { code?: string });
  assert.is((err as { code?: string }).code, 'E_CONFIG');
});

t('news replay: the two bundled fixtures, tickers mapped to known symbols, each article owned by one task', async () => {
  const p = createNewsReplayProvider({ files: [NEWSAPI, YAHOO], symbols: ['AAPL', 'GOOG', 'MSFT', 'SPY'], defaultTickers: ['SPY'] });
  assert.is(p.name, 'news-replay');
  assert.equal(await p.symbols(), ['AAPL', 'SPY']);
  const spy = await drain((cursor) => p.fetchSince({ symbol: 'SPY', cursor }));
  const aapl = await drain((cursor) => p.fetchSince({ symbol: 'AAPL', cursor }));
  assert.is(spy.length, 20 + 1, 'the 20 NewsAPI business headlines and the untagged Yahoo one go to the default ticker');
  assert.ok(spy.every((a) => a.tickers.join() === 'SPY'));
  assert.is(aapl.length, 3, 'three Yahoo articles name AAPL');
  assert.ok(aapl.every((a) => a.tickers.join() === 'AAPL'), 'unknown tickers (TSM, SSNLF, TWTR) are dropped');
  const ids = [...spy, ...aapl].map((a) => a.id);
  assert.is(new Set(ids).size, ids.length, 'no article twice');
  assert.ok(spy.some((a) => a.publishedAt.startsWith('2020-02-22')));
  assert.equal((await p.fetchSince({ symbol: 'GOOG' })).items, [], 'a symbol owning nothing gets nothing');
});

t('news replay: without a universe tickers are kept; without defaults untagged articles are left out', async () => {
  const p = createNewsReplayProvider({ files: [YAHOO, NEWSAPI] });
  const owners = await p.symbols();
  assert.ok(owners.includes('AAPL') && !owners.includes('SPY'));
  const all = (await Promise.all(owners.map((s) => drain((cursor) => p.fetchSince({ symbol: s, cursor }))))).flat();
  assert.is(all.length, 3);
  assert.ok(all.some((a) => a.tickers.includes('TSM')));
  const bad = await createNewsReplayProvider({ files: [path.join(ROOT, 'data/prices/SPY.csv')] }).symbols().catch((e: unknown) => e as { code?: string });
  assert.is((bad as { code?: string }).code, 'E_IO');
});

t.run();
