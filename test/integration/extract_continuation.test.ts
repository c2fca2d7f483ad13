/**
 * The extractor service after its replay, real broker and database: a short CSV is replayed,
 * then the symbol keeps streaming synthetic bars (EXTRACT_AFTER_REPLAY=synthetic), and the
 * bundled news fixtures are replayed (EXTRACT_NEWS_REPLAY_PATH). The process is killed between a
 * publish and its cursor write (EXTRACT_FAULT, once for the news and once for the synthetic
 * stream) and by a SIGKILL from outside; afterwards the raw topics hold every replayed bar once,
 * a synthetic continuation without gap or duplicate, and every recorded article exactly once.
 */
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveTopics } from '@stock-mlops/contracts';
import { suite } from '../harness/index.ts';
import { waitFor, withStack } from '../support/stack.ts';
import { envelopeOf, readTopic, ROOT, topicCount } from '../support/extractor.ts';

const t = suite('extractor: synthetic continuation and news replay, exactly once across SIGKILLs', { timeoutMs: 240_000 });

const REPLAYED = 30;
const NEWS_FILES = ['data/fixtures/newsapi_v2_everything_business_2020-02-22.json', 'data/fixtures/yahoo_v1_search_AAPL_quotes_and_news.json'];
const FAULT_AT = '2017-09-12';

type Bar = { eventId: string; source: string; data: { symbol: string; ts: string; open: number; close: number; synthetic?: boolean } };
type Article = { eventId: string; source: string; data: { id: string; tickers: string[] } };

const nextWeekday = (ts: string) => {
  let t = Date.parse(ts) + 86_400_000;
  while ([0, 6].includes(new Date(t).getUTCDay())) t += 86_400_000;
  return new Date(t).toISOString();
};

t('replay, then synthetic bars labelled synthetic; news once; no gap and no duplicate after SIGKILLs', async () => {
  const lines = readFileSync(path.join(ROOT, 'data/prices/MSFT.csv'), 'utf8').trim().split('\n');
  const dir = mkdtempSync(path.join(tmpdir(), 'stock-mlops-continuation-'));
  writeFileSync(path.join(dir, 'MSFT.csv'), [lines[0], ...lines.slice(-REPLAYED)].join('\n') + '\n');
  const csvTimes = lines.slice(-REPLAYED).map((l) => `${l.split(',')[0]}T00:00:00.000Z`);

  await withStack({
    services: ['extractor'],
    restart: true,
    env: {
      EXTRACT_REPLAY_PATH: dir,
      EXTRACT_SYMBOLS: 'MSFT,AAPL',
      EXTRACT_POLL_MS: '200',
      EXTRACT_AFTER_REPLAY: 'synthetic',
      EXTRACT_AFTER_REPLAY_INTERVAL: '200ms',
      EXTRACT_NEWS_REPLAY_PATH: NEWS_FILES.join(','),
      EXTRACT_FAULT: `crash-after-publishing:${FAULT_AT}`,
    },
    logLines: 120,
  }, async (stack) => {
    const topics = resolveTopics(stack.prefix);
    const count = (re: RegExp) => stack.logs.filter((l) => re.test(l)).length;
    // The fault fires for the first news page (dated after FAULT_AT) and for the synthetic bar
    // that reaches FAULT_AT; each restart finds those events on the topic instead of re-sending.
    await waitFor('two injected crashes and restarts', () => (count(/EXTRACT_FAULT: killing/) >= 2 && count(/\[supervisor\] restarting extractor/) >= 2) || undefined, 120_000, 100);
    await waitFor('the recovery after the second crash', () => count(/found events published beyond the saved cursor/) >= 2 || undefined, 60_000, 100);

    const atKill = await waitFor('synthetic bars beyond the fault date', async () => {
      const n = await topicCount(topics.rawPrices);
      return n >= REPLAYED + 12 ? n : undefined;
    }, 60_000, 200);
    const pid = stack.sup.pid('extractor');
    stack.sup.kill('extractor');
    await waitFor('a new extractor process', () => (stack.sup.pid('extractor') !== pid ? true : undefined), 20_000, 100);
    await waitFor('the stream to go on after the SIGKILL', async () => ((await topicCount(topics.rawPrices)) >= atKill + 8 ? true : undefined), 60_000, 200);

    const bars = (await readTopic(topics.rawPrices)).map((r) => envelopeOf(r) as unknown as Bar);
    const ids = bars.map((b) => b.eventId);
    assert.is(new Set(ids).size, ids.length, 'no event twice on the raw price topic');
    const replayed = bars.filter((b) => b.source === 'csv-replay');
    assert.equal(replayed.map((b) => b.data.ts), csvTimes, 'every replayed bar once, in order');
    const synthetic = bars.filter((b) => b.source === 'synthetic');
    assert.is(replayed.length + synthetic.length, bars.length);
    assert.ok(synthetic.length >= 20, `${synthetic.length} synthetic bars`);
    assert.ok(synthetic.every((b) => b.data.synthetic === true && b.data.symbol === 'MSFT'), 'labelled synthetic in the bar too');
    // Continuous: the next weekday after the last replayed bar, then every weekday, no gap.
    let prev = csvTimes.at(-1)!;
    for (const b of synthetic) {
      assert.is(b.data.ts, nextWeekday(prev), `after ${prev}`);
      prev = b.data.ts;
    }
    const lastClose = Number(lines.at(-1)!.split(',')[4]);
    assert.ok(Math.abs(synthetic[0]!.data.open / lastClose - 1) < 0.01, 'the price level continues from the last close');
    // All replayed bars precede the synthetic ones on the (single) partition.
    const order = bars.map((b) => b.source);
    assert.is(order.lastIndexOf('csv-replay') < order.indexOf('synthetic'), true);

    const news = (await readTopic(topics.rawNews)).map((r) => JSON.parse(r.value) as Article);
    assert.is(news.length, 24, 'the 20 NewsAPI and 4 Yahoo articles');
    assert.is(new Set(news.map((a) => a.eventId)).size, 24, 'each exactly once');
    assert.ok(news.every((a) => a.source === 'news-replay'));
    assert.is(news.filter((a) => a.data.tickers.join() === 'AAPL').length, 3, 'Yahoo articles about AAPL keep AAPL');
    assert.is(news.filter((a) => a.data.tickers.join() === 'SPY').length, 21, 'the rest go to the default ticker');
  });
});

t.run();
