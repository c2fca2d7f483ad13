/**
 * Walk-forward results of the price model per CSV file, beside the naive baselines and a
 * long/flat backtest vs buy-and-hold, as a markdown table (docs/models-price.md is written
 * from this script's output; numbers are measured, never typed in).
 *
 *   npx tsx packages/ml/src/reports/price_walkforward.ts [--config FILE] [--set k=v]... [--folds 3]
 *       [--out docs/models-price.md] [--json artifacts/reports/walkforward.json] [FILE.csv ...]
 *
 * Default files: AAPL, GOOG, MSFT, SPY, AMZN, NVDA, 005930.KS from SHARED_DATA_DIR/prices
 * (default ../shared/data next to the repository). With --out, the block between the markers
 * `<!-- walk-forward:begin -->` and `<!-- walk-forward:end -->` of that file is replaced.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Tf } from '../tf.ts';
import { initTf } from '../tf.ts';
import { loadPriceTrainConfig, type PriceTrainConfig } from '../training/config.ts';
import { loadPriceCsvRows } from '../training/price_csv.ts';
import { walkForwardEvaluatePrice, type PriceEvaluationReport, type WalkForwardFoldResult } from '../training/train.ts';
import type { WalkForwardSummary } from '../training/walk_forward_metrics.ts';

export const SHARED_PRICE_FILES = ['AAPL', 'GOOG', 'MSFT', 'SPY', 'AMZN', 'NVDA', '005930.KS'];
export const BEGIN = '<!-- walk-forward:begin -->';
export const END = '<!-- walk-forward:end -->';

export interface FileResult {
  file: string;
  symbol: string;
  sha256: string;
  rows: number;
  /** Features per row (the schema the rows were built in). */
  features: number;
  evaluation: PriceEvaluationReport;
  folds: WalkForwardFoldResult[];
  summary: WalkForwardSummary;
  seconds: number;
}

export async function walkForwardFile(tf: Tf, file: string, cfg: PriceTrainConfig, folds: number): Promise<FileResult> {
  const t0 = performance.now();
  const data = loadPriceCsvRows([file]);
  const r = await walkForwardEvaluatePrice(tf, data.rows, data.schemaHash, cfg, { folds });
  const f = data.files[0]!;
  return { file: path.basename(file), symbol: f.symbol, sha256: f.sha256, rows: data.rows.length, features: data.names.length, evaluation: r.evaluation, folds: r.folds, summary: r.summary, seconds: (performance.now() - t0) / 1000 };
}

const n4 = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : '—');
const p1 = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}` : '—');
const s2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '—');
const rel = (m: number, b: number) => (Number.isFinite(m) && Number.isFinite(b) && b > 0 ? `${((m / b - 1) * 100).toFixed(2)} %` : '—');

/** Markdown tables: accuracy per predictor, then the backtest. */
export function markdownTables(results: readonly FileResult[], cfg: PriceTrainConfig, folds: number, backend: string): string {
  const acc = [
    '| file | test samples | predictor | RMSE (price) | MAE (price) | dir. acc. % | IC | RMSE vs zero |',
    '|---|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const e = r.evaluation;
    const zero = e.baselines.zero.rmse;
    const line = (name: string, m: PriceEvaluationReport['model']) =>
      `| ${r.file} | ${m.n} | ${name} | ${n4(m.rmse)} | ${n4(m.mae)} | ${p1(m.directionalAccuracy)} | ${n4(m.ic)} | ${rel(m.rmse, zero)} |`;
    acc.push(line(`**model (${cfg.model.arch})**`, e.model));
    for (const [k, m] of Object.entries(e.baselines)) acc.push(line(k, m));
  }
  const bt = [
    `| file | strategy total % | strategy Sharpe | strategy max DD % | exposure % | trades | buy & hold total % | buy & hold Sharpe | buy & hold max DD % |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const s = r.evaluation.backtest.strategy;
    const b = r.evaluation.backtest.buyAndHold;
    bt.push(`| ${r.file} | ${p1(s.totalReturn)} | ${s2(s.sharpe)} | ${p1(s.maxDrawdown)} | ${p1(s.exposure)} | ${s.trades} | ${p1(b.totalReturn)} | ${s2(b.sharpe)} | ${p1(b.maxDrawdown)} |`);
  }
  const perFold = [
    '| file | test block | n | IC | rank IC | dir. acc. % | MAE / zero | RMSE / zero | strategy total % | turnover | buy & hold total % |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    for (const f of r.folds) {
      const s = f.score;
      perFold.push(`| ${r.file} | ${f.from}→${f.to} | ${s.n} | ${n4(s.ic)} | ${n4(s.rankIc)} | ${p1(s.directionalAccuracy)} | ${n4(s.maeRatio)} | ${n4(s.rmseRatio)} | ${p1(s.backtest.totalReturn)} | ${n4(s.backtest.turnover)} | ${p1(s.buyAndHold.totalReturn)} |`);
    }
    const m = r.summary;
    perFold.push(`| ${r.file} | **across ${m.folds} folds** (mean; t) | ${r.evaluation.n} | ${n4(m.ic.mean)}; t ${s2(m.ic.t)} | ${n4(m.rankIc.mean)}; t ${s2(m.rankIc.t)} | ${p1(m.directionalAccuracy.mean)} | ${n4(m.maeRatio.mean)} | ${n4(m.rmseRatio.mean)} | ${p1(m.backtest.totalReturn.mean)} | ${n4(m.backtest.turnover.mean)} | ${p1(m.backtest.buyAndHoldTotalReturn.mean)} |`);
  }
  const foldLines = results.map(
    (r) => `| ${r.file} | ${r.rows} | ${r.folds.map((f) => `${f.from}→${f.to} (best epoch ${f.bestEpoch}/${f.epochsRun})`).join('<br>')} | ${r.seconds.toFixed(0)} | \`${r.sha256.slice(0, 12)}\` |`,
  );
  const m = cfg.model;
  return [
    `Measured by \`npx tsx packages/ml/src/reports/price_walkforward.ts\` on ${new Date().toISOString().slice(0, 10)}, backend \`${backend}\`: ${folds} expanding-window folds per file, each a fresh ${m.arch.toUpperCase()}(${m.hidden}) over ${m.lookback} feature rows (${results[0]?.features ?? 0} features, the transformer's published schema), horizon ${m.horizon}, seed ${m.seed}, up to ${m.epochs} epochs with early stopping (patience ${m.patience}) on the last ${Math.round((cfg.data.valFrac / (cfg.data.trainFrac + cfg.data.valFrac)) * 100)} % of each fold's history, embargo ${cfg.data.embargo}. Errors are in the file's price units (KRW for 005930.KS); "RMSE vs zero" is the relative difference to the zero-return (random-walk) baseline: negative = better.`,
    '',
    ...acc,
    '',
    `Long/flat backtest on the same test blocks (long when the predicted return is > 0, ${cfg.backtest.costBps} bps per position change), against buy-and-hold:`,
    '',
    ...bt,
    '',
    `Per fold (a fold with constant predictions has no IC: "—", counted as 0 in the mean; t = mean / (std / √folds)):`,
    '',
    ...perFold,
    '',
    '| file | feature rows | test blocks | seconds | sha256 |',
    '|---|---:|---|---:|---|',
    ...foldLines,
  ].join('\n');
}

export function replaceBlock(doc: string, block: string): string {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) return `${doc.trimEnd()}\n\n${BEGIN}\n${block}\n${END}\n`;
  return `${doc.slice(0, a + BEGIN.length)}\n${block}\n${doc.slice(b)}`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      set: { type: 'string', multiple: true, default: [] },
      folds: { type: 'string', default: '3' },
      out: { type: 'string' },
      json: { type: 'string' },
    },
  });
  const shared = process.env.SHARED_DATA_DIR ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../shared/data');
  const files = positionals.length ? positionals : SHARED_PRICE_FILES.map((s) => path.join(shared, 'prices', `${s}.csv`));
  for (const f of files) if (!existsSync(f)) throw new Error(`${f}: no such file (set SHARED_DATA_DIR)`);
  const cfg = loadPriceTrainConfig(values.config, values.set);
  const folds = Number(values.folds);
  const { tf, backend } = await initTf();
  const results: FileResult[] = [];
  for (const f of files) {
    const r = await walkForwardFile(tf, f, cfg, folds);
    const e = r.evaluation;
    console.error(`${r.file}: n=${e.n} rmse model ${e.model.rmse.toFixed(4)} zero ${e.baselines.zero.rmse.toFixed(4)} persistence ${e.baselines.persistence.rmse.toFixed(4)} ma ${e.baselines.movingAverage.rmse.toFixed(4)}; strategy ${(e.backtest.strategy.totalReturn * 100).toFixed(1)} % vs buy&hold ${(e.backtest.buyAndHold.totalReturn * 100).toFixed(1)} % (${r.seconds.toFixed(0)} s)`);
    results.push(r);
  }
  const block = markdownTables(results, cfg, folds, backend);
  if (values.json) {
    mkdirSync(path.dirname(values.json), { recursive: true });
    writeFileSync(values.json, JSON.stringify({ backend, folds, config: cfg, results }, null, 2));
  }
  if (values.out) writeFileSync(values.out, replaceBlock(existsSync(values.out) ? readFileSync(values.out, 'utf8') : '', block));
  else process.stdout.write(`${block}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
