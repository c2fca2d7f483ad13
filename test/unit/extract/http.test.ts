import * as assert from 'uvu/assert';
import { createHttpClient, createTokenBucket, HttpError, parseRetryAfter, type HttpEvent } from '@stock-mlops/extract';
import { suite } from '../../harness/index.ts';
import { fakeRuntime, readText, rejects, send, serve, shared } from '../../support/extract.ts';

const t = suite('extract/http');
const SECRET = 'SECRETKEY123';
const chartFile = shared('fixtures/yahoo_v8_chart_AAPL_1d_2020-08-31_to_2020-11-07.json');

t('429 with Retry-After (seconds) waits that long, then succeeds', async () => {
  const srv = await serve((_req, res, n) => (n === 1 ? send(res, 429, '{}', { 'retry-after': '7' }) : send(res, 200, readText(chartFile))));
  const fake = fakeRuntime();
  const events: HttpEvent[] = [];
  try {
    const client = createHttpClient({ provider: 'yahoo', runtime: fake.runtime, onEvent: (e) => events.push(e) });
    const body = (await client.getJson(`${srv.url}/x`, { symbol: 'AAPL' })) as { chart: unknown };
    assert.ok(body.chart);
    assert.equal(fake.sleeps, [7000]);
    assert.equal(
      events.map((e) => [e.outcome, e.status, e.code]),
      [
        ['retry', 429, 'E_RATE_LIMITED'],
        ['ok', 200, undefined],
      ],
    );
  } finally {
    await srv.close();
  }
});

t('Retry-After as an HTTP-date is honoured relative to the injected clock', async () => {
  const fake = fakeRuntime('2025-02-20T00:00:00Z');
  const srv = await serve((_req, res, n) =>
    n === 1 ? send(res, 503, 'busy', { 'retry-after': 'Thu, 20 Feb 2025 00:00:30 GMT' }) : send(res, 200, '{"ok":true}'),
  );
  try {
    const client = createHttpClient({ provider: 'p', runtime: fake.runtime });
    assert.equal(await client.getJson(`${srv.url}/x`), { ok: true });
    assert.equal(fake.sleeps, [30_000]);
  } finally {
    await srv.close();
  }
});

t('a Retry-After longer than the cap ends the call with retryAfterMs instead of blocking', async () => {
  const srv = await serve((_req, res) => send(res, 429, '{"message":"slow down"}', { 'retry-after': '3600' }));
  const fake = fakeRuntime();
  try {
    const client = createHttpClient({ provider: 'newsapi', runtime: fake.runtime, retry: { maxRetryAfterMs: 60_000 } });
    const err = await rejects(() => client.getJson(`${srv.url}/x`, { symbol: 'AAPL' }));
    assert.instance(err, HttpError);
    assert.is(err.code, 'E_RATE_LIMITED');
    assert.is(err.retryAfterMs, 3_600_000);
    assert.is(err.retriable, true);
    assert.equal(fake.sleeps, []);
    assert.is(srv.requests.length, 1);
  } finally {
    await srv.close();
  }
});

t('500 then success: retried after a full-jitter backoff', async () => {
  const srv = await serve((_req, res, n) => (n === 1 ? send(res, 500, 'oops') : send(res, 200, '[1,2]')));
  const fake = fakeRuntime(undefined, 0.5);
  try {
    const client = createHttpClient({ provider: 'p', runtime: fake.runtime, retry: { baseDelayMs: 1000 } });
    assert.equal(await client.getJson(`${srv.url}/x`), [1, 2]);
    assert.equal(fake.sleeps, [500]); // random 0.5 × min(max, 1000 × 2^0)
  } finally {
    await srv.close();
  }
});

t('5xx until attempts run out: error names provider, symbol, status and attempts; key redacted', async () => {
  const srv = await serve((_req, res) => send(res, 502, `upstream said apikey=${SECRET}`));
  const fake = fakeRuntime();
  try {
    const client = createHttpClient({ provider: 'alphavantage', runtime: fake.runtime, retry: { maxAttempts: 3 }, secrets: [SECRET] });
    const err = await rejects(() => client.getJson(`${srv.url}/query?function=X&apikey=${SECRET}`, { symbol: 'IBM' }));
    assert.is(err.code, 'E_HTTP_STATUS');
    assert.is(err.status, 502);
    assert.is(err.attempts, 3);
    assert.is(fake.sleeps.length, 2);
    assert.match(err.message, /^alphavantage \[IBM\]: GET .*apikey=\*\*\*.*HTTP 502/);
    assert.not.match(err.message, SECRET);
    assert.not.match(err.url, SECRET);
    assert.not.match(JSON.stringify(err), SECRET);
  } finally {
    await srv.close();
  }
});

t('404 is not retried', async () => {
  const srv = await serve((_req, res) => send(res, 404, '{"chart":{"result":null,"error":{"code":"Not Found"}}}'));
  try {
    const client = createHttpClient({ provider: 'yahoo', runtime: fakeRuntime().runtime });
    const err = await rejects(() => client.getJson(`${srv.url}/x`, { symbol: 'NOPE' }));
    assert.is(err.code, 'E_HTTP_STATUS');
    assert.is(err.retriable, false);
    assert.is(srv.requests.length, 1);
    assert.match(err.message, 'Not Found');
  } finally {
    await srv.close();
  }
});

t('timeout: a server that never answers is E_TIMEOUT after every attempt', async () => {
  const srv = await serve(() => undefined);
  try {
    const client = createHttpClient({ provider: 'p', runtime: fakeRuntime().runtime, timeoutMs: 150, retry: { maxAttempts: 2 } });
    const err = await rejects(() => client.getJson(`${srv.url}/slow`, { symbol: 'AAPL' }));
    assert.is(err.code, 'E_TIMEOUT');
    assert.is(err.attempts, 2);
    assert.is(srv.requests.length, 2);
    assert.match(err.message, /p \[AAPL\].*150 ms/);
  } finally {
    await srv.close();
  }
});

t('connection refused is retried and reported as E_NETWORK', async () => {
  const srv = await serve(() => undefined);
  const url = srv.url;
  await srv.close();
  const fake = fakeRuntime();
  const client = createHttpClient({ provider: 'p', runtime: fake.runtime, retry: { maxAttempts: 3 } });
  const err = await rejects(() => client.getJson(`${url}/x`, { symbol: 'AAPL' }));
  assert.is(err.code, 'E_NETWORK');
  assert.is(err.attempts, 3);
  assert.match(err.message, 'ECONNREFUSED');
});

t('truncated JSON is E_BAD_BODY and not retried by default; retried when configured', async () => {
  const full = readText(chartFile);
  const truncated = full.slice(0, Math.floor(full.length / 2));
  const srv = await serve((_req, res, n) => send(res, 200, n === 2 ? full : truncated));
  try {
    const strict = createHttpClient({ provider: 'yahoo', runtime: fakeRuntime().runtime });
    const err = await rejects(() => strict.getJson(`${srv.url}/x`, { symbol: 'AAPL' }));
    assert.is(err.code, 'E_BAD_BODY');
    assert.match(err.message, /yahoo \[AAPL\].*body does not parse/);
    assert.is(srv.requests.length, 1);

    const lenient = createHttpClient({ provider: 'yahoo', runtime: fakeRuntime().runtime, retry: { retryBadBody: true } });
    assert.ok(await lenient.getJson(`${srv.url}/x`, { symbol: 'AAPL' }));
  } finally {
    await srv.close();
  }
});

t('bodies over maxBodyBytes are refused', async () => {
  const srv = await serve((_req, res) => send(res, 200, readText(chartFile)));
  try {
    const client = createHttpClient({ provider: 'p', runtime: fakeRuntime().runtime, maxBodyBytes: 1000 });
    const err = await rejects(() => client.getJson(`${srv.url}/x`));
    assert.is(err.code, 'E_TOO_LARGE');
  } finally {
    await srv.close();
  }
});

t("the caller's abort signal stops the call without retries", async () => {
  const srv = await serve(() => undefined);
  try {
    const client = createHttpClient({ provider: 'p', runtime: fakeRuntime().runtime, timeoutMs: 5000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = await rejects(() => client.getJson(`${srv.url}/x`, { signal: ac.signal }));
    assert.is(err.code, 'E_ABORTED');
    assert.is(srv.requests.length, 1);
  } finally {
    await srv.close();
  }
});

t('token bucket: a burst of `capacity`, then one token per 1/refill s', async () => {
  const fake = fakeRuntime();
  const bucket = createTokenBucket({ capacity: 2, refillPerSec: 4 }, fake.runtime);
  for (let i = 0; i < 5; i++) await bucket.take();
  assert.equal(fake.sleeps, [250, 250, 250]);
});

t('parseRetryAfter: seconds, HTTP-date, garbage', () => {
  const now = Date.parse('2025-02-20T00:00:00Z');
  assert.is(parseRetryAfter('12', now), 12_000);
  assert.is(parseRetryAfter('Thu, 20 Feb 2025 00:01:00 GMT', now), 60_000);
  assert.is(parseRetryAfter('Wed, 19 Feb 2025 00:01:00 GMT', now), 0);
  assert.is(parseRetryAfter('soon', now), undefined);
  // Date.parse would read these as dates (e.g. in 2001) and make a 429 retry at once.
  assert.is(parseRetryAfter('soon-ish, maybe -5', now), undefined);
  assert.is(parseRetryAfter('-5', now), undefined);
  assert.is(parseRetryAfter('2001', now), 2_001_000, 'digits are seconds');
  assert.is(parseRetryAfter(null, now), undefined);
});

t.run();
