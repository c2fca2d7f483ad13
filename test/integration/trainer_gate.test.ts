/**
 * Registry, gate and training leases against the real database: a deliberately worse model is
 * registered but not promoted; a manual promotion and a rollback move production back and forth;
 * a sentiment model is trained, gated against the majority class and production, and restored
 * from its artifacts; a training lease admits one run per model and is taken over from a dead
 * owner, which cleans up what the dead run left.
 */
import * as assert from 'uvu/assert';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Db, MongoClient } from 'mongodb';
import { Binary } from 'mongodb';
import { suite } from '../harness/index.ts';
import { mongoClient, uniqueId } from '../support/stack.ts';
import {
  cleanUpAbandonedRun,
  loadSentimentVersion,
  PRICE_MODEL,
  promoteVersion,
  registerAndGatePrice,
  rollbackModel,
  SENTIMENT_MODEL,
  trainRegisterAndGatePrice,
  trainRegisterAndGateSentiment,
} from '@stock-mlops/ml/ml_service';
import { seededShuffle } from '@stock-mlops/ml/datasets/random';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { TrainingBusyError, TrainingRuns } from '@stock-mlops/ml/registry/training_runs';
import { initTf, type Tf } from '@stock-mlops/ml/tf';
import { loadPriceTrainConfig, loadSentimentTrainConfig } from '@stock-mlops/ml/training/config';
import { loadSentimentCsv, type LabelledTexts } from '@stock-mlops/ml/models/sentiment_analyzer';
import { loadPriceCsvRows } from '@stock-mlops/ml/training/price_csv';
import { evaluatePriceSamples, predictSamples, trainPrice } from '@stock-mlops/ml/training/train';

const ROOT = path.resolve(import.meta.dirname, '../..');

async function rejects(fn: () => Promise<unknown>, check: (err: unknown) => boolean): Promise<void> {
  try {
    await fn();
  } catch (err) {
    assert.ok(check(err), `unexpected error: ${(err as Error).message}`);
    return;
  }
  assert.unreachable('expected a rejection');
}
const t = suite('trainer: registry, gate, leases (MongoDB)', { timeoutMs: 120_000 });
const ctx: { client?: MongoClient; db?: Db; store?: ModelStore; tf?: Tf } = {};
const data = loadPriceCsvRows([path.join(ROOT, 'data/prices/MSFT.csv')]);
const base = () => ({ tf: ctx.tf!, store: ctx.store!, rows: data.rows, featureSchemaHash: data.schemaHash, featureNames: data.names, gitSha: 'test', lineage: { source: 'csv', files: data.files } });

t.before(async () => {
  ctx.client = await mongoClient();
  ctx.db = ctx.client.db(uniqueId('gate_').slice(0, 38));
  ctx.store = new ModelStore(ctx.db);
  await ctx.store.ensureIndexes();
  ctx.tf = (await initTf()).tf;
});

t('a deliberately worse model (output forced to +3 % a day) is registered but not promoted', async () => {
  const smoke = loadPriceTrainConfig(path.join(ROOT, 'config/training/price-smoke.json'));
  const v1 = await trainRegisterAndGatePrice({ ...base(), cfg: smoke });
  assert.ok(v1.promoted, v1.decision.reason);
  assert.equal(v1.events.map((e) => e.kind), ['registered', 'promoted']);

  // Same data and window, then the output layer is overwritten with a constant.
  const strict = loadPriceTrainConfig(path.join(ROOT, 'config/training/price-smoke.json'), ['gate.baselineMargin=0', 'gate.baseline=zero']);
  const training = await trainPrice(ctx.tf!, data.rows, data.schemaHash, strict);
  const out = training.model.model.layers[training.model.model.layers.length - 1]!;
  const [kernel, bias] = out.getWeights();
  out.setWeights([ctx.tf!.zerosLike(kernel!), ctx.tf!.fill(bias!.shape, 0.03 / training.model.meta.targetScale)]);
  const predicted = predictSamples(training.model, training.test);
  assert.ok(predicted.every((p) => Math.abs(p - 0.03) < 1e-6), 'the model now predicts +3 % everywhere');
  const worse = { ...training, testPredictions: predicted, evaluation: evaluatePriceSamples(training.test, predicted, strict.backtest.costBps) };
  const v2 = await registerAndGatePrice({ ...base(), cfg: strict }, worse);
  assert.not.ok(v2.promoted);
  assert.match(v2.decision.reason, /gate failed: rmse .* baseline:zero .*; rmse .* production/);
  assert.equal(v2.events.map((e) => e.kind), ['registered', 'rejected']);
  assert.is(v2.version.status, 'rejected');
  assert.is((await ctx.store!.getAlias(PRICE_MODEL, 'production'))!.version, v1.version.version, 'production unchanged');
  assert.ok(v2.version.metrics.production_rmse! < v2.version.metrics.rmse!, 'production was evaluated on the same window');
});

t('promote by hand, then rollback restores the previous version', async () => {
  const store = ctx.store!;
  const [promoted] = await promoteVersion(store, PRICE_MODEL, 2, 'test: promote the rejected one');
  assert.equal([promoted!.kind, promoted!.model.version, promoted!.previous?.version], ['promoted', 2, 1]);
  assert.is((await store.get(PRICE_MODEL, 1)).status, 'archived');
  const back = await rollbackModel(store, PRICE_MODEL, 'test: rollback');
  assert.equal([back.kind, back.model.version, back.previous?.version, back.task], ['rolled_back', 1, 2, 'price']);
  assert.is((await store.getAlias(PRICE_MODEL, 'production'))!.version, 1);
  assert.is((await store.get(PRICE_MODEL, 1)).status, 'production');
  assert.is((await store.get(PRICE_MODEL, 2)).status, 'archived');
  await rejects(() => rollbackModel(store, PRICE_MODEL, 'again'), (e) => (e as { code?: string }).code === 'E_NO_PREVIOUS');
});

function pick(d: LabelledTexts, every: number, shuffleLabels = false): LabelledTexts {
  const idx = d.texts.map((_, i) => i).filter((i) => i % every === 0);
  const labels = idx.map((i) => d.labels[i]!);
  return { texts: idx.map((i) => d.texts[i]!), labels: shuffleLabels ? seededShuffle(labels, 5) : labels };
}

t('sentiment: trained, evaluated on a held-out split, gated vs majority and production, restored from the registry', async () => {
  const all = await loadSentimentCsv(path.join(ROOT, 'data/sentiment/twitter_financial_news_sentiment.csv'), { textColumn: 'text', labelColumn: 'label', labelMap: '0=negative,1=positive,2=neutral' });
  const cfg = loadSentimentTrainConfig(path.join(ROOT, 'config/training/sentiment-smoke.json'));
  const v1 = await trainRegisterAndGateSentiment({ store: ctx.store!, data: pick(all, 4), cfg, gitSha: 'test', lineage: {} });
  assert.ok(v1.promoted, v1.decision.reason);
  const ev = v1.evaluation;
  assert.is(ev.model.count, ev.split.test);
  assert.ok(ev.model.macroF1 > ev.baselines.majority.macroF1 + 0.15, `macro-F1 ${ev.model.macroF1} well above the majority class ${ev.baselines.majority.macroF1}`);
  assert.is(v1.version.task, 'sentiment');
  assert.is(v1.version.metrics.confusion_neutral_neutral, ev.model.confusion[1]![1]);
  const restored = await loadSentimentVersion(ctx.store!, v1.version.version);
  const [p] = await restored.predict(['$XYZ shares plunge after the company cuts its outlook']);
  assert.ok(p && Math.abs(p.probs.negative + p.probs.neutral + p.probs.positive - 1) < 1e-4);
  restored.dispose();

  // Trained on labels that no longer match the texts: worse than production, not promoted.
  const v2 = await trainRegisterAndGateSentiment({ store: ctx.store!, data: pick(all, 4, true), cfg, gitSha: 'test', lineage: {} });
  assert.not.ok(v2.promoted, v2.decision.reason);
  assert.is((await ctx.store!.getAlias(SENTIMENT_MODEL, 'production'))!.version, v1.version.version);
  assert.equal(v2.events.map((e) => [e.kind, e.task]), [['registered', 'sentiment'], ['rejected', 'sentiment']]);
});

t('one training per model: a second run waits or fails; a dead owner’s lease is taken over and its leftovers cleaned', async () => {
  const db = ctx.db!;
  const a = new TrainingRuns(db, 60_000, 'trainer');
  const b = new TrainingRuns(db, 60_000, 'cli', `${hostname()}/${process.ppid}/othernonce`); // another live process
  const first = await a.tryAcquire('lease-test', 'price', 'first');
  await rejects(() => b.tryAcquire('lease-test', 'price', 'second'), (e: unknown) => e instanceof TrainingBusyError);
  const waited = b.acquire('lease-test', 'price', 'second', { waitMs: 5_000, pollMs: 50 });
  await new Promise((r) => setTimeout(r, 200));
  await a.finish(first.run, 'succeeded');
  const second = await waited;
  assert.is(second.abandoned, undefined, 'a finished run is not abandoned');
  assert.ok(await b.heartbeat(second.run));
  await b.finish(second.run, 'succeeded');
  assert.not.ok(await b.heartbeat(second.run), 'a finished run holds no lease');

  // A run of a process that died on this host (pid gone) is taken over at once, even with a live lease.
  const deadOwner = new TrainingRuns(db, 60_000, 'trainer', `${hostname()}/999999/dead`);
  const dead = await deadOwner.tryAcquire('price', 'price', 'killed mid-registration');
  await deadOwner.setVersion(dead.run, 2);
  await ctx.store!.setStatus(PRICE_MODEL, 2, 'candidate', 'registered');
  await ctx.store!.chunks.insertOne({ _id: 'price:99:weights:0', name: 'price', version: 99, part: 'weights', seq: 0, data: new Binary(Buffer.from([1, 2, 3])), createdAt: Date.now() });
  assert.equal((await a.findAbandoned()).map((r) => r._id), [dead.run._id]);
  const taken = await a.tryAcquire('price', 'price', 're-run');
  assert.is(taken.abandoned?._id, dead.run._id);
  assert.is(taken.run.tookOverFrom, dead.run._id);
  const cleaned = await cleanUpAbandonedRun(ctx.store!, taken.abandoned!);
  assert.equal(cleaned, { rejected: 2, sweptChunks: 1 });
  assert.is((await ctx.store!.get(PRICE_MODEL, 2)).status, 'rejected');
  assert.is((await a.runs.findOne({ _id: dead.run._id }))!.status, 'abandoned');
  assert.equal(await a.findAbandoned(), [], 'nothing left to handle');
  // An expired lease of a live-looking owner on another host is taken over too.
  const remote = new TrainingRuns(db, 1, 'trainer', 'elsewhere/123/x');
  await a.finish(taken.run, 'succeeded');
  const r = await remote.tryAcquire('price', 'price', 'remote');
  await new Promise((res) => setTimeout(res, 20));
  assert.is((await a.tryAcquire('price', 'price', 'after expiry')).abandoned?._id, r.run._id);
});

t.after(async () => {
  await ctx.db?.dropDatabase().catch(() => {});
  await ctx.client?.close();
});

t.run();
