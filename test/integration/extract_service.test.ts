/**
 * The extractor service configured only through environment variables, against local HTTP
 * servers standing in for Yahoo, Alpha Vantage and NewsAPI (base URLs from env) and the real
 * broker and database: Yahoo bars reach the raw topic; Alpha Vantage's 429 with a Retry-After
 * beyond the client's cap reschedules the provider instead of hammering it; NewsAPI rejecting
 * the key is counted and backed off; the process never dies and never logs a key. A bad
 * configuration value stops the process with the variable's name.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { resolveTopics } from '@stock-mlops/contracts';
import { suite } from '../harness/index.ts';
import { freePort, waitFor, withStack } from '../support/stack.ts';
import { envelopeOf, readTopic, ROOT, topicCount } from '../support/extractor.ts';

const t = suite('extractor service: providers from env, errors counted and rescheduled', { timeoutMs: 120_000 });
const ctx: { servers: Server[] } = { servers: [] };

const AV_KEY = 'AVKEY-never-log-me-51f0c2';
const NEWS_KEY = 'NEWSKEY-never-log-me-8e21aa';
// Three complete daily sessions (NY open 14:30 UTC in March 2024 before DST… 13:30 after).
const SESSIONS = [1709562600, 1709649000, 1709735400]; // 2024-03-04/05/06 14:30 UTC
const yahooBody = JSON.stringify({
  chart: {
    result: [
      {
        meta: { currency: 'USD', symbol: 'AAPL', exchangeTimezoneName: 'America/New_York' },
        timestamp: SESSIONS,
        indicators: {
          quote: [{ open: [176.15, 170.76, 171.06], high: [176.9, 172.04, 171.24], low: [173.79, 169.62, 168.68], close: [175.1, 170.12, 169.12], volume: [81510100, 95132400, 68587700] }],
          adjclose: [{ adjclose: [174.3, 169.35, 168.35] }],
        },
      },
    ],
    error: null,
  },
});

async function listen(handler: (path: string, query: URLSearchParams, headers: Record<string, unknown>) => { status: number; body: string; headers?: Record<string, string> }): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    hits.push(u.pathname);
    const r = handler(u.pathname, u.searchParams, req.headers);
    res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
    res.end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ctx.servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, hits };
}

t('a bad configuration value stops the extractor with the name of the variable', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'services/extractor/src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, EXTRACT_PROVIDERS: 'yahoo,alphavantage', EXTRACT_SYMBOLS: 'AAPL', SEC_CIKS: '', ALPHAVANTAGE_API_KEY: '', HTTP_PORT: '0' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.not.equal(r.status, 0);
  assert.match(r.stderr, /ALPHAVANTAGE_API_KEY: required when EXTRACT_PROVIDERS includes alphavantage-prices/);
});

t('Yahoo bars are published; a far Retry-After reschedules Alpha Vantage; errors are counted, logged and survived', async () => {
  const yahoo = await listen((p) => (p === '/v8/finance/chart/AAPL' ? { status: 200, body: yahooBody } : { status: 404, body: '{}' }));
  const av = await listen(() => ({ status: 429, body: '{"Information":"rate limited"}', headers: { 'retry-after': '3600' } }));
  const news = await listen(() => ({ status: 401, body: JSON.stringify({ status: 'error', code: 'apiKeyInvalid', message: `Your API key ${NEWS_KEY} is invalid` }) }));
  const opsPort = await freePort();
  await withStack({
    services: ['extractor'],
    env: {
      EXTRACT_PROVIDERS: 'yahoo,alphavantage,newsapi',
      EXTRACT_SYMBOLS: 'AAPL',
      EXTRACT_YAHOO_BASE_URL: yahoo.url,
      EXTRACT_ALPHAVANTAGE_BASE_URL: av.url,
      EXTRACT_NEWSAPI_BASE_URL: news.url,
      ALPHAVANTAGE_API_KEY: AV_KEY,
      NEWSAPI_API_KEY: NEWS_KEY,
      EXTRACT_POLL_INTERVALS: 'yahoo=300ms,alphavantage=300ms,newsapi=300ms',
    },
    perService: { extractor: { HTTP_PORT: String(opsPort) } },
  }, async (stack) => {
    const topic = resolveTopics(stack.prefix).rawPrices;
    await waitFor('three Yahoo bars on the raw topic', async () => ((await topicCount(topic)) >= 3 ? true : undefined), 60_000, 250);
    const records = await readTopic(topic);
    assert.equal(records.map((r) => envelopeOf(r).data.ts).sort(), ['2024-03-04T00:00:00.000Z', '2024-03-05T00:00:00.000Z', '2024-03-06T00:00:00.000Z']);
    assert.ok(records.every((r) => envelopeOf(r).source === 'yahoo-chart' && r.key === 'AAPL'));

    const pid = stack.sup.pid('extractor');
    const metricsText = async () => (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    // Several intervals pass: Yahoo keeps being polled, NewsAPI keeps failing with backoff.
    await waitFor('NewsAPI polled a few times', () => (news.hits.length >= 3 ? true : undefined), 30_000, 100);
    await waitFor('Yahoo polled again (nothing new)', () => (yahoo.hits.length >= 3 ? true : undefined), 30_000, 100);
    const m = await metricsText();
    assert.equal(av.hits.length, 1, 'Alpha Vantage asked once, then left alone for the Retry-After');
    assert.match(m, /stockmlops_extract_fetches_total\{provider="alphavantage-prices",outcome="rescheduled",code="E_RATE_LIMITED"[^}]*\} 1\b/);
    assert.match(m, /stockmlops_extract_fetches_total\{provider="newsapi",outcome="error",code="E_HTTP_STATUS"[^}]*\} [3-9]/);
    assert.match(m, /stockmlops_extract_fetches_total\{provider="yahoo-chart",outcome="ok",code=""[^}]*\} 1\b/);
    assert.match(m, /stockmlops_extract_fetches_total\{provider="yahoo-chart",outcome="empty",code=""[^}]*\} [1-9]/);
    assert.match(m, /stockmlops_extract_http_requests_total\{provider="alphavantage-prices",outcome="error",code="E_RATE_LIMITED"[^}]*\} 1\b/);
    assert.match(m, /stockmlops_extract_events_total\{provider="yahoo-chart",topic="rawPrices",outcome="published"[^}]*\} 3\b/);
    assert.is(stack.sup.pid('extractor'), pid, 'never restarted');
    assert.ok((await fetch(`http://127.0.0.1:${opsPort}/readyz`)).ok, 'still ready');

    const failures = stack.logs.filter((l) => l.includes('"msg":"extraction failed"'));
    assert.ok(failures.some((l) => l.includes('"provider":"alphavantage-prices"') && l.includes('"symbol":"AAPL"') && l.includes('"retryAfterMs":3600000')), 'the rate limit is logged with provider and symbol');
    assert.ok(failures.some((l) => l.includes('"provider":"newsapi"') && l.includes('"symbol":"AAPL"') && l.includes('"code":"E_HTTP_STATUS"')));
    assert.ok(stack.logs.some((l) => l.includes('rescheduled')));
    const leaks = stack.logs.filter((l) => l.includes(AV_KEY) || l.includes(NEWS_KEY));
    assert.equal(leaks, [], 'no API key in any log line');
    assert.ok(!m.includes(AV_KEY) && !m.includes(NEWS_KEY), 'no API key in the metrics');
  });
});

t.after(() => {
  for (const s of ctx.servers) s.close();
});

t.run();
