/**
 * The first price model comes from the bundled CSV files, not from the stream: the trainer alone,
 * on an empty database (no feature in MongoDB, no other service), trains at start from
 * data/prices with config/training/price-bootstrap.json, through the promotion gate. The promoted
 * version's lineage names each CSV file with its sha256; the training reported epoch n/m with an
 * ETA as log lines and as metrics.
 */
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MongoClient } from 'mongodb';
import { COLLECTIONS } from '@stock-mlops/load';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { suite } from '../harness/index.ts';
import { mongoClient, waitFor, withStack } from '../support/stack.ts';
import { metricSum, parseMetrics } from '../../scripts/lib/progress.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const t = suite('trainer: the first price model from the bundled CSV files', { timeoutMs: 420_000 });
const ctx: { db?: string; mongo?: MongoClient } = {};

t('an empty database: a promoted price version whose lineage names the CSV files', async () => {
  const started = Date.now();
  await withStack({ services: ['trainer'], perService: { trainer: { TRAIN_SENTIMENT_ON_START: 'false', LOG_LEVEL: 'info' } } }, async (stack) => {
    ctx.db = stack.db;
    ctx.mongo = await mongoClient();
    const db = ctx.mongo.db(stack.db);
    const store = new ModelStore(db);
    const alias = await waitFor('a production price model', async () => (await store.getAlias('price', 'production')) ?? undefined, 360_000, 1_000);
    const seconds = (Date.now() - started) / 1000;
    assert.is(await db.collection(COLLECTIONS.features).findOne({}), null, 'no feature vector was ever stored');
    const v = await store.get('price', alias.version);
    assert.is(v.status, 'production');
    assert.match(v.statusReason, /gate passed/);
    const lineage = v.lineage as { source: string; files: Array<{ file: string; sha256: string; featureRows: number }>; reason: string };
    assert.is(lineage.source, 'csv');
    const bundled = readdirSync(path.join(ROOT, 'data/prices')).filter((f) => f.endsWith('.csv')).sort();
    assert.equal(lineage.files.map((f) => path.basename(f.file)), bundled);
    for (const f of lineage.files) assert.is(f.sha256, createHash('sha256').update(readFileSync(f.file)).digest('hex'));
    assert.match(lineage.reason, /initial training on the bundled CSV files/);
    const bootstrapCfg = JSON.parse(readFileSync(path.join(ROOT, 'config/training/price-bootstrap.json'), 'utf8'));
    assert.is(v.params.epochs, bootstrapCfg.model.epochs, 'trained with the bootstrap config');

    // Progress: "epoch n/m, ETA …" lines and the gauges on /metrics.
    const epochs = stack.logs.filter((l) => /"msg":"epoch \d+\/\d+, ETA /.test(l));
    assert.ok(epochs.length >= 1, 'epoch lines logged');
    assert.match(epochs[0]!, new RegExp(`"epoch":1,"epochs":${bootstrapCfg.model.epochs},"etaSeconds":\\d+`));
    const opsLine = stack.logs.find((l) => l.includes('ops http listening'))!;
    const port = (JSON.parse(opsLine.slice(opsLine.indexOf('{'))) as { port: number }).port;
    const samples = await waitFor('the promoted training counted', async () => {
      const s = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      return metricSum(s, 'stockmlops_trainings_total', { task: 'price', outcome: 'promoted' }) === 1 ? s : undefined;
    }, 30_000, 500);
    assert.is(metricSum(samples, 'stockmlops_training_epochs', { task: 'price' }), bootstrapCfg.model.epochs);
    assert.ok(metricSum(samples, 'stockmlops_training_epoch', { task: 'price' }) >= 1);
    assert.is(metricSum(samples, 'stockmlops_training_active', { task: 'price' }), 0);
    const m = v.metrics;
    console.log(
      `  first model after ${seconds.toFixed(0)} s (${epochs.length} epochs of ${bootstrapCfg.model.epochs}): rmse ${m.rmse?.toFixed(4)} vs movingAverage ${m.baseline_movingAverage_rmse?.toFixed(4)}, zero ${m.baseline_zero_rmse?.toFixed(4)}, persistence ${m.baseline_persistence_rmse?.toFixed(4)}; directional accuracy ${m.directionalAccuracy?.toFixed(3)}; IC ${m.ic?.toFixed(4)} over ${m.n} samples`,
    );
  });
});

t.after(async () => {
  if (ctx.db) await ctx.mongo?.db(ctx.db).dropDatabase().catch(() => {});
  await ctx.mongo?.close();
});

t.run();
