/**
 * Champion versus challenger on realized outcomes. Both versions' predictions are joined with
 * their outcomes by the same joiner (keys carry the version); here the two outcome sets are
 * paired on the event they predicted, (symbol, interval, as-of, horizon), so every number below
 * compares the two versions over the SAME events. Per side: the rolling metrics of
 * `rollingPerformance` (MAE/RMSE of the price, IC, rank IC, directional accuracy); the
 * zero-return forecast on the same events is the yardstick of both; the paired test is
 * Diebold–Mariano with the HLN correction on the return losses, pairs in as-of order.
 */
import type { ModelRef } from '@stock-mlops/contracts';
import { dieboldMariano, type LossKind } from '@stock-mlops/ml/evaluation/paired_tests';
import type { Outcome } from './joiner.ts';
import { rollingPerformance, type RollingPerformance } from './performance.ts';

export interface PairedComparison {
  modelName: string;
  productionVersion: number;
  challengerVersion: number;
  /** Empty for all symbols together. */
  symbol: string;
  /** Events both versions predicted and that are resolved. */
  n: number;
  /** As-of time of the oldest and newest paired event. */
  from: string;
  to: string;
  productionMae: number;
  productionRmse: number;
  productionDirectionalAccuracy: number;
  productionIc: number;
  productionRankIc: number;
  challengerMae: number;
  challengerRmse: number;
  challengerDirectionalAccuracy: number;
  challengerIc: number;
  challengerRankIc: number;
  /** The zero-return forecast (last close) on the same events. */
  zeroMae: number;
  zeroRmse: number;
  /** Challenger / production (< 1: the challenger errs less). */
  maeRatio: number;
  rmseRatio: number;
  /** Each version / the zero-return forecast. */
  productionMaeVsZero: number;
  productionRmseVsZero: number;
  challengerMaeVsZero: number;
  challengerRmseVsZero: number;
  /** Challenger IC − production IC. */
  icDifference: number;
  loss: LossKind;
  horizon: number;
  /** Mean of L(production) − L(challenger) on the returns (> 0: the challenger errs less). */
  meanLossDifference: number;
  dmStatistic: number;
  dmHlnStatistic: number;
  /** One-sided: the challenger's expected loss is lower. */
  dmPValue: number;
  dmPValueTwoSided: number;
}

export interface ChallengerReport {
  overall: PairedComparison;
  symbols: PairedComparison[];
}

const eventKeyOf = (o: Outcome) => `${o.symbol}|${o.interval}|${o.asOf}|${o.horizon}`;
const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);

/** Pairs of (production, challenger) outcomes of the same events, ascending by as-of time then symbol. */
export function pairOutcomes(production: readonly Outcome[], challenger: readonly Outcome[]): Array<[Outcome, Outcome]> {
  const byEvent = new Map(production.map((o) => [eventKeyOf(o), o]));
  const pairs: Array<[Outcome, Outcome]> = [];
  for (const c of challenger) {
    const p = byEvent.get(eventKeyOf(c));
    if (p) pairs.push([p, c]);
  }
  return pairs.sort(([a], [b]) => a.asOfMs - b.asOfMs || a.symbol.localeCompare(b.symbol));
}

/** The side-by-side metrics and the paired test over already-paired outcomes. */
export function comparePaired(production: ModelRef, challenger: ModelRef, symbol: string, pairs: ReadonlyArray<readonly [Outcome, Outcome]>, loss: LossKind): PairedComparison {
  const p = rollingPerformance(production, symbol, pairs.map(([a]) => a));
  const c = rollingPerformance(challenger, symbol, pairs.map(([, b]) => b));
  const z: RollingPerformance = rollingPerformance(production, symbol, pairs.map(([a]) => ({ ...a, predictedReturn: 0 })));
  const dm = dieboldMariano(
    { actual: pairs.map(([a]) => a.realizedReturn), production: pairs.map(([a]) => a.predictedReturn), challenger: pairs.map(([, b]) => b.predictedReturn) },
    { horizon: Math.max(1, ...pairs.map(([a]) => a.horizon)), loss },
  );
  return {
    modelName: production.name,
    productionVersion: production.version,
    challengerVersion: challenger.version,
    symbol,
    n: pairs.length,
    from: p.from,
    to: p.to,
    productionMae: p.mae,
    productionRmse: p.rmse,
    productionDirectionalAccuracy: p.directionalAccuracy,
    productionIc: p.ic,
    productionRankIc: p.rankIc,
    challengerMae: c.mae,
    challengerRmse: c.rmse,
    challengerDirectionalAccuracy: c.directionalAccuracy,
    challengerIc: c.ic,
    challengerRankIc: c.rankIc,
    zeroMae: z.mae,
    zeroRmse: z.rmse,
    maeRatio: ratio(c.mae, p.mae),
    rmseRatio: ratio(c.rmse, p.rmse),
    productionMaeVsZero: ratio(p.mae, z.mae),
    productionRmseVsZero: ratio(p.rmse, z.rmse),
    challengerMaeVsZero: ratio(c.mae, z.mae),
    challengerRmseVsZero: ratio(c.rmse, z.rmse),
    icDifference: c.ic - p.ic,
    loss,
    horizon: dm.horizon,
    meanLossDifference: dm.meanDifference,
    dmStatistic: dm.statistic,
    dmHlnStatistic: dm.hlnStatistic,
    dmPValue: dm.pValue,
    dmPValueTwoSided: dm.pValueTwoSided,
  };
}

/** Both versions over their common resolved events: overall and per symbol. */
export function compareChallenger(
  production: { model: ModelRef; outcomes: readonly Outcome[] },
  challenger: { model: ModelRef; outcomes: readonly Outcome[] },
  loss: LossKind,
): ChallengerReport {
  const pairs = pairOutcomes(production.outcomes, challenger.outcomes);
  const bySymbol = new Map<string, Array<[Outcome, Outcome]>>();
  for (const pair of pairs) {
    const list = bySymbol.get(pair[0].symbol) ?? [];
    list.push(pair);
    bySymbol.set(pair[0].symbol, list);
  }
  return {
    overall: comparePaired(production.model, challenger.model, '', pairs, loss),
    symbols: [...bySymbol.keys()].sort().map((s) => comparePaired(production.model, challenger.model, s, bySymbol.get(s)!, loss)),
  };
}
