/**
 * gRPC adapter: MonitoringService (GetMonitoringReport, ListAlerts) over the stored reports and
 * alerts, plus the standard health service and server reflection, like the predictor.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadProtoPackage, PROTO_DIR, RpcError, serveGrpc, unaryHandler, type Logger, type StatusPolicy } from '@stock-mlops/platform';
import type { FeatureDriftSummary, MonitoringReport, RollingPerformance, Task } from '@stock-mlops/monitor';
import type { AlertDoc, MonitorStore } from './store.ts';

export const MONITOR_PROTO = path.join(PROTO_DIR, 'stockmlops/v1/monitor.proto');
export const SERVICE_NAME = 'stockmlops.v1.MonitoringService';

/** Bad requests and missing reports are answered as such; any other failure is the store's, so UNAVAILABLE. */
const STATUSES: StatusPolicy = {
  statuses: { E_INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT, E_NOT_FOUND: grpc.status.NOT_FOUND },
  fallback: { code: grpc.status.UNAVAILABLE, details: 'E_UNAVAILABLE: monitoring data is not available right now' },
};

function task(raw: unknown, required: boolean): Task | undefined {
  if (raw === undefined || raw === '') return required ? 'price' : undefined;
  if (raw === 'price' || raw === 'sentiment') return raw;
  throw new RpcError('E_INVALID_ARGUMENT', `task must be "price" or "sentiment", got "${String(raw).slice(0, 32)}"`);
}

const perf = (p: RollingPerformance) => ({ ...p });
function featureDrift(f: FeatureDriftSummary) {
  return { ...f, features: f.features.map((x) => ({ ...x })) };
}

export function reportToProto(r: MonitoringReport) {
  return {
    reportId: r.reportId,
    task: r.task,
    evaluatedAt: r.evaluatedAt,
    modelName: r.model?.name ?? '',
    modelVersion: r.model?.version ?? 0,
    trainedThrough: r.trainedThrough,
    watermark: r.watermark,
    referenceProblem: r.referenceProblem,
    performance: r.performance ? perf(r.performance) : null,
    symbols: r.symbols.map(perf),
    otherVersions: r.otherVersions.map(perf),
    featureDrift: r.featureDrift ? featureDrift(r.featureDrift) : null,
    predictionDrift: r.predictionDrift ?? null,
    sentimentDrift: r.sentimentDrift ?? null,
    breaches: r.breaches.map((b) => ({ kind: b.kind, reason: b.reason, evidence: b.evidence })),
    action: r.action,
    incidentId: r.incidentId,
    pendingPredictions: r.pendingPredictions,
    challenger: r.challenger ? { overall: { ...r.challenger.overall }, symbols: r.challenger.symbols.map((c) => ({ ...c })) } : null,
    promotionAction: r.promotionAction,
    promotionReason: r.promotionReason,
  };
}

function alertToProto(a: AlertDoc) {
  return {
    incidentId: a.incidentId,
    task: a.task,
    kind: a.kind,
    modelName: a.modelName,
    modelVersion: a.modelVersion,
    reason: a.reason,
    evidence: Object.fromEntries(a.evidenceNames.map((n, i) => [n, a.evidenceValues[i] ?? Number.NaN])),
    breaches: a.breaches,
    openedAt: a.openedAt,
    status: a.status,
    closedAt: a.closedAt ?? '',
    closeReason: a.closeReason ?? '',
    occurrences: a.occurrences,
    lastSeenAt: a.lastSeenAt,
  };
}

export interface MonitorGrpcOptions {
  host: string;
  port: number;
  log: Logger;
  store: MonitorStore;
  /** The newest report in memory, when it matches (else the store is asked). */
  latest: (task: Task, modelVersion: number | undefined) => MonitoringReport | undefined;
}

export async function startMonitorGrpc(opts: MonitorGrpcOptions) {
  const { def, pkg } = loadProtoPackage<{ stockmlops: { v1: { MonitoringService: grpc.ServiceClientConstructor } } }>(MONITOR_PROTO);
  const unary = <Req, Res>(name: string, fn: (req: Req) => Promise<Res>) => unaryHandler<Req, Res>(opts.log, name, STATUSES, (call) => fn(call.request));
  return serveGrpc({
    host: opts.host,
    port: opts.port,
    services: [
      {
        definition: pkg.stockmlops.v1.MonitoringService.service,
        handlers: {
          GetMonitoringReport: unary('GetMonitoringReport', async (req: { task?: string; modelVersion?: number }) => {
            const t = task(req.task, true)!;
            const version = req.modelVersion ?? 0;
            if (!Number.isInteger(version) || version < 0) throw new RpcError('E_INVALID_ARGUMENT', 'model_version must be >= 0');
            const r = opts.latest(t, version || undefined) ?? (await opts.store.latestReport(t, version || undefined));
            if (!r) throw new RpcError('E_NOT_FOUND', `no monitoring report for ${t}${version ? ` version ${version}` : ''} yet`);
            return reportToProto(r);
          }),
          ListAlerts: unary('ListAlerts', async (req: { task?: string; limit?: number }) => {
            const limit = req.limit || 20;
            if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new RpcError('E_INVALID_ARGUMENT', 'limit must be in 1..500');
            return { alerts: (await opts.store.listAlerts(task(req.task, false), limit)).map(alertToProto) };
          }),
        },
      },
    ],
    healthNames: [SERVICE_NAME],
    reflection: def,
  });
}
