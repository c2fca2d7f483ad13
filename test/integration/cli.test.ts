/**
 * The model CLIs as others script them, against the real database and broker:
 * `npm run train` (JSON last line, gate, one training per model), `npm run evaluate` (metrics
 * JSON + HTML report with PNG charts, price and sentiment files), `npm run models`
 * (list/promote/rollback publishing model events).
 */
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import type { MongoClient } from 'mongodb';
import { decode, resolveTopics } from '@stock-mlops/contracts';
import { TrainingRuns } from '@stock-mlops/ml/registry/training_runs';
import { loadSentimentCsv } from '@stock-mlops/ml/models/sentiment_analyzer';
import { ensureTopics } from '@stock-mlops/platform';
import { suite } from '../harness/index.ts';
import { collect, dbNameFor, kafkaClient, mongoClient, requireInfra, uniqueId, waitFor } from '../support/stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const t = suite('CLIs: train, evaluate, models', { timeoutMs: 120_000 });
const prefix = `${uniqueId('cli')}.`;
const dbName = dbNameFor(prefix, 38);
const tmp = mkdtempSync(path.join(tmpdir(), 'cli-test-'));
const env = { ...process.env, ...requireInfra(), MONGO_DB: dbName, KAFKA_TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' };
const ctx: { mongo?: MongoClient; events?: Awaited<ReturnType<typeof collect>> } = {};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  json: () => Record<string, unknown>;
}

function run(args: string[], viaNpm = false): Promise<Run> {
  const [cmd, argv] = viaNpm ? ['npm', ['run', '-s', ...args]] : [process.execPath, ['--import', 'tsx', ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv as string[], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code,
        stdout,
        stderr,
        json: () => {
          const last = stdout.trim().split('\n').at(-1) ?? '';
          try {
            return JSON.parse(last) as Record<string, unknown>;
          } catch {
            throw new Error(`last stdout line is not JSON: ${last.slice(0, 200)}\nstderr: ${stderr.slice(-2000)}`);
          }
        },
      }),
    );
  });
}

const SMOKE = path.join(ROOT, 'config/training/price-smoke.json');
const LABEL_MAP = '0=negative,1=positive,2=neutral';
const MSFT = path.join(ROOT, 'data/prices/MSFT.csv');

t.before(async () => {
  ctx.mongo = await mongoClient();
  await ensureTopics(kafkaClient('cli-test-admin'), prefix);
  ctx.events = await collect([resolveTopics(prefix).modelEvents], 'cli-test');
  // Two small sentiment files from the bundled set (raw labels 0/1/2): one to train on, another to evaluate on.
  const all = await loadSentimentCsv(path.join(ROOT, 'data/sentiment/twitter_financial_news_sentiment.csv'), { textColumn: 'text', labelColumn: 'label', labelMap: LABEL_MAP });
  const raw = { negative: '0', positive: '1', neutral: '2' } as const;
  // The training file has text labels in mixed case under other column names (as PhraseBank-like files do).
  const text = { negative: 'Negative', positive: 'POSITIVE', neutral: 'neutral' } as const;
  const write = (file: string, header: string, label: Record<string, string>, keep: (i: number) => boolean) =>
    writeFileSync(path.join(tmp, file), [header, ...all.texts.flatMap((t, i) => (keep(i) ? [`"${t.replace(/"/g, '""')}",${label[all.labels[i]!]}`] : []))].join('\n'));
  write('train.csv', 'sentence,sentiment', text, (i) => i % 4 === 0);
  write('eval.csv', 'text,label', raw, (i) => i % 9 === 1 && i % 4 !== 0);
});

t('train price from a CSV: JSON last line, promoted through the gate, progress on stderr; same seed → same metrics', async () => {
  const first = await run(['train', '--', '--task', 'price', '--data', MSFT, '--config', SMOKE, '--seed', '3', '--json'], true);
  assert.is(first.code, 0, first.stderr.slice(-2000));
  const a = first.json();
  assert.equal(Object.keys(a).sort(), ['metrics', 'model', 'promoted', 'reason', 'version']);
  assert.equal([a.model, a.version, a.promoted], ['price', 1, true]);
  assert.match(String(a.reason), /gate passed/);
  const m = a.metrics as Record<string, number>;
  for (const k of ['rmse', 'mae', 'baseline_zero_rmse', 'baseline_persistence_rmse', 'baseline_movingAverage_rmse', 'baseline_ridge_rmse', 'backtest_sharpe', 'buyhold_totalReturn']) assert.ok(Number.isFinite(m[k]), `${k} reported`);
  assert.match(first.stderr, /train price \|.*\| 3\/3/, 'progress bar on stderr');

  const second = await run([path.join(ROOT, 'scripts/train_model.ts'), '--task', 'price', '--data', MSFT, '--config', SMOKE, '--seed', '3', '--json']);
  assert.is(second.code, 0, second.stderr.slice(-2000));
  const b = second.json();
  assert.is(b.version, 2);
  const mb = b.metrics as Record<string, number>;
  for (const k of Object.keys(m)) assert.is(mb[k], m[k], `${k} identical with the same seed and data`);
  assert.is(mb.production_rmse, m.rmse, 'v2 was compared with production v1 on the same window');
  assert.is(b.promoted, false, 'a tie with production is not an improvement');
});

t('models: list, promote and rollback move production and publish model events', async () => {
  const script = path.join(ROOT, 'scripts/models.ts');
  const list = await run([script, 'list', '--json']);
  assert.is(list.code, 0, list.stderr);
  const rows = list.json() as unknown as Array<{ name: string; version: number; status: string; aliases: string[] }>;
  assert.equal(rows.map((r) => [r.version, r.status, r.aliases]), [[1, 'production', ['production']], [2, 'rejected', []]]);
  const promote = await run([script, 'promote', 'price@2', '--json']);
  assert.is(promote.code, 0, promote.stderr);
  assert.equal([promote.json().kind, promote.json().published], ['promoted', true]);
  const back = await run([script, 'rollback', 'price', '--json']);
  assert.is(back.code, 0, back.stderr);
  assert.equal([back.json().kind, (back.json().model as { version: number }).version], ['rolled_back', 1]);
  const again = await run([script, 'rollback', 'price']);
  assert.is(again.code, 1);
  assert.match(again.stderr, /E_NO_PREVIOUS/);
  const show = await run([script, 'show', 'price@production', '--json']);
  assert.is(show.json().version, 1);

  const events = await waitFor('six model events', () => (ctx.events!.messages.length >= 6 ? ctx.events!.messages : undefined), 30_000);
  const kinds = events.map((e) => {
    const r = decode('modelEvents', e.m.value);
    if (!r.ok) throw new Error(`undecodable model event: ${r.reason}`);
    return `${r.envelope.data.kind}:${r.envelope.data.model.version}`;
  });
  assert.equal(kinds, ['registered:1', 'promoted:1', 'registered:2', 'rejected:2', 'promoted:2', 'rolled_back:1']);
});

t('evaluate price on another file: model, every baseline and the backtest as JSON, plus an HTML report', async () => {
  const report = path.join(tmp, 'report-price');
  const r = await run([path.join(ROOT, 'scripts/evaluate_model.ts'), '--task', 'price', '--data', path.join(ROOT, 'data/prices/SPY.csv'), '--model', 'price@1', '--from', '2019-01-01', '--json', '--report', report]);
  assert.is(r.code, 0, r.stderr.slice(-2000));
  const out = r.json() as { model: { rmse: number }; baselines: Record<string, { rmse: number }>; backtest: { strategy: { totalReturn: number }; buyAndHold: { totalReturn: number } }; n: number };
  assert.ok(out.n > 300 && out.n < 450, `samples from 2019 on: ${out.n}`);
  assert.equal(Object.keys(out.baselines).sort(), ['movingAverage', 'persistence', 'reversal', 'ridge', 'zero'], 'the naive baselines and the ridge the model carries');
  assert.ok(Number.isFinite(out.model.rmse) && Object.values(out.baselines).every((b) => Number.isFinite(b.rmse)));
  assert.ok(Number.isFinite(out.backtest.strategy.totalReturn) && Number.isFinite(out.backtest.buyAndHold.totalReturn));
  const html = readFileSync(path.join(report, 'index.html'), 'utf8');
  for (const png of ['predicted_vs_actual_0.png', 'equity.png', 'errors.png']) {
    assert.ok(html.includes(png));
    assert.ok(PNG.sync.read(readFileSync(path.join(report, png))).width > 0);
  }
});

t('train sentiment on text labels with no map, evaluate on numeric labels with the map stored with the model', async () => {
  const tr = await run([
    path.join(ROOT, 'scripts/train_model.ts'), '--task', 'sentiment', '--data', path.join(tmp, 'train.csv'), '--config', path.join(ROOT, 'config/training/sentiment-smoke.json'),
    '--text-column', 'sentence', '--label-column', 'sentiment', '--json',
  ]);
  assert.is(tr.code, 0, tr.stderr.slice(-2000));
  const a = tr.json();
  assert.equal([a.model, a.version, a.promoted], ['sentiment', 1, true], String(a.reason));
  assert.ok((a.metrics as Record<string, number>).macroF1! > (a.metrics as Record<string, number>).baseline_majority_macroF1!);

  const report = path.join(tmp, 'report-sentiment');
  // No --label-map: the raw 0/1/2 labels are read with the map the model was trained with.
  const ev = await run([path.join(ROOT, 'scripts/evaluate_model.ts'), '--task', 'sentiment', '--data', path.join(tmp, 'eval.csv'), '--text-column', 'text', '--label-column', 'label', '--json', '--report', report]);
  assert.is(ev.code, 0, ev.stderr.slice(-2000));
  const out = ev.json() as { accuracy: number; macroF1: number; perClass: Record<string, { f1: number; support: number }>; confusion: number[][]; n: number };
  assert.ok(out.n > 700, `${out.n} texts`);
  assert.equal(Object.keys(out.perClass).sort(), ['negative', 'neutral', 'positive']);
  assert.is(out.confusion.flat().reduce((x, y) => x + y, 0), out.n);
  assert.is(Object.values(out.perClass).reduce((x, c) => x + c.support, 0), out.n);
  assert.ok(out.accuracy > 0.6 && out.macroF1 > 0.4, `accuracy ${out.accuracy}, macro-F1 ${out.macroF1}`);
  assert.ok(existsSync(path.join(report, 'confusion.png')) && existsSync(path.join(report, 'index.html')));
});

t('usage errors and a running training of the same model are reported with codes and exit status', async () => {
  const train = path.join(ROOT, 'scripts/train_model.ts');
  const bad = await run([train, '--task', 'weather']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /E_USAGE/);
  const missing = await run([path.join(ROOT, 'scripts/evaluate_model.ts'), '--task', 'price', '--data', '/nonexistent.csv']);
  assert.is(missing.code, 2);
  // --help and bad flags of every CLI: test/unit/cli/conventions.test.ts.

  const runs = new TrainingRuns(ctx.mongo!.db(dbName), 60_000, 'trainer');
  const held = await runs.tryAcquire('price', 'price', 'test holds the lease');
  try {
    const busy = await run([train, '--task', 'price', '--data', MSFT, '--config', SMOKE]);
    assert.is(busy.code, 1);
    assert.match(busy.stderr, /E_TRAINING_BUSY/);
  } finally {
    await runs.finish(held.run, 'succeeded');
  }
});

t.after(async () => {
  await ctx.events?.stop();
  await ctx.mongo?.db(dbName).dropDatabase().catch(() => {});
  await ctx.mongo?.close();
  rmSync(tmp, { recursive: true, force: true });
});

t.run();
