/**
 * A running predictor follows a rollback: two price versions are registered (v2 in production),
 * the predictor serves v2, `npm run models -- rollback price` moves production back to v1 and
 * publishes the model event, and the predictor answers GetModel and Predict with v1 — well before
 * its registry poll (10 minutes here) could have noticed.
 */
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { MongoClient } from 'mongodb';
import { mongoCheckpointStore } from '../../services/predictor/src/checkpoint_store.ts';
import { promoteVersion, trainRegisterAndGatePrice } from '@stock-mlops/ml/ml_service';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { initTf } from '@stock-mlops/ml/tf';
import { loadPriceTrainConfig } from '@stock-mlops/ml/training/config';
import { featureRowsFromBars, parsePriceCsv, PRICE_FEATURE_SCHEMA } from '@stock-mlops/ml/training/price_csv';
import { ensureTopics } from '@stock-mlops/platform';
import { readFileSync } from 'node:fs';
import { suite } from '../harness/index.ts';
import { dbNameFor, freePort, kafkaClient, mongoClient, requireInfra, uniqueId, waitFor, withStack } from '../support/stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const t = suite('trainer → predictor: a rollback is followed by the running predictor', { timeoutMs: 240_000 });
const prefix = `${uniqueId('rb')}.`;
const dbName = dbNameFor(prefix, 38);
const ctx: { mongo?: MongoClient } = {};

type Client = grpc.Client & {
  GetModel: (req: { name: string; version: number }, cb: (err: grpc.ServiceError | null, res: { version: number; serving: boolean; status: string }) => void) => void;
  Predict: (req: { symbol: string }, cb: (err: grpc.ServiceError | null, res: { prediction: { modelVersion: number; modelName: string } }) => void) => void;
};

function grpcClient(port: number): Client {
  const def = protoLoader.loadSync(path.join(ROOT, 'proto/stockmlops/v1/predictor.proto'), { longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { stockmlops: { v1: { PredictionService: grpc.ServiceClientConstructor } } };
  return new pkg.stockmlops.v1.PredictionService(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Client;
}

const call = <T>(fn: (cb: (err: grpc.ServiceError | null, res: T) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/models.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...requireInfra(), MONGO_DB: dbName, KAFKA_TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t('GetModel and Predict report v2, then v1 after `npm run models -- rollback price`', async () => {
  ctx.mongo = await mongoClient();
  const db = ctx.mongo.db(dbName);
  const { bars } = parsePriceCsv(readFileSync(path.join(ROOT, 'data/prices/MSFT.csv'), 'utf8'), 'MSFT');
  const rows = featureRowsFromBars(bars).rows;
  // The predictor's window history comes from its own checkpoint (one document per symbol), as after a restart.
  await mongoCheckpointStore(db).save([
    {
      symbol: 'MSFT',
      vectors: rows.slice(-64).map((r) => {
        const schema = PRICE_FEATURE_SCHEMA;
        return { symbol: 'MSFT', interval: '1d' as const, ts: new Date(r.ts).toISOString(), close: r.close, schemaVersion: schema.version, schemaHash: schema.hash, values: [...r.vector] };
      }),
    },
  ]);
  const store = new ModelStore(db);
  await store.ensureIndexes();
  const { tf } = await initTf();
  const base = { tf, store, rows, featureSchemaHash: PRICE_FEATURE_SCHEMA.hash, featureNames: [...PRICE_FEATURE_SCHEMA.names], gitSha: 'test', lineage: {} };
  const smoke = path.join(ROOT, 'config/training/price-smoke.json');
  const v1 = await trainRegisterAndGatePrice({ ...base, cfg: loadPriceTrainConfig(smoke, ['model.seed=1']) });
  const v2 = await trainRegisterAndGatePrice({ ...base, cfg: loadPriceTrainConfig(smoke, ['model.seed=2']) });
  if (!v2.promoted) await promoteVersion(store, 'price', v2.version.version, 'test: serve v2');
  assert.equal([v1.version.version, v2.version.version, (await store.getAlias('price', 'production'))!.version], [1, 2, 2]);
  await ensureTopics(kafkaClient('rollback-test'), prefix);

  const grpcPort = await freePort();
  await withStack({
    services: ['predictor'],
    env: { MONGO_DB: dbName, KAFKA_TOPIC_PREFIX: prefix },
    perService: { predictor: { GRPC_PORT: String(grpcPort), WS_PORT: String(await freePort()), MODEL_POLL_MS: '600000', PREDICTOR_INSTANCE_ID: 'rbtest' } },
  }, async (stack, defer) => {
    const c = grpcClient(grpcPort);
    defer(() => c.close());
    const serving = await waitFor('the predictor serving v2', async () => {
      const m = await call<{ version: number; serving: boolean; status: string }>((cb) => c.GetModel({ name: 'price', version: 0 }, cb));
      return m.version === 2 && m.serving ? m : undefined;
    }, 120_000, 500);
    assert.is(serving.status, 'production');
    const before = await call<{ prediction: { modelVersion: number; modelName: string } }>((cb) => c.Predict({ symbol: 'MSFT' }, cb));
    assert.equal([before.prediction.modelName, before.prediction.modelVersion], ['price', 2]);

    // The predictor's model-event consumer must have joined its group before the event is sent.
    const admin = kafkaClient('rollback-admin').admin();
    await admin.connect();
    await waitFor('the predictor model-event consumer group to be stable', async () => {
      const { groups } = await admin.describeGroups([`${prefix}predictor-models-rbtest`]);
      return groups[0]?.state === 'Stable' && groups[0].members.length > 0 ? true : undefined;
    }, 60_000, 250);
    await admin.disconnect();

    const t0 = Date.now();
    const rb = await cli(['rollback', 'price', '--reason', 'test: bad v2', '--json']);
    assert.is(rb.code, 0, rb.stderr);
    const out = JSON.parse(rb.stdout.trim().split('\n').at(-1)!) as { kind: string; model: { version: number }; published: boolean };
    assert.equal([out.kind, out.model.version, out.published], ['rolled_back', 1, true]);
    const after = await waitFor('the predictor serving v1', async () => {
      const m = await call<{ version: number; serving: boolean; status: string }>((cb) => c.GetModel({ name: 'price', version: 0 }, cb));
      return m.version === 1 && m.serving ? m : undefined;
    }, 60_000, 250);
    assert.is(after.status, 'production');
    const predicted = await call<{ prediction: { modelVersion: number } }>((cb) => c.Predict({ symbol: 'MSFT' }, cb));
    assert.is(predicted.prediction.modelVersion, 1);
    assert.ok(Date.now() - t0 < 60_000, 'followed the event, not the 10-minute poll');
    assert.ok(stack.logs.some((l) => /rolled_back/.test(l)), 'the predictor logged the model event');
  });
});

t.after(async () => {
  await ctx.mongo?.db(dbName).dropDatabase().catch(() => {});
  await ctx.mongo?.close();
});

t.run();
