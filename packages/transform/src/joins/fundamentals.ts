/**
 * Point-in-time join of financial-statement facts onto bars (per symbol, pure, serializable).
 *
 * Known-at rule: a fact is known to a bar of UTC day D when it was filed strictly before D
 * (`filed < D`). The period end never decides visibility — a 10-K for the year ending in
 * September is filed in October/November and is invisible until then. A restatement (same
 * concept and period, later `filed`) replaces the earlier value from its own filing date on.
 *
 * Measures (first concept in each list that yields a value wins; SEC us-gaap/dei tags and
 * their IFRS/OpenDART equivalents):
 *   eps       per-share earnings, a duration (unit `…/shares`)
 *   netIncome profit, a duration (currency unit)
 *   equity    shareholders' equity, an instant (currency unit)
 *   shares    common shares outstanding, an instant (unit `shares`)
 *
 * Trailing twelve months (TTM) of a duration measure at period end E, from known facts only:
 *   1. a ~12-month fact ending at E (350–380 days);
 *   2. else FY + YTD − prior YTD: a year-to-date fact (80–290 days) ending at E, the fiscal year
 *      ending the day before it starts (±7 days), and the same-length YTD ending a year before E
 *      (±7 days) — the standard TTM formula (10-Qs report YTD, 10-Ks report no Q4);
 *   3. else the sum of four consecutive ~quarter facts (80–100 days) ending at E.
 * The latest E (not older than STALE_DAYS before D) for which a TTM exists is used.
 *
 * Features (raw close P = close / adjFactor, i.e. in the share basis of the day, like the filings):
 *   fund_eps_avail        1 when TTM EPS is known: TTM net income / latest shares outstanding, else
 *                         the TTM of reported EPS (per-share TTMs can mix share bases across a split)
 *   fund_earnings_yield   EPS_ttm / P, clipped to ±1 (carries the sign when earnings are negative)
 *   fund_pe               P / EPS_ttm when EPS_ttm > 0 (clipped to ≤ 1000), else 0
 *   fund_pb_avail         1 when equity and shares outstanding are known
 *   fund_pb               P / (equity / shares) when book value > 0 (clipped to ≤ 1000), else 0
 *   fund_growth_avail     1 when the TTM a year before (E − 365 ± 10 days) exists and is ≠ 0
 *   fund_eps_growth_yoy   (TTM(E) − TTM(E − 1y)) / |TTM(E − 1y)| of the same measure (net income
 *                         when EPS came from it), clipped to ±10
 *
 * Share basis: P must be in the share basis of the day (true for live prices). Historical files
 * whose closes were split-adjusted later (Yahoo CSV "Close") put earlier bars in a later basis:
 * before such a split, fund_earnings_yield / fund_pe / fund_pb are off by the split ratio (AAPL
 * before its 2014 7:1 split: P/E ≈ 2 instead of ≈ 14). Growth and the flags are unaffected. The
 * facts themselves cannot fix this without looking ahead (the split is in the future of the bar).
 *   fund_filing_age       (D − the latest filing date among known, non-stale facts) / 365, clipped to [0, 10]
 * Every value is 0 when its input is unknown; the *_avail flags tell 0 from unknown.
 */
import { TransformError } from '../errors.ts';
import { checkSnapshot, isFiniteNumber } from '../features/state.ts';
import { dayNumber, isDate } from './time.ts';

export interface FinancialFact {
  symbol: string;
  concept: string;
  value: number;
  unit: string;
  periodStart?: string | undefined;
  periodEnd: string;
  form: string;
  /** YYYY-MM-DD: the day the fact became public. */
  filed: string;
}

type Measure = 'eps' | 'netIncome' | 'equity' | 'shares';

export const FUNDAMENTAL_CONCEPTS: Readonly<Record<Measure, readonly string[]>> = Object.freeze({
  eps: ['EarningsPerShareDiluted', 'EarningsPerShareBasic', 'ifrs-full_DilutedEarningsLossPerShare', 'ifrs-full_BasicEarningsLossPerShare'],
  netIncome: ['NetIncomeLoss', 'ProfitLoss', 'ifrs-full_ProfitLossAttributableToOwnersOfParent', 'ifrs-full_ProfitLoss'],
  equity: ['StockholdersEquity', 'StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest', 'ifrs-full_EquityAttributableToOwnersOfParent', 'ifrs-full_Equity'],
  shares: ['EntityCommonStockSharesOutstanding', 'CommonStockSharesOutstanding', 'ifrs-full_NumberOfSharesOutstanding'],
});

const MEASURE_OF = new Map<string, Measure>(
  (Object.entries(FUNDAMENTAL_CONCEPTS) as [Measure, readonly string[]][]).flatMap(([m, cs]) => cs.map((c) => [c, m] as const)),
);

export const FUNDAMENTAL_FEATURES = Object.freeze([
  'fund_eps_avail',
  'fund_earnings_yield',
  'fund_pe',
  'fund_pb_avail',
  'fund_pb',
  'fund_growth_avail',
  'fund_eps_growth_yoy',
  'fund_filing_age',
] as const);

/** A fact's period must have ended at most this long before the bar's day to be used. */
export const STALE_DAYS = 550;
/** Facts whose period ended this long before the watermark can no longer matter: dropped. */
const RETAIN_DAYS = 1_400;
/** Hard bound on stored facts per symbol (beyond it new facts are ignored and counted). */
export const MAX_FACTS = 20_000;

/** One stored fact version: start/end/filed as day numbers (s = -1 for instants). */
interface Entry {
  s: number;
  e: number;
  v: number;
  f: number;
}

export interface FundamentalsSnapshot {
  kind: 'Fundamentals';
  version: 1;
  /** concept → [s, e, v, f][] */
  facts: Record<string, [number, number, number, number][]>;
}

interface Memo {
  day: number;
  revision: number;
  ttm: { value: number; previous?: number } | undefined;
  equity: number | undefined;
  shares: number | undefined;
  lastFiled: number;
}

export type FactOutcome = { ok: true; stored: boolean } | { ok: false; code: 'E_BAD_FACT' | 'E_FACT_LIMIT'; reason: string };

function unitFits(measure: Measure, unit: string): boolean {
  if (measure === 'eps') return unit.endsWith('/shares');
  if (measure === 'shares') return unit === 'shares';
  return /^[A-Z]{3}$/.test(unit);
}

const isDuration = (x: Entry, lo: number, hi: number) => x.s >= 0 && x.e - x.s + 1 >= lo && x.e - x.s + 1 <= hi;
const near = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol;
const clip = (x: number, lo: number, hi: number) => (x < lo ? lo : x > hi ? hi : x);

export class FundamentalsJoin {
  /** concept → entries, kept sorted by (e, s, f, v) so every scan is deterministic. */
  private facts = new Map<string, Entry[]>();
  private count = 0;
  /** Bumped on every change of the stored facts (invalidates the memo). */
  private revision = 0;
  private memo: Memo | undefined;

  get size(): number {
    return this.count;
  }

  /** Stores a fact when it is one of the tracked concepts; other concepts are accepted and ignored. */
  add(fact: FinancialFact): FactOutcome {
    const measure = MEASURE_OF.get(fact.concept);
    if (!isFiniteNumber(fact.value) || !isDate(fact.periodEnd) || !isDate(fact.filed) || (fact.periodStart !== undefined && !isDate(fact.periodStart))) {
      return { ok: false, code: 'E_BAD_FACT', reason: `fact ${fact.concept}: value, periodStart, periodEnd and filed must be finite / YYYY-MM-DD` };
    }
    if (measure === undefined || !unitFits(measure, fact.unit)) return { ok: true, stored: false };
    const x: Entry = { s: fact.periodStart === undefined ? -1 : dayNumber(fact.periodStart), e: dayNumber(fact.periodEnd), v: fact.value, f: dayNumber(fact.filed) };
    if (x.s > x.e) return { ok: false, code: 'E_BAD_FACT', reason: `fact ${fact.concept}: periodStart after periodEnd` };
    const list = this.facts.get(fact.concept) ?? [];
    const same = list.find((y) => y.s === x.s && y.e === x.e && y.v === x.v);
    if (same) {
      // The same value filed again adds nothing; filed earlier, it was known earlier.
      if (x.f >= same.f) return { ok: true, stored: false };
      same.f = x.f;
      list.sort(order);
      this.revision++;
      return { ok: true, stored: true };
    }
    if (this.count >= MAX_FACTS) return { ok: false, code: 'E_FACT_LIMIT', reason: `more than ${MAX_FACTS} facts stored for ${fact.symbol}` };
    list.push(x);
    list.sort(order);
    this.facts.set(fact.concept, list);
    this.count++;
    this.revision++;
    return { ok: true, stored: true };
  }

  /** Drops facts that no bar after `watermarkDay` can use. */
  prune(watermarkDay: number): void {
    const cutoff = watermarkDay - RETAIN_DAYS;
    for (const [concept, list] of this.facts) {
      if ((list[0] as Entry).e >= cutoff) continue; // sorted by end: nothing to drop
      const kept = list.filter((x) => x.e >= cutoff);
      if (kept.length === list.length) continue;
      this.count -= list.length - kept.length;
      this.revision++;
      if (kept.length) this.facts.set(concept, kept);
      else this.facts.delete(concept);
    }
  }

  /** Feature values for a bar of day `day` (day number) with raw close `price`, FUNDAMENTAL_FEATURES order. */
  features(day: number, price: number): number[] {
    if (this.count === 0) return new Array<number>(FUNDAMENTAL_FEATURES.length).fill(0);
    if (this.memo?.day !== day || this.memo.revision !== this.revision) this.memo = { day, revision: this.revision, ...this.known(day) };
    const { ttm, equity, shares, lastFiled } = this.memo;
    const out = new Array<number>(FUNDAMENTAL_FEATURES.length).fill(0);
    if (ttm) {
      out[0] = 1;
      out[1] = clip(ttm.value / price, -1, 1);
      out[2] = ttm.value > 0 ? Math.min(price / ttm.value, 1000) : 0;
      if (ttm.previous !== undefined && ttm.previous !== 0) {
        out[5] = 1;
        out[6] = clip((ttm.value - ttm.previous) / Math.abs(ttm.previous), -10, 10);
      }
    }
    if (equity !== undefined && shares !== undefined && shares > 0) {
      out[3] = 1;
      const bvps = equity / shares;
      out[4] = bvps > 0 ? Math.min(price / bvps, 1000) : 0;
    }
    if (lastFiled >= 0) out[7] = clip((day - lastFiled) / 365, 0, 10);
    return out.map((v) => (v === 0 ? 0 : v));
  }

  /** Everything the features need that depends only on the day and the stored facts (memoised per day). */
  private known(day: number): Omit<Memo, 'day' | 'revision'> {
    const known = (concept: string) => (this.facts.get(concept) ?? []).filter((x) => x.f < day);
    let lastFiled = -1;
    for (const concept of this.facts.keys()) for (const x of known(concept)) if (x.f > lastFiled && x.e >= day - STALE_DAYS) lastFiled = x.f;
    return {
      ttm: this.epsFromNetIncome(day, known) ?? this.ttmMeasure('eps', day, known),
      equity: this.instant('equity', day, known),
      shares: this.instant('shares', day, known),
      lastFiled,
    };
  }

  /**
   * TTM EPS as TTM net income / latest shares outstanding (growth then compares net income).
   * Preferred over reported per-share figures: a TTM built from per-share facts of filings made
   * before and after a stock split mixes share bases, net income has no share basis at all.
   */
  private epsFromNetIncome(day: number, known: (c: string) => Entry[]): { value: number; previous?: number } | undefined {
    const ni = this.ttmMeasure('netIncome', day, known);
    const shares = this.instant('shares', day, known);
    if (!ni || shares === undefined || shares <= 0) return undefined;
    return { value: ni.value / shares, ...(ni.previous !== undefined ? { previous: ni.previous / shares } : {}) };
  }

  private ttmMeasure(measure: Measure, day: number, known: (c: string) => Entry[]): { value: number; previous?: number } | undefined {
    for (const concept of FUNDAMENTAL_CONCEPTS[measure]) {
      const facts = latestVersions(known(concept));
      const ends = [...new Set(facts.filter((x) => x.s >= 0 && x.e >= day - STALE_DAYS).map((x) => x.e))].sort((a, b) => b - a);
      for (const end of ends) {
        const value = ttmAt(facts, end);
        if (value === undefined) continue;
        let previous: number | undefined;
        const earlier = [...new Set(facts.filter((x) => x.s >= 0 && near(x.e, end - 365, 10)).map((x) => x.e))].sort((a, b) => Math.abs(a - (end - 365)) - Math.abs(b - (end - 365)) || a - b);
        for (const e of earlier) {
          previous = ttmAt(facts, e);
          if (previous !== undefined) break;
        }
        return previous === undefined ? { value } : { value, previous };
      }
    }
    return undefined;
  }

  private instant(measure: Measure, day: number, known: (c: string) => Entry[]): number | undefined {
    for (const concept of FUNDAMENTAL_CONCEPTS[measure]) {
      const facts = latestVersions(known(concept)).filter((x) => x.s < 0 && x.e >= day - STALE_DAYS);
      const last = facts.at(-1);
      if (last) return last.v;
    }
    return undefined;
  }

  snapshot(): FundamentalsSnapshot {
    const facts: FundamentalsSnapshot['facts'] = {};
    for (const [concept, list] of [...this.facts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      facts[concept] = list.map((x) => [x.s, x.e, x.v, x.f]);
    }
    return { kind: 'Fundamentals', version: 1, facts };
  }

  static restore(s: FundamentalsSnapshot): FundamentalsJoin {
    checkSnapshot(typeof s === 'object' && s !== null && s.kind === 'Fundamentals' && s.version === 1, 'expected a Fundamentals snapshot');
    checkSnapshot(typeof s.facts === 'object' && s.facts !== null, 'Fundamentals.facts');
    const j = new FundamentalsJoin();
    for (const [concept, list] of Object.entries(s.facts)) {
      checkSnapshot(MEASURE_OF.has(concept) && Array.isArray(list), `Fundamentals.facts.${concept}`);
      const entries = list.map((t) => {
        checkSnapshot(Array.isArray(t) && t.length === 4 && t.every(isFiniteNumber), `Fundamentals.facts.${concept} entry`);
        return { s: t[0], e: t[1], v: t[2], f: t[3] };
      });
      j.facts.set(concept, entries.sort(order));
      j.count += entries.length;
    }
    if (j.count > MAX_FACTS) throw new TransformError('E_BAD_SNAPSHOT', `invalid snapshot: more than ${MAX_FACTS} facts`);
    return j;
  }
}

function order(a: Entry, b: Entry): number {
  return a.e - b.e || a.s - b.s || a.f - b.f || a.v - b.v;
}

/** For each (start, end) period, the version filed last (ties: the larger value), sorted by (e, s). */
function latestVersions(facts: readonly Entry[]): Entry[] {
  const by = new Map<string, Entry>();
  for (const x of facts) {
    const k = `${x.s}|${x.e}`;
    const cur = by.get(k);
    if (!cur || x.f > cur.f || (x.f === cur.f && x.v > cur.v)) by.set(k, x);
  }
  return [...by.values()].sort(order);
}

/** TTM of a duration measure for the period ending at `end` (see the module comment), or undefined. */
function ttmAt(facts: readonly Entry[], end: number): number | undefined {
  const ending = facts.filter((x) => x.e === end);
  const annual = ending.find((x) => isDuration(x, 350, 380));
  if (annual) return annual.v;
  const ytds = ending.filter((x) => isDuration(x, 80, 290)).sort((a, b) => a.s - b.s);
  for (const ytd of ytds) {
    const length = ytd.e - ytd.s;
    const fy = facts.find((x) => isDuration(x, 350, 380) && near(x.e, ytd.s - 1, 7));
    const prior = facts.find((x) => x.s >= 0 && near(x.e, end - 365, 7) && near(x.e - x.s, length, 7));
    if (fy && prior) return fy.v + ytd.v - prior.v;
  }
  let sum = 0;
  let e = end;
  for (let q = 0; q < 4; q++) {
    const quarter = facts.find((x) => isDuration(x, 80, 100) && near(x.e, e, q === 0 ? 0 : 7));
    if (!quarter) return undefined;
    sum += quarter.v;
    e = quarter.s - 1;
  }
  return sum;
}
