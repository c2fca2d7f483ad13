/**
 * npm run train -- --task price|sentiment [--data FILE]... [--config FILE] [--seed N] [--json]
 *                  [--set key.path=value]... [--text-column C] [--label-column C] [--label-map 0=negative,…]
 *                  [--no-stored-labels] [--wait-ms N]
 *
 * Trains in this process, registers the version and promotes it only through the gate, then
 * publishes the model events (so a running predictor follows). Holds the model's training lease
 * like the trainer service: one training at a time per model; if one is running, waits up to
 * --wait-ms (default 0: fail with E_TRAINING_BUSY).
 *
 * Data: price → --data CSV files (Date,Open,High,Low,Close[,Adj Close],Volume; symbol = file name)
 * or, without --data, the features in MongoDB; sentiment → --data CSV files (default: the bundled
 * Twitter Financial News set) plus, unless --no-stored-labels, the human labels stored in MongoDB
 * (a held-back slice of them goes to the gate, as in the trainer service). With --json the last stdout line is
 * {"model","version","metrics","promoted","reason"} (one line per model when data.pooling=perSymbol).
 * Progress goes to stderr (bar), logs to stderr (or artifacts/logs/train.log on a terminal).
 * Uses MONGO_URL / KAFKA_BROKERS when set, else the local infrastructure.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cliEnv, cliLogger, CliError, parseCli, printResult, progressBar, publishEvents, runCli, REPO_ROOT } from '@stock-mlops/platform';
import { TrainingRuns } from '@stock-mlops/ml/registry/training_runs';
import { initTf } from '@stock-mlops/ml/tf';
import { loadPriceTrainConfig, loadSentimentTrainConfig } from '@stock-mlops/ml/training/config';
import { openRegistry } from '@stock-mlops/ml/registry/open_registry';
import { currentGitSha, eventsOf, runPriceJob, runSentimentJob, type JobContext } from '@stock-mlops/ml/training/jobs';
import { MongoLabelStore } from '@stock-mlops/ml/training/sentiment_label_store';

const DEFAULT_CONFIG = { price: 'config/training/price.json', sentiment: 'config/training/sentiment.json' } as const;
const DEFAULT_SENTIMENT_DATA = 'data/sentiment/twitter_financial_news_sentiment.csv';

const USAGE = `usage: npm run train -- --task price|sentiment [options]

  --task price|sentiment   what to train (required)
  --data FILE              training CSV; repeat for several (price: Date,Open,High,Low,Close[,Adj Close],Volume,
                           symbol = file name; default: the features in MongoDB. sentiment: default the bundled
                           Twitter Financial News set)
  --config FILE            training config (default config/training/<task>.json)
  --set key.path=value     override one config value; repeatable
  --seed N                 random seed
  --text-column C          sentiment: the text column (default text)
  --label-column C         sentiment: the label column (default label)
  --label-map RAW=LABEL,…  sentiment: raw label → negative|neutral|positive (text labels need no map)
  --no-stored-labels       sentiment: train on the CSVs only (default: add the human labels stored in
                           MongoDB, sentiment_labels, with a held-back slice for the gate, as the trainer does)
  --wait-ms N              wait up to N ms for a running training of the same model (default 0: fail)
  --json                   print the result as JSON on the last stdout line
  -h, --help               print this help`;

runCli(async () => {
  const { values } = parseCli(USAGE, {
    options: {
      task: { type: 'string' },
      data: { type: 'string', multiple: true, default: [] },
      config: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
      set: { type: 'string', multiple: true, default: [] },
      'text-column': { type: 'string' },
      'label-column': { type: 'string' },
      'label-map': { type: 'string' },
      'no-stored-labels': { type: 'boolean', default: false },
      'wait-ms': { type: 'string', default: '0' },
    },
  });
  const task = values.task;
  if (task !== 'price' && task !== 'sentiment') throw new CliError('E_USAGE', '--task must be price or sentiment');
  if (values.seed !== undefined && !/^\d+$/.test(values.seed)) throw new CliError('E_USAGE', '--seed must be a non-negative integer');
  for (const f of values.data) if (!existsSync(f)) throw new CliError('E_USAGE', `--data ${f}: no such file`);
  if (!/^\d+$/.test(values['wait-ms'])) throw new CliError('E_USAGE', '--wait-ms must be a number of milliseconds');
  const configFile = values.config ?? (existsSync(path.join(REPO_ROOT, DEFAULT_CONFIG[task])) ? path.join(REPO_ROOT, DEFAULT_CONFIG[task]) : undefined);
  const overrides = [...values.set];
  if (values.seed !== undefined) overrides.push(`${task === 'price' ? 'model.seed' : 'seed'}=${values.seed}`);
  if (task === 'sentiment') {
    if (values['text-column']) overrides.push(`data.textColumn=${values['text-column']}`);
    if (values['label-column']) overrides.push(`data.labelColumn=${values['label-column']}`);
    if (values['label-map']) overrides.push(`data.labelMap=${values['label-map']}`);
  }

  const env = cliEnv();
  const { log, file: logFile } = cliLogger('train');
  if (logFile) process.stderr.write(`logs: ${logFile}\n`);
  const { mongo, store } = await openRegistry(env, log);
  const runs = new TrainingRuns(mongo.db, 30_000, 'cli');
  const { tf, backend } = await initTf();
  const ctx: JobContext = { tf, db: mongo.db, store, runs, log, gitSha: currentGitSha(), lockWaitMs: Number(values['wait-ms']) };
  const bar = progressBar(`train ${task}`);
  const reason = `CLI: npm run train -- --task ${task}${values.data.length ? ` --data ${values.data.map((f) => path.basename(f)).join(' --data ')}` : ''}`;
  try {
    log.info({ task, backend, config: configFile, data: values.data }, 'training from the CLI');
    let results;
    if (task === 'price') {
      const cfg = loadPriceTrainConfig(configFile, overrides);
      bar.start(cfg.model.epochs);
      results = await runPriceJob(ctx, {
        reason,
        cfg,
        files: values.data,
        onEpoch: (model, e) => {
          log.info({ model, epoch: e.epoch, loss: e.loss, valLoss: e.valLoss }, 'epoch');
          bar.update(e.epoch, { model, loss: e.loss.toFixed(4), val: e.valLoss.toFixed(4) });
        },
      });
    } else {
      const cfg = loadSentimentTrainConfig(configFile, overrides);
      const files = values.data.length ? values.data : [path.join(REPO_ROOT, DEFAULT_SENTIMENT_DATA)];
      const members = cfg.model.members?.length ?? 2;
      const epochs = cfg.model.epochs ?? 20;
      bar.start(members * epochs);
      let done = 0;
      results = [
        await runSentimentJob(ctx, {
          reason,
          cfg,
          files,
          ...(values['no-stored-labels'] ? {} : { labels: new MongoLabelStore(mongo.db) }),
          onEpoch: (e) => {
            log.info({ member: e.member, kind: e.kind, epoch: e.epoch, loss: e.loss, valLoss: e.valLoss, valMacroF1: e.valMacroF1 }, 'epoch');
            done = Math.max(done + 1, e.member * epochs + e.epoch);
            bar.update(done, { member: `${e.member}:${e.kind}`, loss: e.loss.toFixed(4), valF1: e.valMacroF1?.toFixed(3) ?? '-' });
          },
        }),
      ];
    }
    bar.stop();
    await publishEvents(env, log, { model: eventsOf(results) }, 'train-cli');
    for (const r of results) {
      const out = { model: r.version.name, version: r.version.version, metrics: r.version.metrics, promoted: r.promoted, reason: r.decision.reason };
      log.info(out, 'trained');
      printResult(values.json, out, () => `${out.model}@${out.version}: ${out.promoted ? 'PROMOTED to production' : 'not promoted'} — ${out.reason}`);
    }
  } finally {
    bar.stop();
    await mongo.close();
  }
}, { usage: USAGE });
