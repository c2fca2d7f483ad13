import type { Collection, Db, Document, Filter } from 'mongodb';
import { COLLECTIONS } from '@stock-mlops/load';

/**
 * Read-only queries behind the dashboard's JSON API. Every filter value reaching here was
 * validated first (symbols match SYMBOL_RE), and every result is capped by a limit. Bars and
 * price predictions are not queried per request (FerretDB on SQLite scans a whole collection
 * for any filter but an `_id` equality): they are read once at start into the chart store.
 * Heavy registry fields (drift reference statistics, normalization) are left out.
 */

/**
 * Written by the monitor service (services/monitor/src/store.ts), empty until it runs: a report
 * is one document per row (`summary`, `breach`, `performance`, `feature`) sharing a `reportId`;
 * drift summaries are prefixed scalars on the summary (`fd_`, `pd_`, `sd_`); evidence is two
 * parallel arrays. Only the latest report of each task is assembled here.
 */
export const MONITORING_COLLECTIONS = { reports: 'monitoring_reports', alerts: 'alerts' } as const;

type Scalars = Record<string, number | string | boolean | string[]>;

export interface MonitoringReportView {
  reportId: string;
  task: string;
  evaluatedAt: string;
  model: { name: string; version: number } | null;
  action: string;
  incidentId: string;
  referenceProblem: string;
  pendingPredictions: number | null;
  featureDrift: Scalars | null;
  predictionDrift: Scalars | null;
  sentimentDrift: Scalars | null;
  performance: Scalars | null;
  /** The features with the largest PSI, largest first. */
  features: Scalars[];
  breaches: Array<{ kind: string; reason: string; evidence: Record<string, number> }>;
}

export interface AlertView {
  id: string;
  task: string;
  kind: string;
  model: { name: string; version: number } | null;
  reason: string;
  breaches: string[];
  evidence: Record<string, number>;
  status: string;
  openedAt: string;
  closedAt: string | null;
  closeReason: string | null;
  occurrences: number;
  lastSeenAt: string | null;
}

export interface BarRow {
  ts: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** Generated (non-market) bar: the extractor's synthetic continuation. Absent for market data. */
  synthetic?: true;
}

export interface PredictionRow {
  symbol: string;
  interval: string;
  asOf: string;
  horizon: number;
  lastClose: number;
  predictedReturn: number;
  predictedPrice: number;
  model: { name: string; version: number };
  latencyMs: number;
  /** Made from a generated feature vector. Absent for market data. */
  synthetic?: true;
}

export interface SymbolRow {
  symbol: string;
  lastClose: number | null;
  barTs: string | null;
  prediction: PredictionRow | null;
}

export interface NewsRow {
  id: string;
  symbol: string;
  title: string;
  url: string;
  source: string;
  publishedAt: string;
  summary: string;
  sentiment: { label: string; score: number; probs: Record<string, number>; model: { name: string; version: number } } | null;
}

const SUMMARY_CHARS = 280;
const TOP_FEATURES = 12;

export interface DashboardQueries {
  /**
   * Every bar and every price prediction, once, at start (feed.ts fills the in-memory chart
   * store with them): streamed in batches, projected to what the chart shows.
   */
  eachBar(onBatch: (bars: Array<BarRow & { symbol: string; interval: string }>) => void): Promise<number>;
  eachPrediction(onBatch: (predictions: PredictionRow[]) => void): Promise<number>;
  models(limit: number): Promise<{ versions: Document[]; aliases: Document[] }>;
  news(symbol: string | undefined, limit: number): Promise<NewsRow[]>;
  monitoring(limit: number): Promise<{ reports: MonitoringReportView[]; alerts: AlertView[] }>;
}

export function createQueries(db: Db): DashboardQueries {
  const col = (name: string) => db.collection(name);
  return {
    eachBar(onBatch) {
      const projection = { _id: 0, symbol: 1, interval: 1, ts: 1, open: 1, high: 1, low: 1, close: 1, volume: 1, synthetic: 1 };
      return eachPage(col(COLLECTIONS.bars), projection, onBatch as (d: Document[]) => void);
    },

    eachPrediction(onBatch) {
      return eachPage(col(COLLECTIONS.predictions), PREDICTION_PROJECTION, onBatch as (d: Document[]) => void);
    },

    async models(limit) {
      const versions = await col('model_versions')
        .find({}, { projection: { _id: 0, normalization: 0, reference: 0 } })
        .sort({ createdAt: -1 })
        .limit(limit)
        .toArray();
      const aliases = await col('model_aliases').find({}, { projection: { _id: 0 } }).limit(500).toArray();
      return { versions, aliases };
    },

    async news(symbol, limit) {
      const docs = await col(COLLECTIONS.news)
        .find(symbol ? { symbol } : {}, { projection: { _id: 0, id: 1, symbol: 1, title: 1, url: 1, source: 1, publishedAt: 1, summary: 1 } })
        .sort({ publishedAt: -1 })
        .limit(limit)
        .toArray();
      const ids = [...new Set(docs.map((d) => String(d.id)))];
      const scored = ids.length ? await col(COLLECTIONS.sentiment).find({ articleId: { $in: ids } }, { projection: { _id: 0 } }).toArray() : [];
      // The newest model version's opinion wins when several versions scored an article.
      const best = new Map<string, Document>();
      for (const s of scored) {
        const key = `${s.articleId}|${s.symbol}`;
        const cur = best.get(key);
        if (!cur || (s.model?.version ?? 0) > (cur.model?.version ?? 0)) best.set(key, s);
      }
      return docs.map((d) => {
        const s = best.get(`${d.id}|${d.symbol}`);
        const summary = String(d.summary ?? '');
        return {
          id: String(d.id),
          symbol: String(d.symbol),
          title: String(d.title),
          url: String(d.url),
          source: String(d.source),
          publishedAt: String(d.publishedAt),
          summary: summary.length > SUMMARY_CHARS ? `${summary.slice(0, SUMMARY_CHARS - 1)}…` : summary,
          sentiment: s ? { label: s.label, score: s.score, probs: s.probs, model: s.model } : null,
        };
      });
    },

    async monitoring(limit) {
      const summaries = await col(MONITORING_COLLECTIONS.reports).find({ row: 'summary' }).sort({ evaluatedAtMs: -1 }).limit(50).toArray();
      const latest = new Map<string, Document>();
      for (const d of summaries) if (!latest.has(String(d.task))) latest.set(String(d.task), d);
      const reports: MonitoringReportView[] = [];
      for (const summary of latest.values()) {
        const rows = await col(MONITORING_COLLECTIONS.reports).find({ reportId: summary.reportId, row: { $ne: 'summary' } }).limit(2_000).toArray();
        reports.push(reportView(summary, rows));
      }
      const alerts = await col(MONITORING_COLLECTIONS.alerts).find({}).sort({ openedAtMs: -1 }).limit(limit).toArray();
      return { reports, alerts: alerts.map(alertView) };
    },
  };
}

/** Documents per page of the start-up history read: one reply each (projected bars and predictions: about 6 and 10 MB, under the 16 MB reply limit); each page costs FerretDB a scan, so few large pages. */
const SNAPSHOT_PAGE = 40_000;

/**
 * Every document of a collection, in `_id` order, as pages that are each one complete reply: a
 * query with `limit` = `batchSize` leaves no cursor open on the server between pages. A cursor
 * held open across getMores (the first version of this read) wedged FerretDB 1.24 (SQLite) as a
 * whole in the chaos test: every request of every client, reads included, went unanswered for
 * minutes after services restarted around a database restart. Each page filters on `_id` past the
 * previous one, which FerretDB answers with a scan: this read runs in the background (readiness
 * does not wait for it).
 */
export async function eachPage(collection: Collection<Document>, projection: Document, onBatch: (docs: Document[]) => void): Promise<number> {
  let n = 0;
  let last: unknown;
  for (;;) {
    const page = await collection
      .find((last === undefined ? {} : { _id: { $gt: last } }) as Filter<Document>, { projection: { ...projection, _id: 1 }, sort: { _id: 1 }, limit: SNAPSHOT_PAGE, batchSize: SNAPSHOT_PAGE })
      .toArray();
    if (page.length === 0) return n;
    last = page.at(-1)!._id;
    onBatch(page.map(({ _id: _ignored, ...d }: Document) => d));
    n += page.length;
    if (page.length < SNAPSHOT_PAGE) return n;
  }
}

const PREDICTION_FIELDS = ['symbol', 'interval', 'asOf', 'horizon', 'lastClose', 'predictedReturn', 'predictedPrice', 'model', 'latencyMs', 'synthetic'] as const;
/** What the chart needs of a stored price prediction (production or shadow). */
export const PREDICTION_PROJECTION: Document = Object.fromEntries([['_id', 0], ...PREDICTION_FIELDS.map((f) => [f, 1])]);

const ROW_KEYS = new Set(['_id', 'reportId', 'row', 'task', 'evaluatedAtMs', 'scope']);

function prefixed(d: Document, prefix: string): Scalars | null {
  const keys = Object.keys(d).filter((k) => k.startsWith(prefix));
  return keys.length ? Object.fromEntries(keys.map((k) => [k.slice(prefix.length), d[k]])) : null;
}

function rest(d: Document): Scalars {
  return Object.fromEntries(Object.entries(d).filter(([k]) => !ROW_KEYS.has(k)));
}

export function evidence(d: Document): Record<string, number> {
  const names = Array.isArray(d.evidenceNames) ? (d.evidenceNames as unknown[]) : [];
  const values = Array.isArray(d.evidenceValues) ? (d.evidenceValues as unknown[]) : [];
  return Object.fromEntries(names.map((n, i) => [String(n), values[i]]).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const modelOf = (name: unknown, version: unknown) => (typeof name === 'string' && name ? { name, version: Number(version) } : null);

function reportView(summary: Document, rows: Document[]): MonitoringReportView {
  const byRow = (row: string) => rows.filter((r) => r.row === row);
  const psi = (r: Document) => (typeof r.psi === 'number' ? r.psi : -1);
  return {
    reportId: str(summary.reportId),
    task: str(summary.task),
    evaluatedAt: str(summary.evaluatedAt) || new Date(Number(summary.evaluatedAtMs)).toISOString(),
    model: modelOf(summary.modelName, summary.modelVersion),
    action: str(summary.action) || 'none',
    incidentId: str(summary.incidentId),
    referenceProblem: str(summary.referenceProblem),
    pendingPredictions: typeof summary.pendingPredictions === 'number' ? summary.pendingPredictions : null,
    featureDrift: prefixed(summary, 'fd_'),
    predictionDrift: prefixed(summary, 'pd_'),
    sentimentDrift: prefixed(summary, 'sd_'),
    performance: byRow('performance').filter((r) => r.scope === 'serving').map(rest)[0] ?? null,
    features: byRow('feature').sort((a, b) => psi(b) - psi(a)).slice(0, TOP_FEATURES).map(rest),
    breaches: byRow('breach')
      .sort((a, b) => String(a._id).localeCompare(String(b._id), 'en', { numeric: true }))
      .map((r) => ({ kind: str(r.kind), reason: str(r.reason), evidence: evidence(r) })),
  };
}

function alertView(d: Document): AlertView {
  return {
    id: String(d._id),
    task: str(d.task),
    kind: str(d.kind),
    model: modelOf(d.modelName, d.modelVersion),
    reason: str(d.reason),
    breaches: Array.isArray(d.breaches) ? d.breaches.map(String) : [],
    evidence: evidence(d),
    status: str(d.status) || 'open',
    openedAt: str(d.openedAt),
    closedAt: str(d.closedAt) || null,
    closeReason: str(d.closeReason) || null,
    occurrences: typeof d.occurrences === 'number' ? d.occurrences : 1,
    lastSeenAt: str(d.lastSeenAt) || null,
  };
}
