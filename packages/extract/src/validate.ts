import { RawFinancialFact, RawNewsArticle, RawPriceBar, SYMBOL_RE } from '@stock-mlops/contracts';
import type { z } from 'zod';
import { ExtractError } from './errors.ts';
import type { InvalidItemPolicy, ProviderItem } from './provider.ts';

export function assertSymbol(provider: string, symbol: string): void {
  if (typeof symbol !== 'string' || !SYMBOL_RE.test(symbol)) {
    throw new ExtractError('E_INVALID_SYMBOL', `invalid symbol ${JSON.stringify(String(symbol).slice(0, 40))}`, { provider });
  }
}

export function isValidSymbol(symbol: unknown): symbol is string {
  return typeof symbol === 'string' && SYMBOL_RE.test(symbol);
}

/**
 * Checks the contract schema does not make (yet): prices must be positive, volume non-negative,
 * and low <= open, close <= high (with a relative tolerance for float noise).
 */
export function priceBarProblems(bar: RawPriceBar): string[] {
  const problems: string[] = [];
  for (const k of ['open', 'high', 'low', 'close'] as const) if (!(bar[k] > 0)) problems.push(`${k} must be > 0`);
  if (bar.adjClose !== undefined && !(bar.adjClose > 0)) problems.push('adjClose must be > 0');
  if (!(bar.volume >= 0)) problems.push('volume must be >= 0');
  const eps = 1e-9 * Math.max(Math.abs(bar.high), 1);
  if (bar.low > Math.min(bar.open, bar.close) + eps) problems.push('low is above open/close');
  if (bar.high < Math.max(bar.open, bar.close) - eps) problems.push('high is below open/close');
  return problems;
}

export interface Candidate {
  idParts: Array<string | number>;
  eventTime: string;
  data: unknown;
  /** Where the item came from, for messages (`row 17`, `2024-06-18`). */
  where: string;
}

interface ValidateContext {
  provider: string;
  symbol: string;
  onInvalid: InvalidItemPolicy;
  warnings: string[];
}

function describe(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 4)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

function validateWith<T>(
  schema: z.ZodType<T>,
  extra: ((v: T) => string[]) | undefined,
  candidates: readonly Candidate[],
  ctx: ValidateContext,
): ProviderItem<T>[] {
  const out: ProviderItem<T>[] = [];
  let skipped = 0;
  let firstProblem = '';
  for (const c of candidates) {
    const parsed = schema.safeParse(c.data);
    const problem = parsed.success ? (extra?.(parsed.data) ?? []).join('; ') : describe(parsed.error.issues);
    if (problem || !parsed.success) {
      if (ctx.onInvalid === 'error') {
        throw new ExtractError('E_SCHEMA', `invalid item at ${c.where}: ${problem}`, { provider: ctx.provider, symbol: ctx.symbol });
      }
      skipped++;
      firstProblem ||= `${c.where}: ${problem}`;
      continue;
    }
    out.push({ idParts: c.idParts, eventTime: c.eventTime, data: parsed.data });
  }
  if (skipped) ctx.warnings.push(`skipped ${skipped} invalid item(s), first at ${firstProblem}`);
  return out;
}

export const validatePriceBars = (c: readonly Candidate[], ctx: ValidateContext) =>
  validateWith(RawPriceBar, priceBarProblems, c, ctx);
export const validateFacts = (c: readonly Candidate[], ctx: ValidateContext) => validateWith(RawFinancialFact, undefined, c, ctx);
export const validateArticles = (c: readonly Candidate[], ctx: ValidateContext) => validateWith(RawNewsArticle, undefined, c, ctx);

/**
 * A decimal string (thousands separators allowed, "(123)" or "-123" negative) as a number,
 * refusing integers beyond 2^53 - 1 instead of silently rounding them. `undefined` for the
 * blanks providers use for "no value" ("", "-").
 */
export function parseExactAmount(text: string): { ok: true; value: number } | { ok: false; reason: string } | undefined {
  let s = text.trim().replace(/,/g, '');
  if (s === '' || s === '-') return undefined;
  let negative = false;
  if (/^\(.*\)$/.test(s)) {
    negative = true;
    s = s.slice(1, -1);
  }
  if (!/^[-+]?\d+(\.\d+)?$/.test(s)) return { ok: false, reason: `"${text}" is not a number` };
  if (s.startsWith('-')) {
    negative = !negative;
    s = s.slice(1);
  } else if (s.startsWith('+')) s = s.slice(1);
  const [intPart = '0', frac = ''] = s.split('.');
  if (BigInt(intPart) > BigInt(Number.MAX_SAFE_INTEGER)) {
    return { ok: false, reason: `"${text}" exceeds 2^53 - 1 and cannot be represented exactly` };
  }
  if (frac && intPart.replace(/^0+/, '').length + frac.length > 15) {
    return { ok: false, reason: `"${text}" has more than 15 significant digits` };
  }
  const value = Number(s);
  return { ok: true, value: negative && value !== 0 ? -value : value };
}
