/** Monitor-specific Prometheus series, registered on the service's registry. */
import client from 'prom-client';
import type { Metrics } from '@stock-mlops/platform';
import type { MonitoringReport } from '@stock-mlops/monitor';

export function createMonitorMetrics(m: Metrics) {
  const registers = [m.registry];
  const labelNames = ['task', 'model', 'version'] as const;
  const g = (name: string, help: string) => new client.Gauge({ name, help, labelNames, registers });
  const gauges = {
    featurePsiMax: g('stockmlops_monitor_feature_psi_max', 'Largest feature PSI of the live window against the serving version reference'),
    featureDriftShare: g('stockmlops_monitor_feature_drift_share', 'Share of features whose PSI exceeds the threshold'),
    predictionPsi: g('stockmlops_monitor_prediction_psi', 'PSI of the predicted returns against the version test-window predictions'),
    sentimentPsi: g('stockmlops_monitor_sentiment_psi', 'PSI of the sentiment label distribution'),
    mae: g('stockmlops_monitor_rolling_mae', 'Rolling MAE of the predicted price over resolved live predictions'),
    directionalAccuracy: g('stockmlops_monitor_rolling_directional_accuracy', 'Rolling directional accuracy over resolved live predictions'),
    ic: g('stockmlops_monitor_rolling_ic', 'Rolling information coefficient over resolved live predictions'),
    outcomes: g('stockmlops_monitor_rolling_outcomes', 'Resolved live predictions in the rolling window'),
    openIncident: g('stockmlops_monitor_open_incident', '1 while an incident is open for the task'),
  };
  const retrainRequests = new client.Counter({
    name: 'stockmlops_monitor_retrain_requests_total',
    help: 'Retrain requests published, by task',
    labelNames: ['task'] as const,
    registers,
  });
  const promotionDecisions = new client.Counter({
    name: 'stockmlops_monitor_promotion_decisions_total',
    help: 'Live promotion decisions carried out: promote, keep, or stale (an alias moved since the decision)',
    labelNames: ['action'] as const,
    registers,
  });
  const resolved = new client.Counter({
    name: 'stockmlops_monitor_predictions_resolved_total',
    help: 'Predictions joined with their realized outcome',
    registers,
  });
  const pending = new client.Gauge({ name: 'stockmlops_monitor_pending_predictions', help: 'Predictions waiting for their future bar', registers });

  const last = new Map<string, { task: string; model: string; version: string }>();
  function observe(r: MonitoringReport): void {
    const previous = last.get(r.task);
    if (previous) {
      for (const gauge of Object.values(gauges)) gauge.remove(previous);
      m.modelInfo.remove(previous);
    }
    if (!r.model) return;
    const labels = { task: r.task, model: r.model.name, version: String(r.model.version) };
    last.set(r.task, labels);
    const set = (gauge: client.Gauge<'task' | 'model' | 'version'>, v: number | undefined) => {
      if (v !== undefined && Number.isFinite(v)) gauge.set(labels, v);
    };
    set(gauges.featurePsiMax, r.featureDrift?.psiMax);
    set(gauges.featureDriftShare, r.featureDrift?.driftedShare);
    set(gauges.predictionPsi, r.predictionDrift?.psi);
    set(gauges.sentimentPsi, r.sentimentDrift?.psi);
    set(gauges.mae, r.performance?.mae);
    set(gauges.directionalAccuracy, r.performance?.directionalAccuracy);
    set(gauges.ic, r.performance?.ic);
    set(gauges.outcomes, r.performance?.n);
    set(gauges.openIncident, r.incidentId ? 1 : 0);
    if (r.task === 'price') pending.set(r.pendingPredictions);
    m.modelInfo.set({ model: r.model.name, version: String(r.model.version), task: r.task }, 1);
  }
  return { observe, retrainRequests, resolved, promotionDecisions };
}
