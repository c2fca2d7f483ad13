/**
 * The trainer service as a real process: at start it trains the sentiment model (none exists)
 * and the first price model from a bootstrap CSV file (TRAIN_BOOTSTRAP_DATA); SIGKILLed in the middle of the price training,
 * it is restarted by the supervisor, takes the dead run over and re-runs it — the registry never
 * holds a half-registered version. A retrain_requested monitor event triggers another training.
 */
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MongoClient } from 'mongodb';
import { encode, makeEnvelope, resolveTopics } from '@stock-mlops/contracts';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import type { TrainingRun } from '@stock-mlops/ml/registry/training_runs';
import { initTf } from '@stock-mlops/ml/tf';
import { PriceModel } from '@stock-mlops/ml/models/price_predictor';
import { loadSentimentCsv } from '@stock-mlops/ml/models/sentiment_analyzer';
import { suite } from '../harness/index.ts';
import { kafkaClient, mongoClient, waitFor, withStack, type RunningStack } from '../support/stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const t = suite('trainer service: start-up training, SIGKILL mid-training, retrain request', { timeoutMs: 300_000 });
const ctx: { db?: string; mongo?: MongoClient; tmp: string } = { tmp: mkdtempSync(path.join(tmpdir(), 'trainer-restart-')) };

const logged = (stack: RunningStack, pattern: RegExp) => stack.logs.filter((l) => pattern.test(l));

t('SIGKILL mid-training: the run is taken over and re-run, nothing half-registered; a monitor event retrains', async () => {
  // A quarter of the bundled sentiment set, written back with its raw 0/1/2 labels.
  const all = await loadSentimentCsv(path.join(ROOT, 'data/sentiment/twitter_financial_news_sentiment.csv'), { textColumn: 'text', labelColumn: 'label', labelMap: '0=negative,1=positive,2=neutral' });
  const raw = { negative: '0', positive: '1', neutral: '2' } as const;
  const sentimentCsv = path.join(ctx.tmp, 'sentiment.csv');
  writeFileSync(sentimentCsv, ['text,label', ...all.texts.flatMap((text, i) => (i % 4 === 0 ? [`"${text.replace(/"/g, '""')}",${raw[all.labels[i]!]}`] : []))].join('\n'));
  await withStack({
    services: ['trainer'],
    perService: {
      trainer: {
        TRAIN_BOOTSTRAP_DATA: path.join(ROOT, 'data/prices/MSFT.csv'),
        // Slow enough to be killed in the middle: 40 LSTM epochs without early stopping.
        TRAIN_OVERRIDES: 'model.arch=lstm,model.lookback=20,model.hidden=32,model.epochs=40,model.patience=40',
        TRAIN_SENTIMENT_DATA: sentimentCsv,
        TRAIN_SENTIMENT_CONFIG: path.join(ROOT, 'config/training/sentiment-smoke.json'),
        TRAIN_LEASE_MS: '3000',
      },
    },
    logLines: 80,
  }, async (stack) => {
    ctx.db = stack.db;
    ctx.mongo = await mongoClient();
    const db = ctx.mongo.db(stack.db);
    const store = new ModelStore(db);
    const runs = db.collection<TrainingRun>('training_runs');
    // Kill the trainer once the price model has trained two epochs.
    await waitFor('price epoch 2', () => logged(stack, /"model":"price".*"epoch":[2-9]/).length > 0, 180_000, 100);
    const pid = stack.sup.pid('trainer');
    stack.sup.kill('trainer', 'SIGKILL');
    const killed = await runs.findOne({ model: 'price', status: 'running' });
    assert.ok(killed, 'the killed run was recorded as running');
    assert.is(await store.versions.countDocuments({ name: 'price' }), 0, 'nothing registered at the kill');

    // The supervisor restarts it; the new process takes the dead run over and trains again.
    await waitFor('a restarted trainer', () => (stack.sup.pid('trainer') !== pid ? true : undefined), 30_000);
    await waitFor('the re-run registered a price version', async () => (await store.versions.countDocuments({ name: 'price' })) >= 1 || undefined, 240_000, 500);
    assert.ok(logged(stack, /re-running it/).length > 0, 'the restarted trainer logged the re-run');
    const old = await runs.findOne({ _id: killed._id });
    const rerun = await waitFor('the re-run recorded as succeeded', async () => (await runs.findOne({ tookOverFrom: killed._id, status: 'succeeded' })) ?? undefined, 30_000);
    assert.is(old!.status, 'abandoned');
    assert.is(old!.resolvedBy, rerun._id);
    assert.match(rerun.reason, /re-run of abandoned run/);
    const v = (await store.list('price'))[0]!;
    assert.is(rerun.version, v.version);
    assert.ok(['production', 'rejected'].includes(v.status), `the version went through the gate (${v.status}: ${v.statusReason})`);

    // Complete artifacts: they load and predict; no chunk without a version document.
    const { tf } = await initTf();
    const model = await PriceModel.deserialize(tf, await store.loadArtifacts('price', v.version));
    assert.is(model.meta.config.epochs, 40);
    model.dispose();
    const versions = new Set((await store.versions.find({}).toArray()).map((x) => `${x.name}:${x.version}`));
    const chunks = await store.chunks.find({}, { projection: { name: 1, version: 1 } }).toArray();
    assert.ok(chunks.length > 0 && chunks.every((c) => versions.has(`${c.name}:${c.version}`)), 'no orphan artifact chunks');

    // The sentiment model was trained at start (possibly re-run after the kill as well).
    const sentiment = await waitFor('a production sentiment model', async () => (await store.getAlias('sentiment', 'production')) ?? undefined, 120_000, 500);
    const before = await store.versions.countDocuments({ name: 'sentiment' });

    // A retrain request from the monitor (or `npm run models -- retrain`) trains again, once the
    // restarted trainer's consumer has joined its group (it reads from the latest offset).
    const admin = kafkaClient('trainer-restart-admin').admin();
    await admin.connect();
    await waitFor('the trainer consumer group to be stable', async () => {
      const { groups } = await admin.describeGroups([`${stack.prefix}trainer`]);
      return groups[0]?.state === 'Stable' && groups[0].members.length === 1 ? true : undefined;
    }, 90_000, 500);
    await admin.disconnect();
    const producer = kafkaClient('trainer-restart-test').producer();
    await producer.connect();
    const envelope = makeEnvelope('monitorEvents', { data: { kind: 'retrain_requested', task: 'sentiment', reason: 'test: drift', evidence: { psi: 0.4 } }, source: 'test' });
    await producer.send({ topic: resolveTopics(stack.prefix).monitorEvents, messages: [encode('monitorEvents', envelope)] });
    await producer.disconnect();
    await waitFor('a retrained sentiment version', async () => (await store.versions.countDocuments({ name: 'sentiment' })) > before || undefined, 120_000, 500);
    const retrain = await waitFor('the retrain run', async () => (await runs.findOne({ model: 'sentiment', reason: /retrain requested: test: drift/, status: 'succeeded' })) ?? undefined, 30_000);
    assert.is(retrain.origin, 'trainer');
    assert.ok(sentiment.version >= 1);
  });
});

t.after(async () => {
  if (ctx.db) await ctx.mongo?.db(ctx.db).dropDatabase().catch(() => {});
  await ctx.mongo?.close();
  rmSync(ctx.tmp, { recursive: true, force: true });
});

t.run();
