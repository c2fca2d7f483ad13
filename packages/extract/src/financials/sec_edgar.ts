import { z } from 'zod';
import { ExtractError } from '../errors.ts';
import type { FinancialProvider } from '../provider.ts';
import { parseShape, providerContext, requireOption, type HttpProviderOptions } from '../provider_support.ts';
import { factProvider, makeFact, type FactDedupe, type FactDraft } from './common.ts';

/**
 * SEC EDGAR XBRL companyfacts (`/api/xbrl/companyfacts/CIK##########.json`).
 *
 * Flattens `facts.<taxonomy>.<Tag>.units.<unit>[]` into one RawFinancialFact per entry:
 * concept = Tag, taxonomy = 'dei' | 'us-gaap' | ..., value = val, periodStart/End = start/end,
 * fiscalYear/fiscalPeriod = fy/fp, form, accession = accn, filed. Entries without fy/fp (facts
 * from 8-K exhibits carry null) cannot satisfy the contract and are skipped with a warning, as are
 * values beyond ±(2^53 - 1), which JSON cannot have carried exactly.
 *
 * The SEC requires a descriptive User-Agent with contact details: `userAgent` is mandatory, and
 * the SEC's fair-access limit (10 requests/s) is the default rate limit.
 */
export interface SecEdgarOptions extends HttpProviderOptions {
  /** e.g. "Example Corp data-team@example.com". */
  userAgent: string;
  /** Symbol → CIK (number or digits; zero-padded to 10). */
  ciks: Record<string, string | number>;
  /** Default ['dei', 'us-gaap']. */
  taxonomies?: string[];
  dedupe?: FactDedupe;
}

const EdgarFact = z.object({
  start: z.string().optional(),
  end: z.string(),
  val: z.number(),
  accn: z.string(),
  fy: z.number().nullable().optional(),
  fp: z.string().nullable().optional(),
  form: z.string(),
  filed: z.string(),
  frame: z.string().optional(),
});
const CompanyFacts = z.object({
  cik: z.union([z.number(), z.string()]).optional(),
  entityName: z.string().optional(),
  facts: z.record(z.string(), z.record(z.string(), z.object({ units: z.record(z.string(), z.array(EdgarFact)) }))),
});

/** Flatten a companyfacts body (pure; exported for tests and offline use). */
export function parseCompanyFacts(
  body: unknown,
  ctx: { provider: string; symbol: string; taxonomies?: string[] },
): { facts: FactDraft[]; warnings: string[] } {
  const { provider, symbol } = ctx;
  const parsed = parseShape(CompanyFacts, body, provider, symbol, 'companyfacts');
  const taxonomies = ctx.taxonomies ?? ['dei', 'us-gaap'];
  const warnings: string[] = [];
  const facts: FactDraft[] = [];
  let noFiscal = 0;
  let imprecise = 0;
  for (const taxonomy of taxonomies) {
    for (const [tag, concept] of Object.entries(parsed.facts[taxonomy] ?? {})) {
      for (const [unit, entries] of Object.entries(concept.units)) {
        entries.forEach((e, i) => {
          if (e.fy == null || !e.fp) {
            noFiscal++;
            return;
          }
          if (Number.isInteger(e.val) && !Number.isSafeInteger(e.val)) {
            imprecise++;
            return;
          }
          facts.push({
            where: `facts.${taxonomy}.${tag}.units.${unit}[${i}]`,
            fact: makeFact({
              symbol,
              concept: tag,
              value: e.val,
              unit,
              periodStart: e.start,
              periodEnd: e.end,
              fiscalYear: e.fy,
              fiscalPeriod: e.fp,
              form: e.form,
              filed: e.filed,
              accession: e.accn,
              taxonomy,
            }),
          });
        });
      }
    }
  }
  if (noFiscal) warnings.push(`skipped ${noFiscal} fact(s) without fy/fp (the contract requires fiscalYear and fiscalPeriod)`);
  if (imprecise) warnings.push(`E_PRECISION: skipped ${imprecise} fact(s) with |val| > 2^53 - 1 (possibly rounded in JSON)`);
  return { facts, warnings };
}

export function createSecEdgarProvider(opts: SecEdgarOptions): FinancialProvider {
  const name = opts.name ?? 'sec-edgar';
  const userAgent = requireOption(opts.userAgent?.trim(), 'userAgent (the SEC requires a User-Agent with contact details)', name);
  const ctx = providerContext(opts, { name, baseUrl: 'https://data.sec.gov', headers: { 'user-agent': userAgent }, rateLimit: { capacity: 10, refillPerSec: 10 } });

  return factProvider(ctx, opts.dedupe ?? 'filing', async (req) => {
    const raw = opts.ciks?.[req.symbol];
    const cik = raw === undefined ? '' : String(raw).replace(/^CIK/i, '');
    if (!/^\d{1,10}$/.test(cik)) {
      throw new ExtractError('E_CONFIG', `no CIK configured (ciks["${req.symbol}"] = ${JSON.stringify(raw)})`, { provider: ctx.name, symbol: req.symbol });
    }
    const url = ctx.url(`/api/xbrl/companyfacts/CIK${cik.padStart(10, '0')}.json`);
    const body = await ctx.client.getJson(url, { symbol: req.symbol, signal: req.signal });
    return parseCompanyFacts(body, {
      provider: ctx.name,
      symbol: req.symbol,
      ...(opts.taxonomies && { taxonomies: opts.taxonomies }),
    });
  });
}
