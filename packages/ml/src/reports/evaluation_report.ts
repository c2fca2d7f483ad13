import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SupervisedSample } from '../datasets/supervised.ts';
import type { ClassificationReport } from '../models/sentiment_analyzer_metrics.ts';
import { backtestSamples, baselineReturns, type PriceEvaluationReport } from '../training/train.ts';
import { groupedBars, heatmap, histogram, lineChart, type Chart } from './charts.ts';
import { COLORS, formatTick } from './raster.ts';

/**
 * Evaluation reports: a self-contained directory with index.html and PNG charts drawn by our own
 * rasterizer (no browser, no fonts). Price: predicted vs actual price, strategy vs buy-and-hold
 * equity, error histograms of the model and the zero baseline. Sentiment: confusion-matrix
 * heatmap and per-class precision/recall/F1.
 */
export interface ReportMeta {
  title: string;
  model: { name: string; version: number; task: string; createdAt?: string; status?: string };
  data: string;
  generatedAt?: string;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const num = (v: number | undefined, digits = 4) => (v === undefined || !Number.isFinite(v) ? '—' : Number(v.toPrecision(digits)).toString());
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : `${(v * 100).toFixed(2)} %`);

function page(meta: ReportMeta, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(meta.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:960px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px}th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}figure{margin:16px 0 28px}figcaption{color:#555;font-size:14px}
.key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
</style></head><body>
<h1>${esc(meta.title)}</h1>
<p>Model <b>${esc(meta.model.name)}@${meta.model.version}</b> (${esc(meta.model.task)}${meta.model.status ? `, ${esc(meta.model.status)}` : ''}${meta.model.createdAt ? `, created ${esc(meta.model.createdAt)}` : ''}) evaluated on ${esc(meta.data)}; generated ${esc(meta.generatedAt ?? new Date().toISOString())}.</p>
${body}
</body></html>
`;
}

const rgb = (c: readonly number[]) => `rgb(${c.join(',')})`;
const legend = (items: Array<[string, readonly number[]]>) => `<span class="key">${items.map(([l, c]) => `<span style="background:${rgb(c)}"></span>${esc(l)}`).join('')}</span>`;

function figure(dir: string, file: string, chart: Chart, caption: string): string {
  writeFileSync(path.join(dir, file), chart.png);
  return `<figure><img src="${file}" width="${chart.width}" height="${chart.height}" alt="${esc(caption.replace(/<[^>]+>/g, ''))}"><figcaption>${caption}</figcaption></figure>`;
}

export interface PriceReportInput {
  meta: ReportMeta;
  evaluation: PriceEvaluationReport;
  samples: readonly SupervisedSample[];
  predictions: readonly number[];
  /** Earlier samples whose labels the baselines may use (as in the evaluation). */
  history?: readonly SupervisedSample[];
}

/** Write the price evaluation report into `dir`; returns the path of index.html. */
export function writePriceReport(dir: string, input: PriceReportInput): string {
  mkdirSync(dir, { recursive: true });
  const { evaluation: ev, samples, predictions } = input;
  const rows = [['model', ev.model] as const, ...Object.entries(ev.baselines).map(([k, v]) => [`baseline: ${k}`, v] as const)];
  const metricsTable = `<table><tr><th>predictor</th><th>n</th><th>MAE</th><th>RMSE</th><th>MAPE</th><th>directional accuracy</th><th>IC</th><th>rank IC</th></tr>
${rows.map(([name, m]) => `<tr><td>${esc(name)}</td><td>${m.n}</td><td>${num(m.mae)}</td><td>${num(m.rmse)}</td><td>${pct(m.mape)}</td><td>${pct(m.directionalAccuracy)}</td><td>${num(m.ic, 3)}</td><td>${num(m.rankIc, 3)}</td></tr>`).join('\n')}</table>`;
  const bt = ev.backtest;
  const btTable = `<table><tr><th>long/flat, ${bt.costBps} bps per trade</th><th>total return</th><th>annualized</th><th>Sharpe</th><th>max drawdown</th><th>trades</th><th>exposure</th></tr>
${(['strategy', 'buyAndHold'] as const).map((k) => `<tr><td>${k === 'strategy' ? 'model strategy' : 'buy and hold'}</td><td>${pct(bt[k].totalReturn)}</td><td>${pct(bt[k].annualizedReturn)}</td><td>${num(bt[k].sharpe, 3)}</td><td>${pct(bt[k].maxDrawdown)}</td><td>${bt[k].trades}</td><td>${pct(bt[k].exposure)}</td></tr>`).join('\n')}</table>`;

  const figures: string[] = [];
  const symbols = [...new Set(samples.map((s) => s.symbol))].sort().slice(0, 4);
  symbols.forEach((symbol, k) => {
    const idx = samples.map((s, i) => (s.symbol === symbol ? i : -1)).filter((i) => i >= 0);
    const actual = idx.map((i) => samples[i]!.lastClose * (1 + samples[i]!.label));
    const predicted = idx.map((i) => samples[i]!.lastClose * (1 + predictions[i]!));
    const chart = lineChart([
      { label: 'actual', values: actual, color: COLORS.blue },
      { label: 'predicted', values: predicted, color: COLORS.orange },
    ]);
    const from = new Date(samples[idx[0]!]!.labelEnd).toISOString().slice(0, 10);
    const to = new Date(samples[idx[idx.length - 1]!]!.labelEnd).toISOString().slice(0, 10);
    figures.push(
      figure(dir, `predicted_vs_actual_${k}.png`, chart, `${legend([['actual close', COLORS.blue], ['predicted close', COLORS.orange]])} — ${esc(symbol)}, ${idx.length} periods ${from} → ${to}; price axis ${formatTick(chart.y[0])} … ${formatTick(chart.y[1])}.`),
    );
  });
  const curves = backtestSamples(samples, predictions, bt.costBps);
  const eq = lineChart([
    { label: 'strategy', values: curves.strategy, color: COLORS.green },
    { label: 'buy and hold', values: curves.buyAndHold, color: COLORS.gray },
  ]);
  figures.push(figure(dir, 'equity.png', eq, `${legend([['model long/flat strategy', COLORS.green], ['buy and hold', COLORS.gray]])} — equity (start = 1) over ${curves.ts.length} periods; axis ${formatTick(eq.y[0])} … ${formatTick(eq.y[1])}.`));
  const zero = baselineReturns(samples, 20, input.history ?? []).zero;
  const hist = histogram([
    { label: 'model', values: samples.map((s, i) => predictions[i]! - s.label), color: COLORS.orange },
    { label: 'zero baseline', values: samples.map((s, i) => zero[i]! - s.label), color: COLORS.blue },
  ]);
  figures.push(figure(dir, 'errors.png', hist, `${legend([['model', COLORS.orange], ['zero-return baseline', COLORS.blue]])} — distribution of return errors (predicted − realized), ${hist.edges.length - 1} bins over ${formatTick(hist.x[0])} … ${formatTick(hist.x[1])} (0.5 % tails clipped); the black line is 0.`));

  const html = page(input.meta, `<h2>Accuracy</h2>${metricsTable}<h2>Backtest</h2>${btTable}<h2>Charts</h2>${figures.join('\n')}`);
  const file = path.join(dir, 'index.html');
  writeFileSync(file, html);
  return file;
}

export interface SentimentReportInput {
  meta: ReportMeta;
  report: ClassificationReport;
  baseline?: ClassificationReport;
}

/** Write the sentiment evaluation report into `dir`; returns the path of index.html. */
export function writeSentimentReport(dir: string, input: SentimentReportInput): string {
  mkdirSync(dir, { recursive: true });
  const r = input.report;
  const summary = `<table><tr><th>predictor</th><th>n</th><th>accuracy</th><th>macro-F1</th></tr>
<tr><td>model</td><td>${r.count}</td><td>${num(r.accuracy)}</td><td>${num(r.macroF1)}</td></tr>
${input.baseline ? `<tr><td>majority-class baseline</td><td>${input.baseline.count}</td><td>${num(input.baseline.accuracy)}</td><td>${num(input.baseline.macroF1)}</td></tr>` : ''}</table>`;
  const perClass = `<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>
${r.labels.map((l) => `<tr><td>${esc(l)}</td><td>${num(r.perClass[l]?.precision)}</td><td>${num(r.perClass[l]?.recall)}</td><td>${num(r.perClass[l]?.f1)}</td><td>${r.perClass[l]?.support ?? 0}</td></tr>`).join('\n')}</table>`;
  const hm = heatmap(r.confusion);
  const bars = groupedBars(r.labels, [
    { label: 'precision', values: r.labels.map((l) => r.perClass[l]?.precision ?? 0), color: COLORS.blue },
    { label: 'recall', values: r.labels.map((l) => r.perClass[l]?.recall ?? 0), color: COLORS.orange },
    { label: 'F1', values: r.labels.map((l) => r.perClass[l]?.f1 ?? 0), color: COLORS.green },
  ], { yMax: 1 });
  const figures = [
    figure(dir, 'confusion.png', hm, `Confusion matrix: rows = true class, columns = predicted class, both in the order ${r.labels.map(esc).join(', ')}; darker = more texts (max ${hm.y[1]}).`),
    figure(dir, 'per_class.png', bars, `${legend([['precision', COLORS.blue], ['recall', COLORS.orange], ['F1', COLORS.green]])} — per class (${r.labels.map(esc).join(', ')}, left to right); axis 0 … 1.`),
  ];
  const html = page(input.meta, `<h2>Accuracy</h2>${summary}<h2>Per class</h2>${perClass}<h2>Charts</h2>${figures.join('\n')}`);
  const file = path.join(dir, 'index.html');
  writeFileSync(file, html);
  return file;
}
