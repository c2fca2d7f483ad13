import type { Db, Document } from 'mongodb';
import type { ModelRef } from '@stock-mlops/contracts';
import { COLLECTIONS } from '@stock-mlops/load';
import { reportFromDocs, type PairedComparison } from '@stock-mlops/monitor';
import { CHART_CAP, type ChartStore } from './chart_store.ts';
import { eachPage, evidence, MONITORING_COLLECTIONS, PREDICTION_PROJECTION, type PredictionRow } from './queries.ts';

/**
 * The champion-versus-challenger panel's data, without HTTP: the registry's `production` and
 * `challenger` aliases of the price model, the challenger's shadow predictions of a symbol (in
 * memory, like the production ones: the loader stores them in `price_predictions_shadow`, the
 * feed keeps them current from the topic `pricePredictionsShadow`), the comparison of the monitor's
 * latest price report (its `challenger` rows: the selected symbol and all symbols, over the
 * same resolved events) and the newest promotion decision the monitor carried out
 * (`promotion_decisions`, written by services/monitor/src/promoter.ts).
 */

/** The model the monitor compares (it follows the price model only). */
export const CHALLENGED_MODEL = 'price';
/** Written by the monitor's promoter: one document per decision carried out. */
export const PROMOTION_DECISIONS = 'promotion_decisions';

export interface ComparisonReportView {
  reportId: string;
  evaluatedAt: string;
  /** The policy's action in that evaluation (`off`, `waiting`, `cooldown`, `promote`, `keep`, …) and why. */
  promotionAction: string;
  promotionReason: string;
  /** All symbols together, and the selected symbol (null when it has no paired outcome). Non-finite metrics are null. */
  overall: PairedComparison | null;
  symbol: PairedComparison | null;
}

export interface DecisionView {
  kind: string;
  /** `promote` or `keep`. */
  action: string;
  production: ModelRef;
  challenger: ModelRef;
  reason: string;
  evidence: Record<string, number>;
  decidedAt: string;
}

export interface ChallengerView {
  symbol: string;
  model: string;
  production: ModelRef | null;
  challenger: ModelRef | null;
  /** The current challenger's shadow predictions of the symbol, newest `limit` by asOf, oldest first ([] without a challenger). */
  predictions: PredictionRow[];
  historyComplete: boolean;
  /** The monitor's latest price report, when it compares a challenger (null otherwise). */
  comparison: ComparisonReportView | null;
  /** The newest decision on this model, whether or not a challenger exists now. */
  decision: DecisionView | null;
}

export interface ChallengerQueries {
  /** Every stored shadow prediction, once, at start (feed.ts). */
  eachShadowPrediction(onBatch: (predictions: PredictionRow[]) => void): Promise<number>;
  aliases(model: string): Promise<{ production: ModelRef | null; challenger: ModelRef | null }>;
  /** The latest price report's summary and challenger rows (undefined before the monitor writes one). */
  latestComparison(): Promise<Document[] | undefined>;
  latestDecision(model: string): Promise<DecisionView | null>;
}

export function createChallengerQueries(db: Db): ChallengerQueries {
  const col = (name: string) => db.collection(name);
  return {
    eachShadowPrediction(onBatch) {
      return eachPage(col(COLLECTIONS.shadowPredictions), PREDICTION_PROJECTION, onBatch as (d: Document[]) => void);
    },

    async aliases(model) {
      // Two `_id` lookups (an index read on every MongoDB-wire server), as the registry keys them.
      const [production, challenger] = await Promise.all(['production', 'challenger'].map((alias) => col('model_aliases').findOne({ _id: `${model}:${alias}` as never })));
      const ref = (d: Document | null | undefined): ModelRef | null => (d ? { name: model, version: Number(d.version) } : null);
      return { production: ref(production), challenger: ref(challenger) };
    },

    async latestComparison() {
      const [summary] = await col(MONITORING_COLLECTIONS.reports).find({ task: 'price', row: 'summary' }).sort({ evaluatedAtMs: -1 }).limit(1).toArray();
      if (!summary) return undefined;
      const rows = await col(MONITORING_COLLECTIONS.reports).find({ reportId: summary.reportId, row: 'challenger' }).limit(2_000).toArray();
      return [summary, ...rows];
    },

    async latestDecision(model) {
      const [d] = await col(PROMOTION_DECISIONS).find({ modelName: model }).sort({ decidedAtMs: -1 }).limit(1).toArray();
      if (!d) return null;
      return {
        kind: String(d.kind),
        action: String(d.action),
        production: { name: model, version: Number(d.productionVersion) },
        challenger: { name: model, version: Number(d.challengerVersion) },
        reason: String(d.reason ?? ''),
        evidence: evidence(d),
        decidedAt: String(d.decidedAt),
      };
    },
  };
}

/** The monitor's latest price report as the panel shows it: null when it compares no challenger. */
export function comparisonView(docs: Document[] | undefined, symbol: string): ComparisonReportView | null {
  const report = docs ? reportFromDocs(docs) : undefined;
  if (!report?.challenger) return null;
  return {
    reportId: report.reportId,
    evaluatedAt: report.evaluatedAt || new Date(report.evaluatedAtMs).toISOString(),
    promotionAction: report.promotionAction,
    promotionReason: report.promotionReason,
    overall: report.challenger.overall,
    symbol: report.challenger.symbols.find((c) => c.symbol === symbol) ?? null,
  };
}

export interface ChallengerDeps {
  queries: ChallengerQueries;
  /** The challenger's shadow predictions in memory (a chart store of its own, fed by feed.ts). */
  shadow: ChartStore;
}

export async function challengerView(d: ChallengerDeps, symbol: string, limit: number, historyComplete: boolean): Promise<ChallengerView> {
  const [aliases, comparison, decision] = await Promise.all([d.queries.aliases(CHALLENGED_MODEL), d.queries.latestComparison(), d.queries.latestDecision(CHALLENGED_MODEL)]);
  const challenger = aliases.challenger;
  // Only the current challenger's line: a former challenger's predictions are history.
  const predictions = challenger ? d.shadow.predictions(symbol, CHART_CAP).filter((p) => p.model.name === challenger.name && p.model.version === challenger.version).slice(-limit) : [];
  return { symbol, model: CHALLENGED_MODEL, ...aliases, predictions, historyComplete, comparison: comparisonView(comparison, symbol), decision };
}
