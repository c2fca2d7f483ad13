/**
 * The `challenger` alias of the registry: set and cleared by hand with events, never the
 * production version, cleared when it is promoted (by hand, or by `ModelStore.promoteChallenger`
 * with a compare-and-set on the versions the decision was about). The registry runs on an in-memory
 * stub of the database.
 */
import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { challengerVersion, clearChallenger, setChallenger } from '@stock-mlops/ml/registry/challenger';
import { promoteVersion } from '@stock-mlops/ml/ml_service';
import { registerInput } from '@stock-mlops/ml/synthetic';
import { memoryDbStub } from '../../support/memory_db_stub.ts';

const t = suite('ml registry: challenger alias');
const ARTIFACTS = { json: { format: 'stub' }, weights: new Uint8Array([1, 2, 3]) };

/** A registry with versions 1..n of `price`, v1 in production. */
async function registry(n = 3): Promise<ModelStore> {
  const store = new ModelStore(memoryDbStub());
  for (let i = 0; i < n; i++) await store.register(registerInput('price', ARTIFACTS));
  await store.setAlias('price', 'production', 1, 'test');
  return store;
}

const codeOf = async (p: Promise<unknown>): Promise<string | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => (e as { code?: string }).code,
  );

t('challenge sets the alias and says which challenger it replaced; unchallenge clears it once', async () => {
  const store = await registry();
  const first = await setChallenger(store, 'price', 2, 'try v2');
  assert.equal([first.kind, first.model, first.alias, first.previous, first.task], ['challenger_set', { name: 'price', version: 2 }, 'challenger', undefined, 'price']);
  const second = await setChallenger(store, 'price', 3, 'try v3');
  assert.equal(second.previous, { name: 'price', version: 2 });
  assert.is(await challengerVersion(store, 'price'), 3);
  assert.is((await store.getAlias('price', 'production'))!.version, 1, 'production untouched');
  assert.is((await store.get('price', 3)).status, 'candidate', 'a challenger keeps its status');
  const cleared = await clearChallenger(store, 'price', 'enough');
  assert.equal([cleared?.kind, cleared?.model.version], ['challenger_cleared', 3]);
  assert.is(await challengerVersion(store, 'price'), undefined);
  assert.is(await clearChallenger(store, 'price', 'again'), undefined, 'nothing to clear: no event');
});

t('the production version or an unknown version cannot be the challenger', async () => {
  const store = await registry();
  assert.is(await codeOf(setChallenger(store, 'price', 1, 'x')), 'E_CHALLENGER_IS_PRODUCTION');
  assert.is(await codeOf(setChallenger(store, 'price', 9, 'x')), 'E_MODEL_NOT_FOUND');
  assert.is(await challengerVersion(store, 'price'), undefined);
});

t('promoting the challenger by hand clears the alias and says so in the events', async () => {
  const store = await registry();
  await setChallenger(store, 'price', 2, 'try v2');
  const other = await promoteVersion(store, 'price', 3, 'not the challenger');
  assert.equal(other.map((e) => e.kind), ['promoted'], 'promoting another version leaves the challenger');
  assert.is(await challengerVersion(store, 'price'), 2);
  const events = await promoteVersion(store, 'price', 2, 'by hand');
  assert.equal(events.map((e) => [e.kind, e.model.version, e.alias]), [['promoted', 2, 'production'], ['challenger_cleared', 2, 'challenger']]);
  assert.is(await challengerVersion(store, 'price'), undefined);
  assert.is((await store.get('price', 2)).status, 'production');
});

t('ModelStore.promoteChallenger promotes the version the decision was about, clears the alias, and refuses a stale decision', async () => {
  const store = await registry();
  assert.is(await codeOf(store.promoteChallenger('price', { challenger: 2 }, 'x')), 'E_ALIAS_CHANGED', 'no challenger: nothing to promote');
  await setChallenger(store, 'price', 2, 'try v2');
  await setChallenger(store, 'price', 3, 'try v3 instead');
  assert.is(await codeOf(store.promoteChallenger('price', { challenger: 2, production: 1 }, 'evidence about v2')), 'E_ALIAS_CHANGED');
  assert.is(await codeOf(store.promoteChallenger('price', { challenger: 3, production: 2 }, 'evidence against v2')), 'E_ALIAS_CHANGED', 'production moved since');
  assert.is((await store.getAlias('price', 'production'))!.version, 1, 'nothing promoted on a stale decision');
  assert.is(await challengerVersion(store, 'price'), 3, 'the challenger stays');
  const r = await store.promoteChallenger('price', { challenger: 3, production: 1 }, 'live evidence');
  assert.equal(r, { previous: 1 });
  const production = (await store.getAlias('price', 'production'))!;
  assert.equal([production.version, production.history, production.reason], [3, [1], 'live evidence']);
  assert.is((await store.get('price', 1)).status, 'archived');
  assert.is((await store.get('price', 3)).status, 'production');
  assert.is(await challengerVersion(store, 'price'), undefined, 'the promoted challenger is cleared');
  assert.is(await codeOf(store.promoteChallenger('price', { challenger: 3 }, 'twice')), 'E_ALIAS_CHANGED');
});
t.run();
