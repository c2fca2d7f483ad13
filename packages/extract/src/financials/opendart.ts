import { z } from 'zod';
import { parseCursor } from '../cursor.ts';
import { ExtractError } from '../errors.ts';
import type { FinancialProvider } from '../provider.ts';
import { expectObject, parseShape, providerContext, requireOption, type HttpProviderOptions } from '../provider_support.ts';
import { addDays, compactDate, lastDayOfMonth } from '../time.ts';
import { parseExactAmount } from '../validate.ts';
import { factProvider, makeFact, type FactDedupe, type FactDraft } from './common.ts';

/**
 * OpenDART (금융감독원 전자공시) financial statements: `fnlttSinglAcnt` (단일회사 주요계정, major
 * accounts, consolidated and separate in one response) and `fnlttSinglAcntAll` (단일회사 전체
 * 재무제표, the full statements, one `fs_div` per request).
 *
 * Mapping of a list row to facts, one per period column:
 * - `thstrm_*` (당기, this period), `frmtrm_*` (전기), `bfefrmtrm_*` (전전기) → one fact each;
 *   quarterly `*_add_amount` (누적, year to date) and `frmtrm_q_amount` (prior-year quarter) too.
 * - Period: read from `*_dt` when present ("2023.12.31 현재" = instant; "2023.01.01 ~ 2023.12.31");
 *   otherwise derived from `bsns_year`, `reprt_code`, the statement (`sj_div`: BS is an instant,
 *   IS/CIS/CF/SCE are durations) and the fiscal year end (`fiscalYearEndMonth`, default 12).
 * - concept: `account_id` when it is a standard code (`ifrs-full_Assets`, `dart_OperatingIncomeLoss`);
 *   otherwise the IFRS code of a well-known `account_nm` (유동자산 → ifrs-full_CurrentAssets, see
 *   ACCOUNT_NAME_CONCEPTS); otherwise `account_nm` itself (taxonomy 'dart-name').
 * - form: `<report>-<fs_div>` (e.g. `annual-CFS`, `Q1-OFS`), keeping consolidated and separate
 *   statements apart; fiscalPeriod: FY | Q1 | Q2 | Q3; fiscalYear: bsns_year.
 * - filed: the first 8 digits of `rcept_no` (YYYYMMDD); accession: rcept_no; unit: `currency`
 *   (`<currency>/shares` for per-share accounts).
 * - Amounts ("195,936,557,000,000") are parsed exactly; an integer beyond 2^53 - 1 cannot be a
 *   JSON number without rounding, so that fact is skipped and reported in `warnings` with code
 *   E_PRECISION (KRW amounts reach 10^15; the limit is 9.007 × 10^15).
 * - status "000" is success, "013" (no data) is zero items; "020" (request limit) →
 *   E_PROVIDER_LIMIT; "010"/"011"/"012"/"901" (key problems) → E_PROVIDER_AUTH; any other → E_PROVIDER,
 *   with OpenDART's message.
 * The API key (`crtfc_key`) is redacted from every error message.
 */
export type DartReportCode = '11011' | '11012' | '11013' | '11014';
export type DartEndpoint = 'fnlttSinglAcnt' | 'fnlttSinglAcntAll';

export interface OpenDartOptions extends HttpProviderOptions {
  apiKey: string;
  /** Symbol → 8-digit corp_code (e.g. '005930.KS' → '00126380'). */
  corpCodes: Record<string, string>;
  endpoint?: DartEndpoint;
  /** Reports to request per year. Default: all four. */
  reports?: DartReportCode[];
  /** Business years to request. Default: from the cursor's year - 1 (or `startYear`) to this year. */
  years?: number[];
  /** First business year when there is no cursor. Default: this year - 3. */
  startYear?: number;
  /** For fnlttSinglAcntAll: which statements to request. Default ['CFS']. */
  fsDivs?: Array<'CFS' | 'OFS'>;
  /** Month (1-12) the fiscal year ends, for periods derived without `*_dt` fields. Default 12. */
  fiscalYearEndMonth?: number | Record<string, number>;
  dedupe?: FactDedupe;
}

export const DART_REPORTS: Record<DartReportCode, { form: string; fiscalPeriod: string; months: number }> = {
  '11013': { form: 'Q1', fiscalPeriod: 'Q1', months: 3 },
  '11012': { form: 'half', fiscalPeriod: 'Q2', months: 6 },
  '11014': { form: 'Q3', fiscalPeriod: 'Q3', months: 9 },
  '11011': { form: 'annual', fiscalPeriod: 'FY', months: 12 },
};

/** fnlttSinglAcnt names its major accounts only in Korean: the usual ones mapped to IFRS codes. */
export const ACCOUNT_NAME_CONCEPTS: Record<string, string> = {
  유동자산: 'ifrs-full_CurrentAssets',
  비유동자산: 'ifrs-full_NoncurrentAssets',
  자산총계: 'ifrs-full_Assets',
  유동부채: 'ifrs-full_CurrentLiabilities',
  비유동부채: 'ifrs-full_NoncurrentLiabilities',
  부채총계: 'ifrs-full_Liabilities',
  자본금: 'ifrs-full_IssuedCapital',
  이익잉여금: 'ifrs-full_RetainedEarnings',
  자본총계: 'ifrs-full_Equity',
  매출액: 'ifrs-full_Revenue',
  영업이익: 'dart_OperatingIncomeLoss',
  '법인세차감전 순이익': 'ifrs-full_ProfitLossBeforeTax',
  당기순이익: 'ifrs-full_ProfitLoss',
};

const NON_STANDARD_ID = '-표준계정코드 미사용-';

const DartRow = z.object({
  rcept_no: z.string(),
  reprt_code: z.string(),
  bsns_year: z.string(),
  fs_div: z.string().optional(),
  sj_div: z.string(),
  account_id: z.string().optional(),
  account_nm: z.string(),
  currency: z.string().optional(),
}).catchall(z.unknown());
const DartBody = z.object({ status: z.string(), message: z.string().optional(), list: z.array(DartRow).optional() });

type Row = z.infer<typeof DartRow>;

interface Period {
  start?: string;
  end: string;
}

function parseDt(text: unknown): Period | undefined {
  if (typeof text !== 'string') return undefined;
  const dates = [...text.matchAll(/(\d{4})\.(\d{2})\.(\d{2})/g)].map((m) => `${m[1]}-${m[2]}-${m[3]}`);
  if (dates.length === 1) return { end: dates[0]! };
  if (dates.length === 2) return { start: dates[0]!, end: dates[1]! };
  return undefined;
}

function monthEnd(fyYear: number, fyeMonth: number, monthsIntoYear: number): string {
  // Fiscal year `fyYear` ends at the end of `fyeMonth` of that year; the report closes `monthsIntoYear` after it starts.
  const total = (fyYear - 1) * 12 + (fyeMonth - 1) + monthsIntoYear;
  return lastDayOfMonth(Math.floor(total / 12), (total % 12) + 1);
}

/** Derived period of one column (when the row has no `*_dt`). */
function derivePeriod(
  column: 'thstrm' | 'thstrm_add' | 'frmtrm' | 'frmtrm_q' | 'frmtrm_add' | 'bfefrmtrm',
  row: Row,
  fyeMonth: number,
): Period | undefined {
  const year = Number(row.bsns_year);
  const report = DART_REPORTS[row.reprt_code as DartReportCode];
  if (!report || !Number.isInteger(year)) return undefined;
  const instant = row.sj_div === 'BS';
  const shift = column.startsWith('bfefrmtrm') ? 2 : column.startsWith('frmtrm') ? 1 : 0;
  const fyStart = (y: number) => addDays(monthEnd(y - 1, fyeMonth, 12), 1);
  const reportEnd = (y: number) => monthEnd(y, fyeMonth, report.months);
  if (instant) {
    // Balance sheets compare with the prior fiscal year end, also in quarterly reports.
    if (shift === 0) return { end: reportEnd(year) };
    return { end: monthEnd(year - shift, fyeMonth, 12) };
  }
  const y = year - shift;
  if (report.months === 12 || column.endsWith('_add')) return { start: fyStart(y), end: reportEnd(y) };
  // Quarterly flows: IS/CIS columns are the three months of the quarter; CF/SCE are year to date.
  if (row.sj_div === 'IS' || row.sj_div === 'CIS') return { start: addDays(monthEnd(y, fyeMonth, report.months - 3), 1), end: reportEnd(y) };
  return { start: fyStart(y), end: reportEnd(y) };
}

const COLUMNS = [
  { column: 'thstrm', amount: 'thstrm_amount', dt: 'thstrm_dt' },
  { column: 'thstrm_add', amount: 'thstrm_add_amount', dt: undefined },
  { column: 'frmtrm', amount: 'frmtrm_amount', dt: 'frmtrm_dt' },
  { column: 'frmtrm_q', amount: 'frmtrm_q_amount', dt: undefined },
  { column: 'frmtrm_add', amount: 'frmtrm_add_amount', dt: undefined },
  { column: 'bfefrmtrm', amount: 'bfefrmtrm_amount', dt: 'bfefrmtrm_dt' },
] as const;

function conceptOf(row: Row): { concept: string; taxonomy: string } {
  const id = row.account_id?.trim();
  if (id && id !== NON_STANDARD_ID && id !== '-') return { concept: id, taxonomy: id.split('_')[0] ?? 'dart' };
  const name = row.account_nm.trim();
  const mapped = ACCOUNT_NAME_CONCEPTS[name];
  return mapped ? { concept: mapped, taxonomy: mapped.split('_')[0] ?? 'dart' } : { concept: name, taxonomy: 'dart-name' };
}

/** Map an OpenDART statement body to fact drafts (pure; exported for tests and offline use). */
export function parseDartStatements(
  body: unknown,
  ctx: { provider: string; symbol: string; fsDiv?: string; fiscalYearEndMonth?: number },
): { facts: FactDraft[]; warnings: string[]; noData: boolean } {
  const { provider, symbol } = ctx;
  const parsed = parseShape(DartBody, body, provider, symbol, 'OpenDART');
  if (parsed.status === '013') return { facts: [], warnings: [], noData: true };
  if (parsed.status !== '000') {
    const code = parsed.status === '020' ? 'E_PROVIDER_LIMIT' : ['010', '011', '012', '901'].includes(parsed.status) ? 'E_PROVIDER_AUTH' : 'E_PROVIDER';
    throw new ExtractError(code, `OpenDART status ${parsed.status}: ${parsed.message ?? ''}`.trim(), {
      provider,
      symbol,
      ...(parsed.status === '800' && { retriable: true }),
    });
  }
  const fyeMonth = ctx.fiscalYearEndMonth ?? 12;
  const warnings: string[] = [];
  const facts: FactDraft[] = [];
  let noFiling = 0;
  (parsed.list ?? []).forEach((row, i) => {
    const filed = compactDate(row.rcept_no);
    const report = DART_REPORTS[row.reprt_code as DartReportCode];
    const fsDiv = row.fs_div ?? ctx.fsDiv;
    if (!filed || !report || !fsDiv) {
      noFiling++;
      return;
    }
    const { concept, taxonomy } = conceptOf(row);
    const currency = typeof row.currency === 'string' && row.currency ? row.currency : 'KRW';
    const unit = /주당/.test(row.account_nm) ? `${currency}/shares` : currency;
    for (const c of COLUMNS) {
      const raw = row[c.amount];
      if (typeof raw !== 'string') continue;
      const amount = parseExactAmount(raw);
      if (amount === undefined) continue;
      const where = `list[${i}].${c.amount}`;
      if (!amount.ok) {
        warnings.push(`E_PRECISION: ${where} (${row.account_nm}) skipped: ${amount.reason}`);
        continue;
      }
      const period = (c.dt && parseDt(row[c.dt])) || derivePeriod(c.column, row, fyeMonth);
      if (!period) {
        warnings.push(`${where}: no period could be determined, skipped`);
        continue;
      }
      facts.push({
        where,
        fact: makeFact({
          symbol,
          concept,
          value: amount.value,
          unit,
          periodStart: period.start,
          periodEnd: period.end,
          fiscalYear: Number(row.bsns_year),
          fiscalPeriod: report.fiscalPeriod,
          form: `${report.form}-${fsDiv}`,
          filed,
          accession: row.rcept_no,
          taxonomy,
        }),
      });
    }
  });
  if (noFiling) warnings.push(`skipped ${noFiling} row(s) without a readable rcept_no, reprt_code or fs_div`);
  return { facts, warnings, noData: false };
}

export function createOpenDartProvider(opts: OpenDartOptions): FinancialProvider {
  const name = opts.name ?? 'opendart';
  const apiKey = requireOption(opts.apiKey, 'apiKey', name);
  const endpoint = opts.endpoint ?? 'fnlttSinglAcnt';
  const reports = opts.reports ?? (['11013', '11012', '11014', '11011'] as DartReportCode[]);
  const fsDivs = endpoint === 'fnlttSinglAcntAll' ? (opts.fsDivs ?? ['CFS']) : [undefined];
  const ctx = providerContext(opts, { name, baseUrl: 'https://opendart.fss.or.kr', secrets: [apiKey], rateLimit: { capacity: 5, refillPerSec: 5 } });

  return factProvider(ctx, opts.dedupe ?? 'filing', async (req) => {
    const corpCode = opts.corpCodes?.[req.symbol];
    if (!corpCode || !/^\d{8}$/.test(corpCode)) {
      throw new ExtractError('E_CONFIG', `no 8-digit corp_code configured for this symbol`, { provider: ctx.name, symbol: req.symbol });
    }
    const fye = typeof opts.fiscalYearEndMonth === 'object' ? opts.fiscalYearEndMonth[req.symbol] : opts.fiscalYearEndMonth;
    const thisYear = new Date(ctx.runtime.now()).getUTCFullYear();
    const since = parseCursor(req.cursor, ctx.name, req.symbol);
    // A report for business year Y is filed in Y or Y+1: start one year before the cursor's filing date.
    const first = since ? new Date(since.time).getUTCFullYear() - 1 : (opts.startYear ?? thisYear - 3);
    const years = opts.years ?? Array.from({ length: Math.max(0, thisYear - first + 1) }, (_, i) => first + i);

    const warnings: string[] = [];
    const facts: FactDraft[] = [];
    for (const year of years) {
      for (const reprt of reports) {
        for (const fsDiv of fsDivs) {
          const url = ctx.url(`/api/${endpoint}.json`, {
            crtfc_key: apiKey,
            corp_code: corpCode,
            bsns_year: year,
            reprt_code: reprt,
            fs_div: fsDiv,
          });
          const body = expectObject(await ctx.client.getJson(url, { symbol: req.symbol, signal: req.signal }), ctx.name, req.symbol, endpoint);
          const parsed = parseDartStatements(body, {
            provider: ctx.name,
            symbol: req.symbol,
            ...(fsDiv && { fsDiv }),
            ...(fye && { fiscalYearEndMonth: fye }),
          });
          facts.push(...parsed.facts);
          warnings.push(...parsed.warnings);
        }
      }
    }
    return { facts, warnings };
  });
}
