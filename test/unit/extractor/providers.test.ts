import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import path from 'node:path';
import pino from 'pino';
import { ConfigError, loadConfig, REDACT_PATHS } from '@stock-mlops/platform';
import { suite } from '../../harness/index.ts';
import {
  buildTasks,
  describeSettings,
  parseDuration,
  ProviderEnv,
  resolveProviderSettings,
  withSecretRedaction,
} from '@stock-mlops/extract/provider_settings';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const t = suite('extractor/providers: env → providers → tasks');

const settingsOf = (env: Record<string, string>) => resolveProviderSettings(loadConfig(ProviderEnv, { EXTRACT_REPLAY_PATH: path.join(ROOT, 'data/prices'), ...env }));
const taskNames = async (env: Record<string, string>) => (await buildTasks(settingsOf(env))).tasks.map((x) => `${x.provider.name}:${x.symbol}@${x.intervalMs}`).sort();

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

t('defaults: CSV replay of every bundled file, polled every EXTRACT_POLL_MS', async () => {
  assert.equal(await taskNames({}), ['csv-replay:AAPL@5000', 'csv-replay:GOOG@5000', 'csv-replay:MSFT@5000', 'csv-replay:SPY@5000']);
  assert.equal(await taskNames({ EXTRACT_SYMBOLS: 'MSFT,SPY', EXTRACT_POLL_MS: '750' }), ['csv-replay:MSFT@750', 'csv-replay:SPY@750']);
});

t('every provider type can be enabled from env, with per-provider intervals', async () => {
  const names = await taskNames({
    EXTRACT_PROVIDERS: 'yahoo,alphavantage,edgar,opendart,rss,newsapi,av-news,yahoo-news,synthetic',
    EXTRACT_SYMBOLS: 'AAPL,005930.KS',
    ALPHAVANTAGE_API_KEY: 'av-key-123456',
    NEWSAPI_API_KEY: 'na-key-123456',
    OPENDART_API_KEY: 'dart-key-123456',
    OPENDART_CORP_CODES: '005930.KS=00126380',
    SEC_USER_AGENT: 'Example data@example.com',
    SEC_CIKS: 'AAPL=320193,MSFT=789019',
    EXTRACT_FEEDS: 'MARKET=https://example.com/feed.xml?a=1&b=2',
    EXTRACT_POLL_INTERVALS: 'yahoo=30s,sec-edgar=2h,rss=1m',
  });
  assert.equal(names, [
    'alphavantage-news:005930.KS@3600000',
    'alphavantage-news:AAPL@3600000',
    'alphavantage-prices:005930.KS@3600000',
    'alphavantage-prices:AAPL@3600000',
    'newsapi:005930.KS@900000',
    'newsapi:AAPL@900000',
    'opendart:005930.KS@21600000',
    'rss:MARKET@60000',
    'sec-edgar:AAPL@7200000',
    'synthetic:005930.KS@5000',
    'synthetic:AAPL@5000',
    'yahoo-chart:005930.KS@30000',
    'yahoo-chart:AAPL@30000',
    'yahoo-news:005930.KS@300000',
    'yahoo-news:AAPL@300000',
  ]);
});

t('routes per market and per symbol narrow which provider serves a symbol', async () => {
  const names = await taskNames({
    EXTRACT_PROVIDERS: 'yahoo,alphavantage',
    EXTRACT_SYMBOLS: 'AAPL,SPY,005930.KS',
    ALPHAVANTAGE_API_KEY: 'av-key-123456',
    EXTRACT_ROUTES: 'prices:KR=yahoo',
    EXTRACT_SYMBOL_ROUTES: 'SPY:prices=alphavantage',
  });
  assert.equal(names, ['alphavantage-prices:AAPL@3600000', 'alphavantage-prices:SPY@3600000', 'yahoo-chart:005930.KS@60000', 'yahoo-chart:AAPL@60000']);
});

t('base URLs from env reach the providers', async () => {
  const s = settingsOf({ EXTRACT_PROVIDERS: 'yahoo,newsapi', EXTRACT_SYMBOLS: 'AAPL', NEWSAPI_API_KEY: 'na-key-123456', EXTRACT_YAHOO_BASE_URL: 'http://127.0.0.1:9/y', EXTRACT_NEWSAPI_BASE_URL: 'http://127.0.0.1:9/n' });
  assert.equal(describeSettings(s).baseUrls, { 'yahoo-chart': 'http://127.0.0.1:9/y', newsapi: 'http://127.0.0.1:9/n' });
});

t('a bad value fails with the variable it came from', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ EXTRACT_PROVIDERS: 'csv,bloomberg' }, 'EXTRACT_PROVIDERS'],
    [{ EXTRACT_SYMBOLS: 'aapl' }, 'EXTRACT_SYMBOLS'],
    [{ EXTRACT_POLL_MS: 'soon' }, 'EXTRACT_POLL_MS'],
    [{ EXTRACT_YAHOO_BASE_URL: 'ftp://example.com' }, 'EXTRACT_YAHOO_BASE_URL'],
    [{ EXTRACT_PROVIDERS: 'alphavantage', EXTRACT_SYMBOLS: 'AAPL' }, 'ALPHAVANTAGE_API_KEY'],
    [{ EXTRACT_PROVIDERS: 'newsapi', EXTRACT_SYMBOLS: 'AAPL' }, 'NEWSAPI_API_KEY'],
    [{ EXTRACT_PROVIDERS: 'yahoo' }, 'EXTRACT_SYMBOLS'],
    [{ EXTRACT_PROVIDERS: 'edgar', SEC_CIKS: 'AAPL=320193' }, 'SEC_USER_AGENT'],
    [{ EXTRACT_PROVIDERS: 'edgar', SEC_USER_AGENT: 'no contact here' }, 'SEC_USER_AGENT'],
    [{ EXTRACT_PROVIDERS: 'edgar', SEC_USER_AGENT: 'A a@b.example', SEC_CIKS: 'AAPL=CIK320193' }, 'SEC_CIKS'],
    [{ EXTRACT_PROVIDERS: 'opendart', OPENDART_API_KEY: 'dart-key-123456', OPENDART_CORP_CODES: '005930.KS=126380' }, 'OPENDART_CORP_CODES'],
    [{ EXTRACT_PROVIDERS: 'rss' }, 'EXTRACT_FEEDS'],
    [{ EXTRACT_RSS_URL_TEMPLATE: 'https://example.com/rss' }, 'EXTRACT_RSS_URL_TEMPLATE'],
    [{ EXTRACT_POLL_INTERVALS: 'csv=fast' }, 'EXTRACT_POLL_INTERVALS'],
    [{ EXTRACT_POLL_INTERVALS: 'nope=5s' }, 'EXTRACT_POLL_INTERVALS'],
    [{ EXTRACT_ROUTES: 'prices:KR=yahoo' }, 'EXTRACT_ROUTES'],
    [{ EXTRACT_ROUTES: 'quotes:US=csv' }, 'EXTRACT_ROUTES'],
    [{ EXTRACT_PROVIDERS: 'csv,rss', EXTRACT_FEEDS: 'M=https://x.example/f', EXTRACT_SYMBOL_ROUTES: 'AAPL:prices=rss' }, 'EXTRACT_SYMBOL_ROUTES'],
  ];
  for (const [env, variable] of cases) {
    const problems = problemsOf(() => settingsOf(env));
    assert.ok(problems.some((p) => p.startsWith(`${variable}:`)), `${JSON.stringify(env)} → ${variable}; got ${JSON.stringify(problems)}`);
  }
});

t('API keys never appear in errors, in what is logged, or in log lines', () => {
  const key = 'AVKEY-DO-NOT-LEAK-9f8e7d';
  const short = 'ab1';
  const problems = problemsOf(() => settingsOf({ EXTRACT_PROVIDERS: 'alphavantage', EXTRACT_SYMBOLS: 'AAPL', ALPHAVANTAGE_API_KEY: short }));
  assert.ok(problems.some((p) => p.startsWith('ALPHAVANTAGE_API_KEY:')));
  assert.not.ok(problems.join('\n').includes(`"${short}"`), 'the rejected key value is not echoed');

  const s = settingsOf({ EXTRACT_PROVIDERS: 'alphavantage,newsapi', EXTRACT_SYMBOLS: 'AAPL', ALPHAVANTAGE_API_KEY: key, NEWSAPI_API_KEY: `${key}-news` });
  assert.is((s.registry.providers['alphavantage-prices'] as { apiKey?: string }).apiKey, key, 'the provider does get the key');
  assert.not.ok(JSON.stringify(describeSettings(s)).includes(key));

  let out = '';
  const sink = new Writable({ write: (chunk, _enc, cb) => ((out += chunk.toString()), cb()) });
  const log = withSecretRedaction(pino({ redact: { paths: REDACT_PATHS, censor: '***' } }, sink));
  log.info({ registry: s.registry }, 'config');
  log.info(s.registry, 'registry at the root');
  log.info({ env: { ALPHAVANTAGE_API_KEY: key, NEWSAPI_API_KEY: key } }, 'env');
  assert.ok(out.includes('***'), 'something was redacted');
  assert.not.ok(out.includes(key), `no key in: ${out}`);
});

t('durations', () => {
  assert.is(parseDuration('250'), 250);
  assert.is(parseDuration('250ms'), 250);
  assert.is(parseDuration('30s'), 30_000);
  assert.is(parseDuration('5m'), 300_000);
  assert.is(parseDuration('6h'), 21_600_000);
  assert.is(parseDuration('1.5h'), undefined);
  assert.is(parseDuration('soon'), undefined);
});

t.run();
