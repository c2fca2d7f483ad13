/**
 * npm run evaluate -- --task price|sentiment --data FILE [--model NAME@VERSION|NAME@ALIAS] [--json] [--report DIR]
 *   price:     [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--cost-bps N] [--folds K]
 *   sentiment: [--text-column C] [--label-column C] [--label-map 0=negative,1=positive,2=neutral]
 *              (default: the map the model was trained with; text labels need none)
 *
 * Evaluates a registered model (default: <task>@production) on any file and writes an HTML
 * report with PNG charts (default artifacts/reports/<model>-<version>/index.html).
 * Price files: Date,Open,High,Low,Close[,Adj Close],Volume; features are computed with the
 * stream's code and every sample in [--from, --to] is predicted. With --json the last stdout
 * line is the metrics object: price → {model, baselines, backtest, n, …}; sentiment →
 * {accuracy, macroF1, perClass, confusion, n, …}.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cliEnv, cliLogger, CliError, parseCli, printResult, runCli, REPO_ROOT } from '@stock-mlops/platform';
import { loadSentimentVersion, evaluateSentimentModel, PRICE_MODEL, SENTIMENT_MODEL } from '@stock-mlops/ml/ml_service';
import { writePriceReport, writeSentimentReport } from '@stock-mlops/ml/reports/evaluation_report';
import { initTf } from '@stock-mlops/ml/tf';
import { PriceModel } from '@stock-mlops/ml/models/price_predictor';
import { loadSentimentCsv } from '@stock-mlops/ml/models/sentiment_analyzer';
import { loadPriceCsvRows } from '@stock-mlops/ml/training/price_csv';
import { evaluatePriceModel } from '@stock-mlops/ml/training/train';
import { openRegistry } from '@stock-mlops/ml/registry/open_registry';

function day(s: string | undefined, flag: string): number | undefined {
  if (s === undefined) return undefined;
  const t = Date.parse(`${s}T00:00:00.000Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s) || Number.isNaN(t)) throw new CliError('E_USAGE', `${flag} must be a date YYYY-MM-DD`);
  return t;
}

const f4 = (v: number) => (Number.isFinite(v) ? v.toPrecision(4) : '—');

const USAGE = `usage: npm run evaluate -- --task price|sentiment --data FILE [options]

  --task price|sentiment   the model's task (required)
  --data FILE              the CSV to evaluate on (required)
  --model NAME@VERSION     or NAME@ALIAS (default: <task>@production)
  --from YYYY-MM-DD        price: first day scored
  --to YYYY-MM-DD          price: last day scored
  --cost-bps N             price: trading cost of the backtest (default 5)
  --folds K                price: also score K consecutive blocks of the window one by one
                           (IC, rank IC, IC t-stat across blocks, error ratios to zero, backtest)
  --text-column C          sentiment: the text column (default text)
  --label-column C         sentiment: the label column (default label)
  --label-map RAW=LABEL,…  sentiment: raw label → negative|neutral|positive (default: the model's own map;
                           text labels need none)
  --report DIR             where the HTML report goes (default artifacts/reports/<model>-<version>)
  --json                   print the metrics as JSON on the last stdout line
  -h, --help               print this help`;

runCli(async () => {
  const { values } = parseCli(USAGE, {
    options: {
      task: { type: 'string' },
      data: { type: 'string' },
      model: { type: 'string' },
      json: { type: 'boolean', default: false },
      report: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'cost-bps': { type: 'string', default: '5' },
      folds: { type: 'string', default: '0' },
      'text-column': { type: 'string', default: 'text' },
      'label-column': { type: 'string', default: 'label' },
      'label-map': { type: 'string' },
    },
  });
  const task = values.task;
  if (task !== 'price' && task !== 'sentiment') throw new CliError('E_USAGE', '--task must be price or sentiment');
  if (!values.data) throw new CliError('E_USAGE', '--data FILE is required');
  if (!existsSync(values.data)) throw new CliError('E_USAGE', `--data ${values.data}: no such file`);
  const ref = values.model ?? `${task === 'price' ? PRICE_MODEL : SENTIMENT_MODEL}@production`;
  if (!/^[a-z0-9_-]{1,64}(@[A-Za-z0-9_-]{1,32})?$/.test(ref)) throw new CliError('E_USAGE', '--model must look like NAME@VERSION or NAME@ALIAS');
  const costBps = Number(values['cost-bps']);
  if (!(costBps >= 0)) throw new CliError('E_USAGE', '--cost-bps must be >= 0');
  const folds = Number(values.folds);
  if (!Number.isInteger(folds) || folds < 0 || folds > 100) throw new CliError('E_USAGE', '--folds must be an integer from 0 to 100');

  const env = cliEnv();
  const { log } = cliLogger('evaluate');
  const { mongo, store } = await openRegistry(env, log);
  try {
    const version = await store.resolve(ref);
    if (version.task !== task) throw new CliError('E_USAGE', `${version.name}@${version.version} is a ${version.task} model, not ${task}`);
    const reportDir = values.report ?? path.join(REPO_ROOT, 'artifacts/reports', `${version.name}-${version.version}`);
    const meta = {
      title: `Evaluation of ${version.name}@${version.version} on ${path.basename(values.data)}`,
      model: { name: version.name, version: version.version, task: version.task, createdAt: version.createdAt, status: version.status },
      data: path.resolve(values.data),
    };
    if (task === 'price') {
      const { tf } = await initTf();
      const model = await PriceModel.deserialize(tf, await store.loadArtifacts(version.name, version.version));
      try {
        const data = loadPriceCsvRows([values.data]);
        if (model.meta.featureSchemaHash !== data.schemaHash) {
          throw new CliError('E_SCHEMA_MISMATCH', `${version.name}@${version.version} was trained on feature schema ${model.meta.featureSchemaHash.slice(0, 12)}…, this code computes ${data.schemaHash.slice(0, 12)}…`);
        }
        const from = day(values.from, '--from');
        const to = day(values.to, '--to');
        const r = evaluatePriceModel(model, data.rows, { costBps, folds, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
        const file = writePriceReport(reportDir, { meta, evaluation: r.evaluation, samples: r.samples, predictions: r.predictions, history: r.history });
        log.info({ model: ref, version: version.version, n: r.evaluation.n, report: file }, 'evaluated');
        const e = r.evaluation;
        const blocks = r.blocks ? { blocks: r.blocks, summary: r.summary } : {};
        printResult(values.json, { ...e, ...blocks, modelRef: { name: version.name, version: version.version }, data: data.files[0], report: file }, () =>
          [
            `${version.name}@${version.version} on ${path.basename(values.data!)} (${e.n} samples):`,
            `  model          rmse ${f4(e.model.rmse)}  mae ${f4(e.model.mae)}  directional ${f4(e.model.directionalAccuracy)}  ic ${f4(e.model.ic)}  rank ic ${f4(e.model.rankIc)}`,
            ...Object.entries(e.baselines).map(([k, m]) => `  ${k.padEnd(14)} rmse ${f4(m.rmse)}  mae ${f4(m.mae)}  directional ${f4(m.directionalAccuracy)}  ic ${f4(m.ic)}`),
            `  backtest       strategy ${f4(e.backtest.strategy.totalReturn)} (Sharpe ${f4(e.backtest.strategy.sharpe)}, turnover ${f4(e.backtest.strategy.turnover)})  buy&hold ${f4(e.backtest.buyAndHold.totalReturn)} (Sharpe ${f4(e.backtest.buyAndHold.sharpe)})`,
            ...(r.blocks ?? []).map(
              (b) =>
                `  ${b.from}→${b.to}  ic ${f4(b.score.ic)}  rank ic ${f4(b.score.rankIc)}  directional ${f4(b.score.directionalAccuracy)}  mae/zero ${f4(b.score.maeRatio)}  rmse/zero ${f4(b.score.rmseRatio)}  strategy ${f4(b.score.backtest.totalReturn)}  turnover ${f4(b.score.backtest.turnover)}`,
            ),
            ...(r.summary ? [`  across ${r.summary.folds} blocks: mean ic ${f4(r.summary.ic.mean)} (t ${f4(r.summary.ic.t)})  mean rank ic ${f4(r.summary.rankIc.mean)} (t ${f4(r.summary.rankIc.t)})  rmse/zero ${f4(r.summary.rmseRatio.mean)}`] : []),
            `  report         ${file}`,
          ].join('\n'),
        );
      } finally {
        model.dispose();
      }
    } else {
      // The model's own label map (stored with its training params) unless one is given.
      const stored = (version.params as { data?: { labelMap?: unknown } } | undefined)?.data?.labelMap;
      const labelMap = values['label-map'] ?? (typeof stored === 'string' ? stored : undefined);
      const data = await loadSentimentCsv(values.data, {
        textColumn: values['text-column'],
        labelColumn: values['label-column'],
        ...(labelMap ? { labelMap } : {}),
      });
      const model = await loadSentimentVersion(store, version.version, version.name);
      try {
        const report = await evaluateSentimentModel(model, data);
        const file = writeSentimentReport(reportDir, { meta, report });
        log.info({ model: ref, version: version.version, n: report.count, report: file }, 'evaluated');
        const out = { accuracy: report.accuracy, macroF1: report.macroF1, perClass: report.perClass, confusion: report.confusion, labels: report.labels, n: report.count, modelRef: { name: version.name, version: version.version }, report: file };
        printResult(values.json, out, () =>
          [
            `${version.name}@${version.version} on ${path.basename(values.data!)} (${report.count} texts): accuracy ${f4(report.accuracy)}  macro-F1 ${f4(report.macroF1)}`,
            ...report.labels.map((l) => `  ${l.padEnd(9)} precision ${f4(report.perClass[l]!.precision)}  recall ${f4(report.perClass[l]!.recall)}  F1 ${f4(report.perClass[l]!.f1)}  n ${report.perClass[l]!.support}`),
            `  confusion (rows = true ${report.labels.join('/')}): ${JSON.stringify(report.confusion)}`,
            `  report    ${file}`,
          ].join('\n'),
        );
      } finally {
        model.dispose();
      }
    }
  } finally {
    await mongo.close();
  }
}, { usage: USAGE });
