import * as assert from 'uvu/assert';
import { makeEnvelope, RawFinancialFact } from '@stock-mlops/contracts';
import { createOpenDartProvider, createSecEdgarProvider } from '@stock-mlops/extract';
import { suite } from '../../harness/index.ts';
import { fakeRuntime, readJson, rejects, send, sendFile, serve, shared } from '../../support/extract.ts';

const t = suite('extract/financials');

const EDGAR = shared('financials/sec_edgar_companyfacts_CIK0000320193_AAPL.json');
const DART_MAJOR = shared('financials/opendart_fnlttSinglAcnt_samsung_005930_2023_annual.json');
const DART_ALL = shared('financials/opendart_fnlttSinglAcntAll_samsung_005930_2023_annual.json');
const DART_KEY = 'dartkey0123456789abcdef0123456789abcdef';
const UA = 'stock-mlops tests data-team@example.com';

interface EdgarFact {
  start?: string;
  end: string;
  val: number;
  accn: string;
  fy: number | null;
  fp: string | null;
  form: string;
  filed: string;
}
const edgarRaw = readJson<{ facts: Record<string, Record<string, { units: Record<string, EdgarFact[]> }>> }>(EDGAR);
const rawFacts = Object.entries(edgarRaw.facts).flatMap(([tax, concepts]) =>
  Object.entries(concepts).flatMap(([concept, c]) => Object.entries(c.units).flatMap(([unit, arr]) => arr.map((f) => ({ tax, concept, unit, ...f })))),
);
const usable = rawFacts.filter((f) => f.fy != null && f.fp);

async function edgarServer() {
  return serve((req, res) => (req.path === '/api/xbrl/companyfacts/CIK0000320193.json' ? sendFile(res, EDGAR) : send(res, 404, '{}')));
}

t('sec edgar: every fact with fy/fp flattened; known NetIncomeLoss and Revenues facts with their filed dates', async () => {
  const srv = await edgarServer();
  try {
    const edgar = createSecEdgarProvider({ baseUrl: srv.url, userAgent: UA, ciks: { AAPL: 320193 }, runtime: fakeRuntime().runtime });
    const r = await edgar.fetchSince({ symbol: 'AAPL' });
    assert.is(rawFacts.length, 24_579);
    assert.is(r.items.length, usable.length);
    assert.ok(r.warnings.some((w) => w.includes(`skipped ${rawFacts.length - usable.length} fact(s) without fy/fp`)));
    assert.is(srv.requests[0]!.headers['user-agent'], UA);
    for (const it of r.items.slice(0, 2000)) assert.ok(RawFinancialFact.safeParse(it.data).success);

    // The FY2025 10-K net income, as recorded in the file.
    const ni = rawFacts.find((f) => f.concept === 'NetIncomeLoss' && f.form === '10-K' && f.end === '2025-09-27' && f.start === '2024-09-29')!;
    const item = r.items.find((i) => i.data.concept === 'NetIncomeLoss' && i.data.accession === ni.accn && i.data.periodEnd === ni.end && i.data.periodStart === ni.start)!;
    assert.equal(item.data, {
      symbol: 'AAPL',
      concept: 'NetIncomeLoss',
      value: ni.val,
      unit: 'USD',
      periodStart: '2024-09-29',
      periodEnd: '2025-09-27',
      fiscalYear: 2025,
      fiscalPeriod: 'FY',
      form: '10-K',
      filed: ni.filed,
      accession: ni.accn,
      taxonomy: 'us-gaap',
    });
    assert.is(item.data.value, 112_010_000_000);
    assert.is(item.data.filed, '2025-10-31');
    assert.is(item.eventTime, '2025-10-31T00:00:00.000Z');
    assert.equal(item.idParts, ['AAPL', 'NetIncomeLoss', 'USD', '2024-09-29', '2025-09-27', '10-K', ni.accn, '2025-10-31']);

    const rev = rawFacts.find((f) => f.concept === 'Revenues' && f.start === '2015-09-27' && f.end === '2016-09-24')!;
    const revItem = r.items.find((i) => i.data.concept === 'Revenues' && i.data.periodEnd === '2016-09-24' && i.data.periodStart === '2015-09-27')!;
    assert.is(revItem.data.value, rev.val);
    assert.is(revItem.data.filed, rev.filed);

    // Items come in filing order; the cursor is the last filing date plus its accessions.
    const filed = r.items.map((i) => i.data.filed);
    assert.equal(filed, [...filed].sort());
    const lastFiled = usable.map((f) => f.filed).sort().at(-1)!;
    const lastAccns = [...new Set(usable.filter((f) => f.filed === lastFiled).map((f) => f.accn))].sort();
    assert.is(r.nextCursor, `${lastFiled}|${lastAccns.join(',')}`);
  } finally {
    await srv.close();
  }
});

t('sec edgar cursor: the returned cursor yields nothing; a filing-date cursor yields exactly the later filings', async () => {
  const srv = await edgarServer();
  try {
    const edgar = createSecEdgarProvider({ baseUrl: srv.url, userAgent: UA, ciks: { AAPL: '0000320193' }, runtime: fakeRuntime().runtime });
    const all = await edgar.fetchSince({ symbol: 'AAPL' });
    const again = await edgar.fetchSince({ symbol: 'AAPL', cursor: all.nextCursor });
    assert.is(again.items.length, 0);
    assert.is(again.nextCursor, all.nextCursor);

    const rest = await edgar.fetchSince({ symbol: 'AAPL', cursor: '2025-08-01' });
    assert.is(rest.items.length, usable.filter((f) => f.filed > '2025-08-01').length);
    assert.equal(rest.items, all.items.filter((i) => i.data.filed > '2025-08-01'));

    // Same date, one accession already seen: the facts of the other filings of that day still come.
    const day = '2025-08-01';
    const accnsThatDay = [...new Set(usable.filter((f) => f.filed === day).map((f) => f.accn))];
    const partial = await edgar.fetchSince({ symbol: 'AAPL', cursor: `${day}|${accnsThatDay[0]}` });
    const expected = usable.filter((f) => f.filed > day || (f.filed === day && f.accn !== accnsThatDay[0])).length;
    assert.is(partial.items.length, expected);
  } finally {
    await srv.close();
  }
});

t("sec edgar dedupe 'first-report': each (concept, unit, period, value) once, from its earliest filing", async () => {
  const srv = await edgarServer();
  try {
    const edgar = createSecEdgarProvider({ baseUrl: srv.url, userAgent: UA, ciks: { AAPL: 320193 }, dedupe: 'first-report', runtime: fakeRuntime().runtime });
    const r = await edgar.fetchSince({ symbol: 'AAPL' });
    const keys = r.items.map((i) => [i.data.concept, i.data.unit, i.data.periodStart, i.data.periodEnd, i.data.value].join('|'));
    assert.is(new Set(keys).size, keys.length);
    assert.ok(r.items.length < usable.length);
    const ni = r.items.find((i) => i.data.concept === 'NetIncomeLoss' && i.data.periodEnd === '2016-09-24' && i.data.periodStart === '2015-09-27')!;
    const earliest = usable
      .filter((f) => f.concept === 'NetIncomeLoss' && f.end === '2016-09-24' && f.start === '2015-09-27' && f.val === ni.data.value)
      .map((f) => f.filed)
      .sort()[0];
    assert.is(ni.data.filed, earliest);
  } finally {
    await srv.close();
  }
});

t('sec edgar: a User-Agent is required, and a symbol without a CIK is a config error', async () => {
  const e1 = await rejects(async () => createSecEdgarProvider({ userAgent: '', ciks: {} }));
  assert.is(e1.code, 'E_CONFIG');
  assert.match(e1.message, /sec-edgar: missing required option: userAgent/);
  const edgar = createSecEdgarProvider({ baseUrl: 'http://127.0.0.1:9', userAgent: UA, ciks: { AAPL: 320193 } });
  const e2 = await rejects(() => edgar.fetchSince({ symbol: 'MSFT' }));
  assert.is(e2.code, 'E_CONFIG');
  assert.match(e2.message, /^sec-edgar \[MSFT\]: no CIK/);
});

t('sec edgar: a wrong-typed value is E_SCHEMA naming provider and symbol', async () => {
  const body = readJson(EDGAR);
  body.facts['us-gaap'].NetIncomeLoss.units.USD[0].val = '1,000';
  const srv = await serve((_req, res) => send(res, 200, JSON.stringify(body)));
  try {
    const edgar = createSecEdgarProvider({ baseUrl: srv.url, userAgent: UA, ciks: { AAPL: 320193 }, runtime: fakeRuntime().runtime });
    const err = await rejects(() => edgar.fetchSince({ symbol: 'AAPL' }));
    assert.is(err.code, 'E_SCHEMA');
    assert.match(err.message, /^sec-edgar \[AAPL\]: unexpected companyfacts response: facts\.us-gaap\.NetIncomeLoss\.units\.USD\.0\.val/);
  } finally {
    await srv.close();
  }
});

function dartServer(file: string | (() => string)) {
  return serve((req, res) =>
    req.path.startsWith('/api/') ? send(res, 200, typeof file === 'string' ? readJsonText(file) : file()) : send(res, 404, '{}'),
  );
}
const readJsonText = (file: string) => JSON.stringify(readJson(file));

t('opendart fnlttSinglAcnt: 195,936,557,000,000 parsed exactly, thstrm/frmtrm/bfefrmtrm as periods, filed from rcept_no', async () => {
  const srv = await dartServer(DART_MAJOR);
  try {
    const dart = createOpenDartProvider({
      apiKey: DART_KEY,
      corpCodes: { '005930.KS': '00126380' },
      years: [2023],
      reports: ['11011'],
      baseUrl: srv.url,
      runtime: fakeRuntime().runtime,
    });
    const r = await dart.fetchSince({ symbol: '005930.KS' });
    const q = srv.requests[0]!.query;
    assert.is(srv.requests[0]!.path, '/api/fnlttSinglAcnt.json');
    assert.equal([q.get('corp_code'), q.get('bsns_year'), q.get('reprt_code'), q.get('crtfc_key')], ['00126380', '2023', '11011', DART_KEY]);
    assert.equal(
      r.items.map((i) => [i.data.periodEnd, i.data.value]),
      [
        ['2021-12-31', 218_163_185_000_000],
        ['2022-12-31', 218_470_581_000_000],
        ['2023-12-31', 195_936_557_000_000],
      ],
    );
    assert.equal(r.items.find((i) => i.data.periodEnd === '2023-12-31')!.data, {
      symbol: '005930.KS',
      concept: 'ifrs-full_CurrentAssets',
      value: 195_936_557_000_000,
      unit: 'KRW',
      periodEnd: '2023-12-31',
      fiscalYear: 2023,
      fiscalPeriod: 'FY',
      form: 'annual-CFS',
      filed: '2024-03-12',
      accession: '20240312000736',
      taxonomy: 'ifrs-full',
    });
    for (const it of r.items) assert.ok(RawFinancialFact.safeParse(it.data).success);
    assert.is(r.nextCursor, '2024-03-12|20240312000736');
    assert.is(makeEnvelope('rawFinancials', { ...r.items[2]!, source: dart.name }).data.value, 195_936_557_000_000);
    const again = await dart.fetchSince({ symbol: '005930.KS', cursor: r.nextCursor });
    assert.is(again.items.length, 0);
  } finally {
    await srv.close();
  }
});

t('opendart fnlttSinglAcntAll: 296,857,289,000,000 (ifrs-full_Assets, separate FS), periods derived without *_dt', async () => {
  const srv = await dartServer(DART_ALL);
  try {
    const dart = createOpenDartProvider({
      apiKey: DART_KEY,
      endpoint: 'fnlttSinglAcntAll',
      fsDivs: ['OFS'],
      corpCodes: { '005930.KS': '00126380' },
      years: [2023],
      reports: ['11011'],
      baseUrl: srv.url,
      runtime: fakeRuntime().runtime,
    });
    const r = await dart.fetchSince({ symbol: '005930.KS' });
    assert.is(srv.requests[0]!.path, '/api/fnlttSinglAcntAll.json');
    assert.is(srv.requests[0]!.query.get('fs_div'), 'OFS');
    assert.equal(
      r.items.map((i) => [i.data.concept, i.data.form, i.data.periodEnd, i.data.value]),
      [
        ['ifrs-full_Assets', 'annual-OFS', '2021-12-31', 251_112_184_000_000],
        ['ifrs-full_Assets', 'annual-OFS', '2022-12-31', 260_083_750_000_000],
        ['ifrs-full_Assets', 'annual-OFS', '2023-12-31', 296_857_289_000_000],
      ],
    );
    assert.ok(r.items.every((i) => i.data.periodStart === undefined && i.data.filed === '2024-03-12'));
  } finally {
    await srv.close();
  }
});

t('opendart: status != "000" is an error with OpenDART\'s message and never the key; "013" is no data', async () => {
  const limited = readJson(DART_MAJOR);
  limited.status = '020';
  limited.message = '요청 제한을 초과하였습니다.';
  delete limited.list;
  const noData = { status: '013', message: '조회된 데이타가 없습니다.' };
  let answer: unknown = limited;
  const srv = await dartServer(() => JSON.stringify(answer));
  try {
    const dart = createOpenDartProvider({
      apiKey: DART_KEY,
      corpCodes: { '005930.KS': '00126380' },
      years: [2023],
      reports: ['11011'],
      baseUrl: srv.url,
      runtime: fakeRuntime().runtime,
    });
    const err = await rejects(() => dart.fetchSince({ symbol: '005930.KS' }));
    assert.is(err.code, 'E_PROVIDER_LIMIT');
    assert.is(err.message, 'opendart [005930.KS]: OpenDART status 020: 요청 제한을 초과하였습니다.');
    assert.not.match(JSON.stringify({ ...err, message: err.message, stack: err.stack }), DART_KEY);

    answer = noData;
    const r = await dart.fetchSince({ symbol: '005930.KS' });
    assert.equal(r.items, []);
  } finally {
    await srv.close();
  }
});

t('opendart: an HTTP failure names the provider and symbol and redacts crtfc_key', async () => {
  const srv = await serve((_req, res) => send(res, 500, 'internal error'));
  try {
    const dart = createOpenDartProvider({
      apiKey: DART_KEY,
      corpCodes: { '005930.KS': '00126380' },
      years: [2023],
      reports: ['11011'],
      baseUrl: srv.url,
      runtime: fakeRuntime().runtime,
      http: { retry: { maxAttempts: 2 } },
    });
    const err = await rejects(() => dart.fetchSince({ symbol: '005930.KS' }));
    assert.is(err.code, 'E_HTTP_STATUS');
    assert.match(err.message, /^opendart \[005930\.KS\]: GET .*crtfc_key=\*\*\*/);
    assert.not.match(err.message, DART_KEY);
    assert.not.match(err.url, DART_KEY);
  } finally {
    await srv.close();
  }
});

t('opendart: an amount beyond 2^53 is reported (E_PRECISION warning) instead of rounded', async () => {
  const body = readJson(DART_MAJOR);
  body.list[0].frmtrm_amount = '9,007,199,254,740,993';
  const srv = await dartServer(() => JSON.stringify(body));
  try {
    const dart = createOpenDartProvider({
      apiKey: DART_KEY,
      corpCodes: { '005930.KS': '00126380' },
      years: [2023],
      reports: ['11011'],
      baseUrl: srv.url,
      runtime: fakeRuntime().runtime,
    });
    const r = await dart.fetchSince({ symbol: '005930.KS' });
    assert.equal(r.items.map((i) => i.data.periodEnd), ['2021-12-31', '2023-12-31']);
    assert.ok(r.warnings.some((w) => /^E_PRECISION: list\[0\]\.frmtrm_amount .*9,007,199,254,740,993.*2\^53/.test(w)));
  } finally {
    await srv.close();
  }
});

t.run();
