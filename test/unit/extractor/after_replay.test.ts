/**
 * EXTRACT_AFTER_REPLAY and EXTRACT_NEWS_REPLAY_PATH from env to tasks: validation naming the
 * variable, the continuation tasks per replayed symbol, the gate on the replay's end, the sticky
 * choice between live and synthetic, and the offline fallback.
 */
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import path from 'node:path';
import pino from 'pino';
import { ConfigError, loadConfig } from '@stock-mlops/platform';
import type { CsvReplayProvider } from '@stock-mlops/extract/prices/csv_replay';
import type { PriceProvider } from '@stock-mlops/extract/provider';
import { suite } from '../../harness/index.ts';
import { planContinuation } from '../../../services/extractor/src/after_replay.ts';
import type { TaskState, TaskStateStore } from '@stock-mlops/extract/extract_loop';
import { buildTasks, ProviderEnv, resolveProviderSettings } from '@stock-mlops/extract/provider_settings';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const t = suite('extractor/after_replay: what follows the replay');
const log = pino({ level: 'silent' });

const settingsOf = (env: Record<string, string>) => resolveProviderSettings(loadConfig(ProviderEnv, { EXTRACT_REPLAY_PATH: path.join(ROOT, 'data/prices'), ...env }));

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.unreachable('expected a ConfigError');
  return [];
}

function memoryStore(initial: Record<string, TaskState> = {}): TaskStateStore {
  const states = new Map(Object.entries(initial));
  return {
    get: async (p, s) => states.get(`${p}|${s}`),
    set: async (p, s, st) => void states.set(`${p}|${s}`, st),
  };
}

async function plan(env: Record<string, string>, store: TaskStateStore) {
  const settings = settingsOf(env);
  const { registry, tasks } = await buildTasks(settings);
  const replay = registry.get('csv-replay') as CsvReplayProvider;
  const symbols = tasks.filter((x) => x.provider === replay).map((x) => x.symbol);
  return planContinuation({ settings: settings.afterReplay, replay, symbols, store, log, probeTimeoutMs: 2_000 });
}

t('defaults: stop, 1 s pace; bad values and conflicting providers name EXTRACT_AFTER_REPLAY', async () => {
  const s = settingsOf({});
  assert.equal([s.afterReplay.mode, s.afterReplay.paceMs], ['stop', 1000]);
  assert.equal(await plan({}, memoryStore()), []);
  assert.match(problemsOf(() => settingsOf({ EXTRACT_AFTER_REPLAY: 'forever' })).join('\n'), /EXTRACT_AFTER_REPLAY/);
  assert.match(problemsOf(() => settingsOf({ EXTRACT_AFTER_REPLAY_INTERVAL: '5' })).join('\n'), /EXTRACT_AFTER_REPLAY_INTERVAL: "5" is not a duration >= 100ms/);
  assert.match(problemsOf(() => settingsOf({ EXTRACT_AFTER_REPLAY: 'synthetic', EXTRACT_PROVIDERS: 'yahoo', EXTRACT_SYMBOLS: 'AAPL' })).join('\n'), /EXTRACT_AFTER_REPLAY: .*EXTRACT_PROVIDERS must include csv/);
  assert.match(problemsOf(() => settingsOf({ EXTRACT_AFTER_REPLAY: 'synthetic', EXTRACT_PROVIDERS: 'csv,synthetic' })).join('\n'), /synthetic\|SYMBOL/);
  assert.match(problemsOf(() => settingsOf({ EXTRACT_AFTER_REPLAY: 'live', EXTRACT_PROVIDERS: 'csv,yahoo', EXTRACT_SYMBOLS: 'AAPL' })).join('\n'), /yahoo-chart\|SYMBOL/);
  assert.match(problemsOf(() => settingsOf({ EXTRACT_PROVIDERS: 'csv,news-replay' })).join('\n'), /EXTRACT_NEWS_REPLAY_PATH: required/);
});

t('synthetic: one paced task per replayed symbol, idle until the replay reached the last bar', async () => {
  const store = memoryStore({ 'csv-replay|MSFT': { cursor: '2017-08-31T00:00:00.000Z' } });
  const tasks = await plan({ EXTRACT_AFTER_REPLAY: 'synthetic', EXTRACT_AFTER_REPLAY_INTERVAL: '2s', EXTRACT_SYMBOLS: 'MSFT,SPY' }, store);
  assert.equal(tasks.map((x) => `${x.provider.name}:${x.symbol}@${x.intervalMs}:${x.paced}`), ['synthetic:MSFT@2000:true', 'synthetic:SPY@2000:true']);
  const msft = tasks[0]!;
  assert.is(await msft.ready(), false, 'one bar before the end of MSFT.csv');
  await store.set('csv-replay', 'MSFT', { cursor: '2017-09-01T00:00:00.000Z' });
  assert.is(await msft.ready(), true);
  assert.is(await tasks[1]!.ready(), false, 'SPY not replayed at all');
  const first = await (msft.provider as PriceProvider).fetchSince({ symbol: 'MSFT' });
  assert.is(first.items.length, 1, 'one bar per run');
  assert.equal([first.items[0]!.data.ts, first.items[0]!.data.synthetic], ['2017-09-04T00:00:00.000Z', true]);
});

t('live-or-synthetic: offline → synthetic; online → live; a symbol keeps the source it already has', async () => {
  // Nothing listens on this port: the probe fails fast, as without a network.
  const offline = await plan({ EXTRACT_AFTER_REPLAY: 'live-or-synthetic', EXTRACT_SYMBOLS: 'MSFT', EXTRACT_YAHOO_BASE_URL: 'http://127.0.0.1:9', EXTRACT_HTTP_TIMEOUT_MS: '500' }, memoryStore());
  assert.equal(offline.map((x) => `${x.provider.name}:${x.symbol}:${x.paced}`), ['synthetic:MSFT:true']);

  const body = JSON.stringify({ chart: { result: [{ meta: { currency: 'USD', symbol: 'MSFT', exchangeTimezoneName: 'America/New_York' }, timestamp: [], indicators: { quote: [{}] } }], error: null } });
  const srv = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    const env = { EXTRACT_AFTER_REPLAY: 'live-or-synthetic', EXTRACT_SYMBOLS: 'MSFT,SPY', EXTRACT_YAHOO_BASE_URL: url, EXTRACT_POLL_INTERVALS: 'yahoo=30s' };
    const online = await plan(env, memoryStore({ 'synthetic|SPY': { cursor: '2020-09-01T00:00:00.000Z' } }));
    assert.equal(online.map((x) => `${x.provider.name}:${x.symbol}@${x.intervalMs}:${x.paced}`), ['yahoo-chart:MSFT@30000:false', 'synthetic:SPY@1000:true']);
  } finally {
    srv.close();
  }
  const sticky = await plan({ EXTRACT_AFTER_REPLAY: 'live-or-synthetic', EXTRACT_SYMBOLS: 'MSFT', EXTRACT_YAHOO_BASE_URL: 'http://127.0.0.1:9' }, memoryStore({ 'yahoo-chart|MSFT': { cursor: '2024-03-06T00:00:00.000Z' } }));
  assert.equal(sticky.map((x) => x.provider.name), ['yahoo-chart'], 'live cursor kept even while offline');
});

t('EXTRACT_NEWS_REPLAY_PATH enables the news replay: one task per owning symbol of the CSV universe', async () => {
  const env = { EXTRACT_NEWS_REPLAY_PATH: 'data/fixtures/newsapi_v2_everything_business_2020-02-22.json,data/fixtures/yahoo_v1_search_AAPL_quotes_and_news.json' };
  const s = settingsOf(env);
  assert.ok(s.types.includes('news-replay'));
  const names = (await buildTasks(s)).tasks.map((x) => `${x.provider.name}:${x.symbol}`).sort();
  assert.equal(names.filter((n) => n.startsWith('news-replay')), ['news-replay:AAPL', 'news-replay:SPY']);
  const msftOnly = (await buildTasks(settingsOf({ ...env, EXTRACT_SYMBOLS: 'MSFT', EXTRACT_NEWS_REPLAY_TICKERS: 'MSFT' }))).tasks.map((x) => `${x.provider.name}:${x.symbol}`);
  assert.equal(msftOnly.sort(), ['csv-replay:MSFT', 'news-replay:MSFT']);
});

t.run();
