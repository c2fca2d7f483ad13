/**
 * The monitor's state machine, free of I/O: records go in (bars, features, predictions,
 * sentiment, model events), evaluations come out (a report per task and a trigger decision).
 * The service persists what changed and publishes the decisions; tests drive it directly.
 */
import type { CleanPriceBar, FeatureVector, ModelEvent, ModelRef, PricePrediction, SentimentPrediction } from '@stock-mlops/contracts';
import { categoricalReference } from '@stock-mlops/ml/evaluation/drift';
import { evaluateFeatureDrift, evaluateLabelDrift, evaluateNumericDrift, type LabelDrift, type NumericDrift } from './drift.ts';
import { EventTimeWindow } from './event_window.ts';
import { OutcomeJoiner, predictionKeyOf, type ObservedPrediction, type Outcome, type PredictionStatus } from './joiner.ts';
import type { ModelInfo } from './model_info.ts';
import { PerformanceTracker } from './performance.ts';
import {
  assessBreaches,
  decideTrigger,
  initialTriggerState,
  onRetrainEnded,
  onServingChanged,
  type TriggerDecision,
  type TriggerState,
} from './policy.ts';
import { compareChallenger } from './challenger.ts';
import { decidePromotion, initialPromotionState, type PromotionDecision, type PromotionState } from './promotion.ts';
import { emptyReport, type MonitoringReport, type Task } from './report.ts';
import type { MonitorSettings } from './settings.ts';

export interface LiveFeature {
  key: string;
  symbol: string;
  ts: string;
  tMs: number;
  schemaHash: string;
  names?: string[] | undefined;
  values: number[];
}

export interface LiveSentiment {
  key: string;
  tMs: number;
  label: string;
  model: ModelRef;
}

export interface ClosedIncident {
  task: Task;
  incidentId: string;
  reason: string;
}

export interface Evaluation {
  report: MonitoringReport;
  decision: TriggerDecision | undefined;
  /** Price task only: the live promotion policy's decision. */
  promotion?: PromotionDecision | undefined;
}

const refKey = (m: ModelRef) => `${m.name}@${m.version}`;
export const featureKeyOf = (f: { symbol: string; interval: string; ts: string }) => `${f.symbol}|${f.interval}|${f.ts}`;
export const sentimentKeyOf = (s: { articleId: string; symbol: string; model: ModelRef }) => `${s.articleId}|${s.symbol}|${s.model.name}|${s.model.version}`;

export class MonitorCore {
  readonly joiner: OutcomeJoiner;
  readonly performance: PerformanceTracker;
  private readonly features: EventTimeWindow<LiveFeature>;
  private readonly predictions = new Map<string, EventTimeWindow<number>>();
  private readonly sentiment = new Map<string, { current: EventTimeWindow<LiveSentiment>; baseline: EventTimeWindow<LiveSentiment> }>();
  private readonly models = new Map<string, ModelInfo>();
  private readonly serving: Record<Task, ModelRef | undefined> = { price: undefined, sentiment: undefined };
  /** The price model's challenger (registry alias `challenger`), scored on its shadow predictions. */
  private challenger: ModelRef | undefined;
  private promotion: PromotionState | undefined;
  private readonly triggers: Record<Task, TriggerState> = { price: initialTriggerState('price'), sentiment: initialTriggerState('sentiment') };
  private readonly watermark: Record<Task, number> = { price: Number.NEGATIVE_INFINITY, sentiment: Number.NEGATIVE_INFINITY };
  private readonly seenVersions = new Map<string, ModelRef & { task: Task }>();
  /** Observations since the last evaluation, per task (an unchanged task need not be re-reported). */
  private readonly changes: Record<Task, number> = { price: 0, sentiment: 0 };

  constructor(readonly settings: MonitorSettings) {
    this.joiner = new OutcomeJoiner(settings);
    this.performance = new PerformanceTracker(settings.perfWindow);
    this.features = new EventTimeWindow<LiveFeature>(settings.driftWindow);
  }

  // ---------------------------------------------------------------- models

  setModelInfo(info: ModelInfo): void {
    this.models.set(refKey(info.ref), info);
    this.changes[info.task]++;
  }

  modelInfo(ref: ModelRef): ModelInfo | undefined {
    return this.models.get(refKey(ref));
  }

  /** Versions seen in predictions (or promoted) whose registry information is not loaded yet. */
  unknownVersions(): Array<ModelRef & { task: Task }> {
    return [...this.seenVersions.values()].filter((v) => !this.models.has(refKey(v)));
  }

  servingModel(task: Task): ModelRef | undefined {
    return this.serving[task];
  }

  setServing(task: Task, ref: ModelRef | undefined): ClosedIncident | undefined {
    const prev = this.serving[task];
    this.serving[task] = ref;
    if (!ref) return undefined;
    this.seenVersions.set(refKey(ref), { ...ref, task });
    if (prev && prev.name === ref.name && prev.version === ref.version) return undefined;
    this.changes[task]++;
    const r = onServingChanged(this.triggers[task], ref);
    this.triggers[task] = r.state;
    return r.closed ? { task, ...r.closed } : undefined;
  }

  challengerModel(): ModelRef | undefined {
    return this.challenger;
  }

  /** The price challenger moved (or was cleared: undefined). */
  setChallenger(ref: ModelRef | undefined): void {
    const prev = this.challenger;
    this.challenger = ref;
    if (ref) this.seenVersions.set(refKey(ref), { ...ref, task: 'price' });
    if (prev?.name !== ref?.name || prev?.version !== ref?.version) this.changes.price++;
  }

  promotionState(modelName: string): PromotionState {
    return this.promotion?.modelName === modelName ? this.promotion : initialPromotionState(modelName);
  }

  restorePromotionState(state: PromotionState): void {
    this.promotion = state;
  }

  /** Model events: promotions and rollbacks move the serving version; rejected or failed retrains end an incident. */
  onModelEvent(e: ModelEvent): ClosedIncident | undefined {
    if ((e.kind === 'promoted' || e.kind === 'rolled_back') && (e.alias ?? 'production') === 'production') return this.setServing(e.task, e.model);
    if (e.kind === 'rejected' || e.kind === 'training_failed') {
      const r = onRetrainEnded(this.triggers[e.task], e.kind === 'rejected' ? `v${e.model.version} rejected by the gate` : 'failed');
      this.triggers[e.task] = r.state;
      return r.closed ? { task: e.task, ...r.closed } : undefined;
    }
    if (e.kind === 'registered') this.seenVersions.set(refKey(e.model), { ...e.model, task: e.task });
    return undefined;
  }

  triggerState(task: Task): TriggerState {
    return this.triggers[task];
  }

  restoreTriggerState(state: TriggerState): void {
    this.triggers[state.task] = state;
  }

  // ---------------------------------------------------------------- records

  private advance(task: Task, tMs: number): void {
    if (tMs > this.watermark[task]) this.watermark[task] = tMs;
    this.changes[task]++;
  }

  /** A clean bar; placeholder (zero-volume) bars carry no price information and are skipped, as in training. */
  observeBar(bar: Pick<CleanPriceBar, 'symbol' | 'ts' | 'close'> & { interval: string; zeroVolume?: boolean }): Outcome[] {
    if (bar.zeroVolume) return [];
    this.advance('price', Date.parse(bar.ts));
    const outcomes = this.joiner.addBar(bar);
    for (const o of outcomes) this.performance.add(o);
    return outcomes;
  }

  observePrediction(p: PricePrediction, traceId?: string): { status: PredictionStatus; outcome?: Outcome; prediction: ObservedPrediction } {
    const observed: ObservedPrediction = {
      key: predictionKeyOf(p),
      symbol: p.symbol,
      interval: p.interval,
      asOf: p.asOf,
      horizon: p.horizon,
      lastClose: p.lastClose,
      predictedReturn: p.predictedReturn,
      model: p.model,
      ...(traceId ? { traceId } : {}),
    };
    return this.addPrediction(observed);
  }

  /** A prediction already in monitor form (also: pending predictions restored after a restart). */
  addPrediction(observed: ObservedPrediction): { status: PredictionStatus; outcome?: Outcome; prediction: ObservedPrediction } {
    const tMs = Date.parse(observed.asOf);
    this.advance('price', tMs);
    this.seenVersions.set(refKey(observed.model), { ...observed.model, task: 'price' });
    this.predictionWindow(observed.model).add(observed.key, tMs, observed.predictedReturn);
    const r = this.joiner.addPrediction(observed);
    if (r.outcome) this.performance.add(r.outcome);
    return { ...r, prediction: observed };
  }

  /** An outcome resolved (and stored) before a restart. */
  restoreOutcome(o: Outcome): void {
    this.seenVersions.set(refKey(o.model), { ...o.model, task: 'price' });
    this.predictionWindow(o.model).add(o.key, o.asOfMs, o.predictedReturn);
    this.joiner.rememberResolved(o);
    this.performance.add(o);
  }

  private predictionWindow(model: ModelRef): EventTimeWindow<number> {
    let w = this.predictions.get(refKey(model));
    if (!w) {
      w = new EventTimeWindow<number>(this.settings.driftWindow);
      this.predictions.set(refKey(model), w);
    }
    return w;
  }

  observeFeatures(fv: Pick<FeatureVector, 'symbol' | 'interval' | 'ts' | 'schemaHash' | 'names' | 'values'>): LiveFeature {
    return this.addFeatures({
      key: featureKeyOf(fv),
      symbol: fv.symbol,
      ts: fv.ts,
      tMs: Date.parse(fv.ts),
      schemaHash: fv.schemaHash,
      ...(fv.names ? { names: fv.names } : {}),
      values: fv.values,
    });
  }

  /** Live features in monitor form (also: restored after a restart). */
  addFeatures(live: LiveFeature): LiveFeature {
    this.advance('price', live.tMs);
    this.features.add(live.key, live.tMs, live);
    return live;
  }

  observeSentiment(s: Pick<SentimentPrediction, 'articleId' | 'symbol' | 'publishedAt' | 'label' | 'model'>): LiveSentiment {
    return this.addSentiment({ key: sentimentKeyOf(s), tMs: Date.parse(s.publishedAt), label: s.label, model: s.model });
  }

  /** A sentiment label in monitor form (also: restored after a restart). */
  addSentiment(live: LiveSentiment): LiveSentiment {
    this.advance('sentiment', live.tMs);
    this.seenVersions.set(refKey(live.model), { ...live.model, task: 'sentiment' });
    let w = this.sentiment.get(refKey(live.model));
    if (!w) {
      w = {
        current: new EventTimeWindow<LiveSentiment>(this.settings.driftWindow),
        baseline: new EventTimeWindow<LiveSentiment>(this.settings.sentimentBaseline, 'oldest'),
      };
      this.sentiment.set(refKey(live.model), w);
    }
    w.baseline.add(live.key, live.tMs, live);
    w.current.add(live.key, live.tMs, live);
    return live;
  }

  /** Oldest event time each persisted window still needs (older documents can be pruned). */
  retention(): { featuresFromMs: number | undefined; outcomesFromMs: number | undefined; bars: Array<{ symbol: string; interval: string; tMs: number }> } {
    return { featuresFromMs: this.features.size >= this.features.capacity ? this.features.oldestMs() : undefined, outcomesFromMs: this.performance.oldestKeptMs(), bars: this.joiner.oldestBarPerSeries() };
  }

  // ---------------------------------------------------------------- evaluation

  /** True when something changed for the task since its last evaluation. */
  hasChanges(task: Task): boolean {
    return this.changes[task] > 0;
  }

  evaluate(task: Task, nowMs: number): Evaluation {
    this.changes[task] = 0;
    if (task === 'sentiment' && !this.serving.sentiment) {
      // Without a promoted sentiment model, watch the newest version that makes predictions.
      const versions = [...this.sentiment.keys()].map((k) => this.seenVersions.get(k)!).filter(Boolean);
      const newest = versions.sort((a, b) => b.version - a.version)[0];
      if (newest) this.serving.sentiment = { name: newest.name, version: newest.version };
    }
    const model = this.serving[task];
    const info = model ? this.models.get(refKey(model)) : undefined;
    const cutoff = info?.trainedThroughMs;
    const report = emptyReport(task, nowMs, {
      model,
      trainedThrough: cutoff !== undefined ? new Date(cutoff).toISOString() : '',
      watermark: Number.isFinite(this.watermark[task]) ? new Date(this.watermark[task]).toISOString() : '',
      referenceProblem: model && !info ? 'registry information not loaded yet' : (info?.referenceProblem ?? ''),
      incidentId: this.triggers[task].incidentId ?? '',
      pendingPredictions: task === 'price' ? this.joiner.pendingCount() : 0,
    });
    if (task === 'price') this.evaluatePrice(report, model, info);
    else if (model) report.sentimentDrift = this.sentimentDrift(model, info);
    if (!model) return { report, decision: undefined };
    report.breaches = assessBreaches(
      {
        featureDrift: report.featureDrift,
        predictionDrift: report.predictionDrift,
        sentimentDrift: report.sentimentDrift,
        performance: report.performance,
        referenceMape: info?.metrics.mape,
      },
      this.settings,
    );
    const decision = decideTrigger(this.triggers[task], report.breaches, model, nowMs, this.settings);
    this.triggers[task] = decision.state;
    report.action = decision.action;
    report.incidentId = decision.state.incidentId ?? decision.closed?.incidentId ?? '';
    if (task !== 'price') return { report, decision };
    const promotion = decidePromotion(this.promotionState(model.name), report.challenger?.overall, nowMs, this.settings);
    this.promotion = promotion.state;
    report.promotionAction = promotion.action;
    report.promotionReason = promotion.reason;
    return { report, decision, promotion };
  }

  private evaluatePrice(report: MonitoringReport, model: ModelRef | undefined, info: ModelInfo | undefined): void {
    const cutoffOf = (m: ModelRef) => this.models.get(refKey(m))?.trainedThroughMs;
    for (const v of this.performance.versions()) {
      if (model && v.name === model.name && v.version === model.version) continue;
      report.otherVersions.push(this.performance.version(v, cutoffOf(v)));
    }
    if (!model) return;
    const cutoff = info?.trainedThroughMs;
    report.performance = this.performance.version(model, cutoff);
    report.symbols = this.performance.symbols(model, cutoff);
    const challenger = this.challenger;
    if (challenger && challenger.name === model.name && challenger.version !== model.version) {
      // Both sides over the same live events: after the later of the two training windows.
      const cutoffs = [cutoff, cutoffOf(challenger)].filter((c): c is number => c !== undefined);
      const liveAfter = cutoffs.length ? Math.max(...cutoffs) : undefined;
      report.challenger = compareChallenger(
        { model, outcomes: this.performance.outcomes(model, liveAfter) },
        { model: challenger, outcomes: this.performance.outcomes(challenger, liveAfter) },
        this.settings.promotionLoss,
      );
    }
    const reference = info?.price;
    if (!reference) return;
    const rows = this.features
      .since(cutoff)
      .map((e) => e.item)
      .filter((f) => !info.featureSchemaHash || f.schemaHash === info.featureSchemaHash);
    if (rows.length > 0) report.featureDrift = evaluateFeatureDrift(reference, rows, this.settings.featurePsi);
    const predicted = this.predictions.get(refKey(model))?.since(cutoff).map((e) => e.item) ?? [];
    if (predicted.length > 0) report.predictionDrift = evaluateNumericDrift(reference.predictions, predicted) satisfies NumericDrift;
  }

  private sentimentDrift(model: ModelRef, info: ModelInfo | undefined): LabelDrift | undefined {
    const w = this.sentiment.get(refKey(model));
    if (!w) return undefined;
    const cutoff = info?.trainedThroughMs;
    let reference = info?.sentiment;
    let current = w.current.since(cutoff).map((e) => e.item);
    if (!reference) {
      // No stored reference: the version's first predictions are its baseline.
      if (w.baseline.size < this.settings.sentimentBaseline) return undefined;
      reference = categoricalReference(w.baseline.values().map((s) => s.label));
      current = current.filter((s) => !w.baseline.has(s.key));
    }
    const labels = current.map((s) => s.label).filter((l) => reference.labels.includes(l));
    if (labels.length === 0) return undefined;
    return evaluateLabelDrift(reference, labels);
  }
}
