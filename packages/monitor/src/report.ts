/**
 * The monitoring report (one per task and evaluation) and its MongoDB form: flat documents,
 * one per row (summary, breach, performance, and one table of per-feature drift as parallel
 * arrays), all carrying the report id. FerretDB takes no NaN and no nested arrays, so undefined
 * metrics are left out of a document (null inside the feature arrays) and read back as NaN.
 */
import type { ModelRef } from '@stock-mlops/contracts';
import type { ChallengerReport, PairedComparison } from './challenger.ts';
import type { FeatureDriftRow, FeatureDriftSummary, LabelDrift, NumericDrift } from './drift.ts';
import type { RollingPerformance } from './performance.ts';
import type { Breach, BreachKind, TriggerAction } from './policy.ts';

export type Task = 'price' | 'sentiment';

export interface MonitoringReport {
  reportId: string;
  task: Task;
  evaluatedAt: string;
  evaluatedAtMs: number;
  /** The version drift is measured against (the serving one); undefined before any model serves. */
  model: ModelRef | undefined;
  /** End of the version's training data ('' when unknown): only later data counts as live. */
  trainedThrough: string;
  /** Newest event time the monitor has seen for this task. */
  watermark: string;
  /** Why drift could not be measured against the version's reference ('' when it could). */
  referenceProblem: string;
  performance: RollingPerformance | undefined;
  symbols: RollingPerformance[];
  otherVersions: RollingPerformance[];
  featureDrift: FeatureDriftSummary | undefined;
  predictionDrift: NumericDrift | undefined;
  sentimentDrift: LabelDrift | undefined;
  breaches: Breach[];
  action: TriggerAction;
  /** The open incident, if any ('' when none). */
  incidentId: string;
  pendingPredictions: number;
  /** Price: the serving version and its challenger side by side over the same events (undefined without a challenger). */
  challenger: ChallengerReport | undefined;
  /** Price: the live promotion policy's action ('' for sentiment) and why. */
  promotionAction: string;
  promotionReason: string;
}

/** A report with nothing measured yet: the fields an evaluation fills in start empty. */
export function emptyReport(task: Task, nowMs: number, fields: Partial<MonitoringReport> = {}): MonitoringReport {
  return {
    reportId: `${task}:${nowMs}`,
    task,
    evaluatedAt: new Date(nowMs).toISOString(),
    evaluatedAtMs: nowMs,
    model: undefined,
    trainedThrough: '',
    watermark: '',
    referenceProblem: '',
    performance: undefined,
    symbols: [],
    otherVersions: [],
    featureDrift: undefined,
    predictionDrift: undefined,
    sentimentDrift: undefined,
    breaches: [],
    action: 'none',
    incidentId: '',
    pendingPredictions: 0,
    challenger: undefined,
    promotionAction: '',
    promotionReason: '',
    ...fields,
  };
}

export type ReportDoc = { _id: string; reportId: string; row: 'summary' | 'breach' | 'performance' | 'features' | 'challenger'; task: Task; evaluatedAtMs: number } & Record<string, unknown>;

/** Copy an object's scalar fields, dropping non-finite numbers (stored documents never hold NaN). */
function scalars(prefix: string, o: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'number') {
      if (Number.isFinite(v)) out[`${prefix}${k}`] = v;
    } else if (typeof v === 'string' || typeof v === 'boolean') out[`${prefix}${k}`] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x)))) out[`${prefix}${k}`] = v;
  }
  return out;
}

const num = (d: Record<string, unknown>, k: string): number => (typeof d[k] === 'number' ? (d[k] as number) : NaN);
const str = (d: Record<string, unknown>, k: string): string => (typeof d[k] === 'string' ? (d[k] as string) : '');

function readPrefixed<T>(d: Record<string, unknown>, prefix: string): T | undefined {
  const keys = Object.keys(d).filter((k) => k.startsWith(prefix));
  if (keys.length === 0) return undefined;
  return Object.fromEntries(keys.map((k) => [k.slice(prefix.length), d[k]])) as T;
}

function withNaN<T extends object>(o: T | undefined, numeric: readonly string[]): T | undefined {
  if (!o) return undefined;
  const r = { ...o } as Record<string, unknown>;
  for (const k of numeric) if (typeof r[k] !== 'number') r[k] = NaN;
  return r as T;
}

const PERF_NUMBERS = ['n', 'mae', 'rmse', 'mape', 'returnMae', 'directionalAccuracy', 'ic', 'rankIc', 'modelVersion'] as const;
const FD_NUMBERS = ['n', 'evaluated', 'drifted', 'driftedShare', 'psiMax', 'psiMean', 'ksMax'] as const;
const ND_NUMBERS = ['n', 'psi', 'ksStatistic', 'ksPValue', 'referenceMean', 'currentMean'] as const;
const LD_NUMBERS = ['n', 'psi', 'chiSquare', 'pValue'] as const;
const COMPARISON_NUMBERS = [
  'productionVersion', 'challengerVersion', 'n', 'productionMae', 'productionRmse', 'productionDirectionalAccuracy', 'productionIc', 'productionRankIc',
  'challengerMae', 'challengerRmse', 'challengerDirectionalAccuracy', 'challengerIc', 'challengerRankIc', 'zeroMae', 'zeroRmse', 'maeRatio', 'rmseRatio',
  'productionMaeVsZero', 'productionRmseVsZero', 'challengerMaeVsZero', 'challengerRmseVsZero', 'icDifference', 'horizon', 'meanLossDifference',
  'dmStatistic', 'dmHlnStatistic', 'dmPValue', 'dmPValueTwoSided',
] as const;
const FEATURE_NUMBERS = ['psi', 'ksStatistic', 'ksPValue', 'referenceMean', 'currentMean'] as const;

export function reportToDocs(r: MonitoringReport): ReportDoc[] {
  const base = { reportId: r.reportId, task: r.task, evaluatedAtMs: r.evaluatedAtMs };
  const { features: _f, ...fdSummary } = r.featureDrift ?? ({} as Partial<FeatureDriftSummary>);
  const docs: ReportDoc[] = [
    {
      _id: `${r.reportId}|summary`,
      ...base,
      row: 'summary',
      evaluatedAt: r.evaluatedAt,
      ...(r.model ? { modelName: r.model.name, modelVersion: r.model.version } : {}),
      trainedThrough: r.trainedThrough,
      watermark: r.watermark,
      referenceProblem: r.referenceProblem,
      action: r.action,
      incidentId: r.incidentId,
      pendingPredictions: r.pendingPredictions,
      promotionAction: r.promotionAction,
      promotionReason: r.promotionReason,
      breachKinds: r.breaches.map((b) => b.kind),
      ...(r.featureDrift ? scalars('fd_', fdSummary) : {}),
      ...(r.predictionDrift ? scalars('pd_', r.predictionDrift) : {}),
      ...(r.sentimentDrift ? scalars('sd_', r.sentimentDrift) : {}),
    },
  ];
  r.breaches.forEach((b, i) => {
    docs.push({
      _id: `${r.reportId}|breach|${i}`,
      ...base,
      row: 'breach',
      kind: b.kind,
      reason: b.reason,
      evidenceNames: Object.keys(b.evidence),
      evidenceValues: Object.values(b.evidence),
    });
  });
  const perf = (scope: 'serving' | 'symbol' | 'version', p: RollingPerformance) => {
    docs.push({ _id: `${r.reportId}|performance|${scope}|${p.modelName}@${p.modelVersion}|${p.symbol}`, ...base, row: 'performance', scope, ...scalars('', p) });
  };
  if (r.performance) perf('serving', r.performance);
  for (const p of r.symbols) perf('symbol', p);
  for (const p of r.otherVersions) perf('version', p);
  const comparison = (scope: 'overall' | 'symbol', c: PairedComparison) => {
    docs.push({ _id: `${r.reportId}|challenger|${scope}|${c.symbol}`, ...base, row: 'challenger', scope, ...scalars('', c) });
  };
  if (r.challenger) {
    comparison('overall', r.challenger.overall);
    for (const c of r.challenger.symbols) comparison('symbol', c);
  }
  const features = r.featureDrift?.features ?? [];
  if (features.length) {
    // One row of parallel arrays (scalars only), in the reference's feature order; NaN → null.
    const column = (k: (typeof FEATURE_NUMBERS)[number]) => features.map((f) => (Number.isFinite(f[k]) ? f[k] : null));
    docs.push({
      _id: `${r.reportId}|features`,
      ...base,
      row: 'features',
      name: features.map((f) => f.name),
      drifted: features.map((f) => f.drifted),
      ...Object.fromEntries(FEATURE_NUMBERS.map((k) => [k, column(k)])),
    });
  }
  return docs;
}

export function reportFromDocs(docs: ReadonlyArray<Record<string, unknown>>): MonitoringReport | undefined {
  const summary = docs.find((d) => d.row === 'summary');
  if (!summary) return undefined;
  const perfOf = (d: Record<string, unknown>) => withNaN(scalarsBack(d, ['modelName', 'symbol', 'from', 'to']), PERF_NUMBERS) as unknown as RollingPerformance;
  const rows = (row: string) => docs.filter((d) => d.row === row);
  const fd = readPrefixed<Omit<FeatureDriftSummary, 'features'>>(summary, 'fd_');
  const table = rows('features')[0];
  const names = (table?.name as string[] | undefined) ?? [];
  const features = names.map((name, i) => {
    const row: Record<string, unknown> = { name, drifted: (table!.drifted as boolean[])[i] === true };
    for (const k of FEATURE_NUMBERS) row[k] = ((table![k] as Array<number | null>)[i] ?? NaN) as number;
    return row as unknown as FeatureDriftRow;
  });
  const modelName = str(summary, 'modelName');
  const comparisonOf = (d: Record<string, unknown>) => withNaN(scalarsBack(d, ['modelName', 'symbol', 'from', 'to', 'loss']), COMPARISON_NUMBERS) as unknown as PairedComparison;
  const overall = rows('challenger').find((d) => d.scope === 'overall');
  return {
    reportId: str(summary, 'reportId'),
    task: summary.task as Task,
    evaluatedAt: str(summary, 'evaluatedAt'),
    evaluatedAtMs: num(summary, 'evaluatedAtMs'),
    model: modelName ? { name: modelName, version: num(summary, 'modelVersion') } : undefined,
    trainedThrough: str(summary, 'trainedThrough'),
    watermark: str(summary, 'watermark'),
    referenceProblem: str(summary, 'referenceProblem'),
    performance: rows('performance').filter((d) => d.scope === 'serving').map(perfOf)[0],
    symbols: rows('performance').filter((d) => d.scope === 'symbol').map(perfOf),
    otherVersions: rows('performance').filter((d) => d.scope === 'version').map(perfOf),
    featureDrift: fd
      ? ({ ...withNaN(fd, FD_NUMBERS), missing: (fd.missing as string[] | undefined) ?? [], psiMaxFeature: fd.psiMaxFeature ?? '', ksMaxFeature: fd.ksMaxFeature ?? '', features } as FeatureDriftSummary)
      : undefined,
    predictionDrift: withNaN(readPrefixed<NumericDrift>(summary, 'pd_'), ND_NUMBERS),
    sentimentDrift: withNaN(readPrefixed<LabelDrift>(summary, 'sd_'), LD_NUMBERS),
    breaches: rows('breach')
      .sort((a, b) => String(a._id).localeCompare(String(b._id), 'en', { numeric: true }))
      .map((d) => {
        const names = (d.evidenceNames as string[] | undefined) ?? [];
        const values = (d.evidenceValues as number[] | undefined) ?? [];
        return { kind: d.kind as BreachKind, reason: str(d, 'reason'), evidence: Object.fromEntries(names.map((n, i) => [n, values[i] ?? NaN])) };
      }),
    action: (str(summary, 'action') || 'none') as TriggerAction,
    incidentId: str(summary, 'incidentId'),
    pendingPredictions: num(summary, 'pendingPredictions'),
    challenger: overall
      ? { overall: comparisonOf(overall), symbols: rows('challenger').filter((d) => d.scope === 'symbol').map(comparisonOf).sort((a, b) => a.symbol.localeCompare(b.symbol)) }
      : undefined,
    promotionAction: str(summary, 'promotionAction'),
    promotionReason: str(summary, 'promotionReason'),
  };
}

function scalarsBack(d: Record<string, unknown>, strings: readonly string[]): Record<string, unknown> {
  const { _id, reportId, row, task, evaluatedAtMs, scope, ...rest } = d;
  for (const k of strings) if (typeof rest[k] !== 'string') rest[k] = '';
  return rest;
}
