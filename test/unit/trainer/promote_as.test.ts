/**
 * TRAIN_PROMOTE_AS: the trainer's setting parses (default production, `challenger`, anything else
 * refused), and a price version that passes the gate with `challenger` sets the challenger alias
 * while production stays; with no production yet it is promoted anyway; a version the gate
 * rejects becomes neither. Real training (smoke config, MSFT bundled bars) and the registry on the
 * in-memory database stub.
 */
import * as assert from 'uvu/assert';
import path from 'node:path';
import { suite } from '../../harness/index.ts';
import { TrainerEnv } from '../../../services/trainer/src/config.ts';
import { registerAndGatePrice } from '@stock-mlops/ml/ml_service';
import { persistencePriceModel } from '@stock-mlops/ml/models/price_variants';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { initTf } from '@stock-mlops/ml/tf';
import { loadPriceTrainConfig } from '@stock-mlops/ml/training/config';
import { loadPriceCsvRows } from '@stock-mlops/ml/training/price_csv';
import { trainPrice } from '@stock-mlops/ml/training/train';
import { registerInput } from '@stock-mlops/ml/synthetic';
import { memoryDbStub } from '../../support/memory_db_stub.ts';

const t = suite('trainer: TRAIN_PROMOTE_AS', { timeoutMs: 120_000 });
const ROOT = path.resolve(import.meta.dirname, '../../..');

t('config: production by default, challenger when set, anything else refused', () => {
  assert.is(TrainerEnv.parse({}).TRAIN_PROMOTE_AS, 'production');
  assert.is(TrainerEnv.parse({ TRAIN_PROMOTE_AS: 'challenger' }).TRAIN_PROMOTE_AS, 'challenger');
  assert.is(TrainerEnv.safeParse({ TRAIN_PROMOTE_AS: 'staging' }).success, false);
});

t('a candidate that passes the gate becomes the challenger, production stays; without production it is promoted; a rejected one is neither', async () => {
  const { tf } = await initTf();
  const data = loadPriceCsvRows([path.join(ROOT, 'data/prices/MSFT.csv')]);
  const passing = loadPriceTrainConfig(path.join(ROOT, 'config/training/price-smoke.json'), ['gate.productionMargin=-1']);
  const training = await trainPrice(tf, data.rows, data.schemaHash, passing);
  const input = (store: ModelStore, cfg = passing) => ({ tf, store, rows: data.rows, featureSchemaHash: data.schemaHash, featureNames: data.names, cfg, gitSha: 'test', lineage: {}, promoteAs: 'challenger' as const });

  // Production: the persistence forecast, a real servable version the gate compares with.
  const store = new ModelStore(memoryDbStub());
  const champion = persistencePriceModel(tf, { names: data.names, featureSchemaHash: data.schemaHash, lookback: passing.model.lookback });
  const v1 = (await store.register(registerInput('price', await champion.serialize(), data.schemaHash))).version;
  champion.dispose();
  await store.setAlias('price', 'production', v1, 'test');
  const r = await registerAndGatePrice(input(store), training);
  assert.is(r.decision.promote, true, r.decision.reason);
  assert.is(r.promoted, false, 'not promoted to production');
  assert.equal(r.events.map((e) => [e.kind, e.model.version, e.alias]), [['registered', r.version.version, undefined], ['challenger_set', r.version.version, 'challenger']]);
  assert.is((await store.getAlias('price', 'challenger'))?.version, r.version.version);
  assert.is((await store.getAlias('price', 'production'))?.version, v1, 'production unchanged');
  const stored = await store.get('price', r.version.version);
  assert.is(stored.status, 'candidate');
  assert.match(stored.statusReason, /^gate passed, set as challenger/);
  assert.ok(Number.isFinite(stored.metrics.production_rmse), 'the gate compared with production on the same window');

  // No production yet: a challenger needs a champion, so the candidate is promoted.
  const empty = new ModelStore(memoryDbStub());
  const first = await registerAndGatePrice(input(empty), training);
  assert.is(first.promoted, true);
  assert.equal(first.events.map((e) => e.kind), ['registered', 'promoted']);
  assert.is((await empty.getAlias('price', 'production'))?.version, first.version.version);
  assert.is(await empty.getAlias('price', 'challenger'), null);

  // A candidate the gate rejects (it must beat production by 100 %: an RMSE of 0): neither alias moves.
  const strict = loadPriceTrainConfig(path.join(ROOT, 'config/training/price-smoke.json'), ['gate.productionMargin=1']);
  const rejected = await registerAndGatePrice(input(store, strict), training);
  assert.is(rejected.decision.promote, false);
  assert.equal(rejected.events.map((e) => e.kind), ['registered', 'rejected']);
  assert.is((await store.getAlias('price', 'challenger'))?.version, r.version.version, 'the challenger stays');
  assert.is((await store.getAlias('price', 'production'))?.version, v1);
  assert.is((await store.get('price', rejected.version.version)).status, 'rejected');
  training.model.dispose();
});

t.run();
