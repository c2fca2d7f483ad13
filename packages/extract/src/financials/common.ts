import type { RawFinancialFact } from '@stock-mlops/contracts';
import { nextCursor, sliceAfter } from '../cursor.ts';
import type { FetchRequest, FetchResult, FinancialProvider, InvalidItemPolicy } from '../provider.ts';
import { symbolProvider, type ProviderContext } from '../provider_support.ts';
import { validateFacts, type Candidate } from '../validate.ts';

export interface FactDraft {
  fact: RawFinancialFact;
  where: string;
}

/** Natural key of a fact: the same fact from the same filing always gets the same id. */
export function factIdParts(f: RawFinancialFact): Array<string | number> {
  return [f.symbol, f.concept, f.unit, f.periodStart ?? '', f.periodEnd, f.form, f.accession ?? '', f.filed];
}

export function makeFact(fields: RawFinancialFact): RawFinancialFact {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out as RawFinancialFact;
}

/**
 * How facts repeated across filings are collapsed (each filing restates earlier periods as
 * comparatives):
 * - 'filing' (default): keep every (concept, unit, period, form, accession) once. Every filing's
 *   report of a value is an event, which is what point-in-time training needs.
 * - 'first-report': keep only the first filing (earliest `filed`, then accession) of each
 *   (concept, unit, period, value); a restatement (new value) is kept as a new fact.
 */
export type FactDedupe = 'filing' | 'first-report';

const factOrder = (a: FactDraft, b: FactDraft) =>
  a.fact.filed.localeCompare(b.fact.filed) ||
  (a.fact.accession ?? '').localeCompare(b.fact.accession ?? '') ||
  a.fact.concept.localeCompare(b.fact.concept) ||
  a.fact.unit.localeCompare(b.fact.unit) ||
  (a.fact.periodStart ?? '').localeCompare(b.fact.periodStart ?? '') ||
  a.fact.periodEnd.localeCompare(b.fact.periodEnd) ||
  a.fact.form.localeCompare(b.fact.form) ||
  a.fact.value - b.fact.value;

export function dedupeFacts(drafts: readonly FactDraft[], mode: FactDedupe, warnings: string[]): FactDraft[] {
  const sorted = [...drafts].sort(factOrder);
  const seen = new Map<string, number>();
  const out: FactDraft[] = [];
  let conflicts = 0;
  let repeats = 0;
  for (const d of sorted) {
    const f = d.fact;
    const key =
      mode === 'filing'
        ? factIdParts(f).join('\u001f')
        : [f.symbol, f.concept, f.unit, f.periodStart ?? '', f.periodEnd, f.value].join('\u001f');
    const prev = seen.get(key);
    if (prev === undefined) {
      seen.set(key, f.value);
      out.push(d);
    } else if (prev === f.value || mode === 'first-report') repeats++;
    else conflicts++;
  }
  if (conflicts) warnings.push(`${conflicts} fact(s) share a natural key with a different value: kept the smallest value's first occurrence`);
  if (repeats && mode === 'filing') warnings.push(`dropped ${repeats} exact duplicate fact(s)`);
  return out;
}

/** Facts are delivered in filing order; the cursor is the last filing date plus the accessions seen on it. */
const factCursor = { time: (d: { fact: RawFinancialFact }) => d.fact.filed, key: (d: { fact: RawFinancialFact }) => d.fact.accession ?? '' };

export function finishFacts(
  drafts: readonly FactDraft[],
  req: FetchRequest,
  opts: { provider: string; onInvalid: InvalidItemPolicy; warnings: string[] },
): FetchResult<RawFinancialFact> {
  const ctx = { provider: opts.provider, symbol: req.symbol };
  const window = sliceAfter<FactDraft>(drafts, req.cursor, req.until, factCursor, ctx);
  const candidates: Candidate[] = window.map((d) => ({
    idParts: factIdParts(d.fact),
    eventTime: `${d.fact.filed}T00:00:00.000Z`,
    data: d.fact,
    where: d.where,
  }));
  const items = validateFacts(candidates, { ...ctx, onInvalid: opts.onInvalid, warnings: opts.warnings });
  return {
    items,
    nextCursor: nextCursor(
      items.map((i) => ({ fact: i.data })),
      req.cursor,
      factCursor,
    ),
    warnings: opts.warnings,
  };
}

/** A financials provider: `fetchSince` checks the symbol, fetches and parses with `fetchFacts`, then dedupes and finishes the facts. */
export function factProvider(
  ctx: ProviderContext,
  dedupe: FactDedupe,
  fetchFacts: (req: FetchRequest) => Promise<{ facts: FactDraft[]; warnings: string[] }>,
): FinancialProvider {
  return symbolProvider(ctx, 'financials', async (req) => {
    const { facts, warnings } = await fetchFacts(req);
    return finishFacts(dedupeFacts(facts, dedupe, warnings), req, { provider: ctx.name, onInvalid: ctx.onInvalid, warnings });
  });
}
