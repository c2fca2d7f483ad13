/**
 * MongoDB persistence of the monitor (FerretDB-compatible): flat documents keyed by natural
 * keys. Records are written insert-if-absent (their documents are deterministic functions of
 * the key, so a redelivered batch changes nothing; FerretDB's SQLite backend scans a collection
 * on every update but checks `_id` in its index on insert). A prediction and its outcome are
 * two documents with the same key in two collections, so resolving one is an insert too. Only
 * the small state and alert collections are updated in place. The in-memory core is a cache of
 * these collections, rebuilt from them at start.
 */
import type { AnyBulkWriteOperation, Db, Document } from 'mongodb';
import type { ModelRef } from '@stock-mlops/contracts';
import { Database } from '@stock-mlops/load';
import {
  reportFromDocs,
  reportToDocs,
  type LiveFeature,
  type LiveSentiment,
  type MonitoringReport,
  type ObservedPrediction,
  type Outcome,
  type PromotionState,
  type Task,
  type TriggerDecision,
  type TriggerState,
} from '@stock-mlops/monitor';

/** Reads answered in one reply: no cursor left open on the server between batches. */
const ONE_REPLY = { batchSize: 100_000 } as const;

export const MONITOR_COLLECTIONS = {
  reports: 'monitoring_reports',
  alerts: 'alerts',
  bars: 'monitor_bars',
  predictions: 'monitor_predictions',
  outcomes: 'monitor_outcomes',
  features: 'monitor_features',
  sentiment: 'monitor_sentiment',
  state: 'monitor_state',
  /** Live promotion decisions carried out (promoted or kept), with their evidence: one per `challenger_promoted` / `challenger_kept` event. */
  promotions: 'promotion_decisions',
} as const;

export interface PromotionDecisionDoc {
  /** `<kind>|<model>|<challenger version>|<decidedAtMs>`: the monitor event's id parts. */
  _id: string;
  kind: 'challenger_promoted' | 'challenger_kept';
  action: 'promote' | 'keep';
  task: 'price';
  modelName: string;
  productionVersion: number;
  challengerVersion: number;
  reason: string;
  evidenceNames: string[];
  evidenceValues: number[];
  decidedAt: string;
  decidedAtMs: number;
}

export interface AlertDoc {
  _id: string;
  incidentId: string;
  task: Task;
  kind: 'retrain_requested';
  modelName: string;
  modelVersion: number;
  reason: string;
  breaches: string[];
  evidenceNames: string[];
  evidenceValues: number[];
  openedAt: string;
  openedAtMs: number;
  status: 'open' | 'closed';
  closedAt?: string;
  closeReason?: string;
  occurrences: number;
  lastSeenAt: string;
}

interface PredictionDoc {
  _id: string;
  symbol: string;
  interval: string;
  asOf: string;
  asOfMs: number;
  horizon: number;
  lastClose: number;
  predictedReturn: number;
  modelName: string;
  modelVersion: number;
  traceId?: string;
}

interface OutcomeDoc {
  _id: string;
  asOfMs: number;
  realizedReturn: number;
  realizedTs: string;
}

export interface Restored {
  bars: Array<{ symbol: string; interval: string; ts: string; close: number }>;
  pending: ObservedPrediction[];
  outcomes: Outcome[];
  features: LiveFeature[];
  sentiment: LiveSentiment[];
  triggers: TriggerState[];
  promotions: PromotionState[];
}

const upsert = <T extends { _id: string }>(docs: readonly T[]): AnyBulkWriteOperation<Document>[] =>
  docs.map(({ _id, ...rest }) => ({ updateOne: { filter: { _id }, update: { $set: rest as Document }, upsert: true } }) as unknown as AnyBulkWriteOperation<Document>);

/** Drop undefined fields (the driver would store them as null). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export class MonitorStore {
  private readonly database: Database;

  constructor(private readonly db: Db) {
    this.database = new Database(db);
  }

  private async insert(name: (typeof MONITOR_COLLECTIONS)[keyof typeof MONITOR_COLLECTIONS], docs: Array<{ _id: string }>): Promise<void> {
    await this.database.insertIfAbsent(name, docs);
  }

  private col(name: (typeof MONITOR_COLLECTIONS)[keyof typeof MONITOR_COLLECTIONS]) {
    return this.db.collection<Document>(name);
  }

  private async write(name: (typeof MONITOR_COLLECTIONS)[keyof typeof MONITOR_COLLECTIONS], ops: AnyBulkWriteOperation<Document>[]): Promise<void> {
    if (ops.length) await this.col(name).bulkWrite(ops, { ordered: false });
  }

  async ensureIndexes(): Promise<void> {
    await this.col(MONITOR_COLLECTIONS.reports).createIndex({ task: 1, row: 1, evaluatedAtMs: -1 });
    await this.col(MONITOR_COLLECTIONS.reports).createIndex({ reportId: 1 });
    await this.col(MONITOR_COLLECTIONS.promotions).createIndex({ modelName: 1, decidedAtMs: -1 });
  }

  saveBars(bars: ReadonlyArray<{ symbol: string; interval: string; ts: string; close: number }>): Promise<void> {
    return this.insert(
      MONITOR_COLLECTIONS.bars,
      bars.map((b) => ({ _id: `${b.symbol}|${b.interval}|${b.ts}`, symbol: b.symbol, interval: b.interval, ts: b.ts, tMs: Date.parse(b.ts), close: b.close })),
    );
  }

  private predictionDoc(p: ObservedPrediction): PredictionDoc {
    return defined({
      _id: p.key,
      symbol: p.symbol,
      interval: p.interval,
      asOf: p.asOf,
      asOfMs: Date.parse(p.asOf),
      horizon: p.horizon,
      lastClose: p.lastClose,
      predictedReturn: p.predictedReturn,
      modelName: p.model.name,
      modelVersion: p.model.version,
      traceId: p.traceId,
    });
  }

  /** Every prediction (resolved or not) and the outcomes resolved in this batch. */
  async savePredictions(predictions: readonly ObservedPrediction[], outcomes: readonly Outcome[]): Promise<void> {
    await this.insert(MONITOR_COLLECTIONS.predictions, [...predictions, ...outcomes].map((p) => this.predictionDoc(p)));
    await this.insert(
      MONITOR_COLLECTIONS.outcomes,
      outcomes.map((o): OutcomeDoc => ({ _id: o.key, asOfMs: o.asOfMs, realizedReturn: o.realizedReturn, realizedTs: o.realizedTs })),
    );
  }

  saveFeatures(features: readonly LiveFeature[]): Promise<void> {
    return this.insert(
      MONITOR_COLLECTIONS.features,
      // Values as a JSON string: FerretDB reads a string ~6× faster than an array of 65 numbers.
      // Names are not stored: the schema hash fixes them, and drift reads nameless vectors in
      // the reference's order after matching the hash.
      features.map((f) => ({ _id: f.key, symbol: f.symbol, ts: f.ts, tMs: f.tMs, schemaHash: f.schemaHash, values: JSON.stringify(f.values) })),
    );
  }

  saveSentiment(items: readonly LiveSentiment[]): Promise<void> {
    return this.insert(
      MONITOR_COLLECTIONS.sentiment,
      items.map((s) => ({ _id: s.key, tMs: s.tMs, label: s.label, modelName: s.model.name, modelVersion: s.model.version })),
    );
  }

  saveTriggerState(state: TriggerState): Promise<void> {
    return this.write(MONITOR_COLLECTIONS.state, upsert([defined({ _id: `trigger|${state.task}`, ...state })]));
  }

  savePromotionState(state: PromotionState): Promise<void> {
    return this.write(MONITOR_COLLECTIONS.state, upsert([defined({ _id: `promotion|${state.modelName}`, ...state })]));
  }

  /** A decision carried out (after its event was published): what the dashboard shows as the latest decision. */
  async saveDecision(doc: PromotionDecisionDoc): Promise<void> {
    await this.insert(MONITOR_COLLECTIONS.promotions, [doc]);
  }

  async saveReport(report: MonitoringReport): Promise<void> {
    await this.insert(MONITOR_COLLECTIONS.reports, reportToDocs(report));
  }

  async latestReport(task: Task, modelVersion?: number): Promise<MonitoringReport | undefined> {
    const filter: Document = { task, row: 'summary', ...(modelVersion ? { modelVersion } : {}) };
    const [summary] = await this.col(MONITOR_COLLECTIONS.reports).find(filter).sort({ evaluatedAtMs: -1 }).limit(1).toArray();
    if (!summary) return undefined;
    const docs = await this.col(MONITOR_COLLECTIONS.reports).find({ reportId: summary.reportId }).toArray();
    return reportFromDocs(docs);
  }

  async recordDecision(task: Task, decision: TriggerDecision, nowMs: number): Promise<void> {
    const now = new Date(nowMs).toISOString();
    const alerts = this.col(MONITOR_COLLECTIONS.alerts);
    if (decision.request) {
      const r = decision.request;
      const doc: AlertDoc = {
        _id: r.incidentId,
        incidentId: r.incidentId,
        task,
        kind: 'retrain_requested',
        modelName: r.model.name,
        modelVersion: r.model.version,
        reason: r.reason,
        breaches: r.breaches,
        evidenceNames: Object.keys(r.evidence),
        evidenceValues: Object.values(r.evidence),
        openedAt: now,
        openedAtMs: nowMs,
        status: 'open',
        occurrences: 1,
        lastSeenAt: now,
      };
      await this.insert(MONITOR_COLLECTIONS.alerts, [doc]);
    } else if (decision.action === 'deduplicated' && decision.state.incidentId) {
      await alerts.updateOne({ _id: decision.state.incidentId as never }, { $set: { occurrences: decision.state.incidentOccurrences, lastSeenAt: now } });
    }
    if (decision.closed) await this.closeAlert(decision.closed.incidentId, decision.closed.reason, nowMs);
  }

  async closeAlert(incidentId: string, reason: string, nowMs: number): Promise<void> {
    await this.col(MONITOR_COLLECTIONS.alerts).updateOne(
      { _id: incidentId as never, status: 'open' },
      { $set: { status: 'closed', closedAt: new Date(nowMs).toISOString(), closeReason: reason.slice(0, 500) } },
    );
  }

  async listAlerts(task: Task | undefined, limit: number): Promise<AlertDoc[]> {
    return (await this.col(MONITOR_COLLECTIONS.alerts)
      .find(task ? { task } : {})
      .sort({ openedAtMs: -1 })
      .limit(limit)
      .toArray()) as unknown as AlertDoc[];
  }

  async load(opts: { maxBarsPerSeries: number; driftWindow: number }): Promise<Restored> {
    // Each window is read as one reply (up to 16 MB), so no cursor stays open on the server
    // between getMores while other services restart (see the dashboard's history read).
    // Sorting happens here, not in the server (FerretDB sorts slowly).
    const byTimeDesc = (a: Document, b: Document) => (b.tMs as number) - (a.tMs as number);
    const barDocs = (await this.col(MONITOR_COLLECTIONS.bars).find({}, ONE_REPLY).toArray()).sort(byTimeDesc);
    const perSeries = new Map<string, number>();
    const bars: Restored['bars'] = [];
    for (const d of barDocs) {
      const id = `${d.symbol}|${d.interval}`;
      const n = perSeries.get(id) ?? 0;
      if (n >= opts.maxBarsPerSeries) continue;
      perSeries.set(id, n + 1);
      bars.push({ symbol: d.symbol, interval: d.interval, ts: d.ts, close: d.close });
    }
    bars.reverse();
    const predictionDocs = ((await this.col(MONITOR_COLLECTIONS.predictions).find({}, ONE_REPLY).toArray()) as unknown as PredictionDoc[]).sort((a, b) => a.asOfMs - b.asOfMs);
    const observed = (d: PredictionDoc): ObservedPrediction => ({
      key: d._id,
      symbol: d.symbol,
      interval: d.interval,
      asOf: d.asOf,
      horizon: d.horizon,
      lastClose: d.lastClose,
      predictedReturn: d.predictedReturn,
      model: { name: d.modelName, version: d.modelVersion } satisfies ModelRef,
      ...(d.traceId ? { traceId: d.traceId } : {}),
    });
    const resolved = new Map(((await this.col(MONITOR_COLLECTIONS.outcomes).find({}, ONE_REPLY).toArray()) as unknown as OutcomeDoc[]).map((o) => [o._id, o]));
    const pending = predictionDocs.filter((d) => !resolved.has(d._id)).map(observed);
    const outcomes = predictionDocs.flatMap((d) => {
      const o = resolved.get(d._id);
      return o ? [{ ...observed(d), asOfMs: d.asOfMs, realizedReturn: o.realizedReturn, realizedTs: o.realizedTs }] : [];
    });
    const featureDocs = (await this.col(MONITOR_COLLECTIONS.features).find({}, ONE_REPLY).toArray()).sort(byTimeDesc).slice(0, opts.driftWindow);
    const features = featureDocs.reverse().map((d) => ({
      key: String(d._id),
      symbol: d.symbol as string,
      ts: d.ts as string,
      tMs: d.tMs as number,
      schemaHash: d.schemaHash as string,
      values: JSON.parse(d.values as string) as number[],
    }));
    const sentiment = (await this.col(MONITOR_COLLECTIONS.sentiment).find({}, ONE_REPLY).toArray()).sort((a, b) => a.tMs - b.tMs).map((d) => ({
      key: String(d._id),
      tMs: d.tMs as number,
      label: d.label as string,
      model: { name: d.modelName as string, version: d.modelVersion as number },
    }));
    // Two `_id` lookups, not one `$in` (FerretDB scans the collection for `$in`).
    const triggerDocs = await Promise.all(['trigger|price', 'trigger|sentiment'].map((id) => this.col(MONITOR_COLLECTIONS.state).findOne({ _id: id as never })));
    const triggers = triggerDocs.filter((d): d is NonNullable<typeof d> => d !== null).map((d) => {
      const { _id, ...rest } = d;
      return {
        task: rest.task,
        lastRequestAtMs: rest.lastRequestAtMs,
        incidentId: rest.incidentId,
        incidentOpenedAtMs: rest.incidentOpenedAtMs,
        incidentModelVersion: rest.incidentModelVersion,
        incidentOccurrences: rest.incidentOccurrences ?? 0,
        cleanStreak: rest.cleanStreak ?? 0,
        requests: rest.requests ?? 0,
      } as TriggerState;
    });
    // The price model's promotion state (the monitor follows one price model name).
    const promotionDoc = await this.col(MONITOR_COLLECTIONS.state).findOne({ _id: 'promotion|price' as never });
    const promotions: PromotionState[] = promotionDoc
      ? [
          {
            modelName: promotionDoc.modelName,
            lastDecisionAtMs: promotionDoc.lastDecisionAtMs,
            lastAction: promotionDoc.lastAction,
            lastChallengerVersion: promotionDoc.lastChallengerVersion,
            decisions: promotionDoc.decisions ?? 0,
          },
        ]
      : [];
    return { bars, pending, outcomes, features, sentiment, triggers, promotions };
  }

  /** Delete what no window needs any more, and reports older than the retention. */
  async prune(r: { featuresFromMs: number | undefined; outcomesFromMs: number | undefined; bars: Array<{ symbol: string; interval: string; tMs: number }>; reportsBeforeMs: number }): Promise<void> {
    if (r.featuresFromMs !== undefined) await this.col(MONITOR_COLLECTIONS.features).deleteMany({ tMs: { $lt: r.featuresFromMs } });
    if (r.outcomesFromMs !== undefined) {
      // Predictions first: an outcome without its prediction is ignored at load, while a
      // prediction without its outcome would come back as pending.
      const old = { asOfMs: { $lt: r.outcomesFromMs } };
      await this.col(MONITOR_COLLECTIONS.predictions).deleteMany(old);
      await this.col(MONITOR_COLLECTIONS.outcomes).deleteMany(old);
    }
    for (const b of r.bars) await this.col(MONITOR_COLLECTIONS.bars).deleteMany({ symbol: b.symbol, interval: b.interval, tMs: { $lt: b.tMs } });
    await this.col(MONITOR_COLLECTIONS.reports).deleteMany({ evaluatedAtMs: { $lt: r.reportsBeforeMs } });
  }
}
