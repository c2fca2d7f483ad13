import * as assert from 'uvu/assert';
import type { FeatureVector } from '@stock-mlops/contracts';
import { FeatureHistory } from '@stock-mlops/ml/inference/preprocessor';
import { fromCheckpointDoc, HistoryCheckpoint, toCheckpointDoc, type CheckpointDoc, type CheckpointSource } from '../../../services/predictor/src/history_checkpoint.ts';
import { suite } from '../../harness/index.ts';
import { featureSeries, N_FEATURES, SCHEMA_HASH } from '../../support/predictor/fixtures.ts';

const t = suite('predictor: history checkpoint (gap-free windows after a restart or a rebalance)');
const spec = { lookback: 5, nFeatures: N_FEATURES, schemaHash: SCHEMA_HASH };

/** A database of checkpoint documents (stored in their flat document form). */
function memorySource(): CheckpointSource & { docs: Map<string, CheckpointDoc>; loads: number } {
  const src = {
    docs: new Map<string, CheckpointDoc>(),
    loads: 0,
    async load(symbols: readonly string[]) {
      src.loads++;
      const out = new Map<string, FeatureVector[]>();
      for (const s of symbols) {
        const d = src.docs.get(s);
        if (d) out.set(s, fromCheckpointDoc(structuredClone(d)));
      }
      return out;
    },
    async save(entries: ReadonlyArray<{ symbol: string; vectors: FeatureVector[] }>) {
      for (const e of entries) src.docs.set(e.symbol, toCheckpointDoc(e.symbol, e.vectors));
    },
  };
  return src;
}

/** The stream path of the predictor: ensure → push → window per vector → save. */
async function process(cp: HistoryCheckpoint, history: FeatureHistory, batch: FeatureVector[]): Promise<Array<[string, number[][] | undefined]>> {
  await cp.ensure(batch);
  const out: Array<[string, number[][] | undefined]> = [];
  for (const fv of batch) {
    history.push(fv);
    out.push([`${fv.symbol}|${fv.ts}`, history.windowFor(fv.symbol, spec, fv.ts)]);
  }
  await cp.save(batch);
  return out;
}

t('document round trip: flat arrays only, every field back', () => {
  const vs = featureSeries('A', 3, 1);
  const doc = toCheckpointDoc('A', vs);
  for (const v of Object.values(doc)) if (Array.isArray(v)) assert.ok(v.every((x) => !Array.isArray(x)), 'no nested arrays (FerretDB 1.x)');
  assert.equal(fromCheckpointDoc(doc), vs);
});

t('a restart mid-stream (fresh process, empty memory) cuts exactly the windows of an uninterrupted run', async () => {
  const a = featureSeries('A', 40, 1);
  const b = featureSeries('B', 40, 2);
  const stream = a.flatMap((x, i) => [x, b[i]!]);
  // Uninterrupted reference.
  const refHistory = new FeatureHistory(64);
  const ref = await process(new HistoryCheckpoint({ source: memorySource(), history: refHistory, keep: () => 5 }), refHistory, stream);

  const db = memorySource();
  let history = new FeatureHistory(64);
  let cp = new HistoryCheckpoint({ source: db, history, keep: () => 5 });
  const got = await process(cp, history, stream.slice(0, 30));
  // Crash after the batch [30, 40) was predicted but before its offsets were committed: its
  // checkpoint may or may not have been saved. Here: saved. The restart redelivers from 30.
  await process(cp, history, stream.slice(30, 40));
  history = new FeatureHistory(64);
  cp = new HistoryCheckpoint({ source: db, history, keep: () => 5 });
  const redelivered = await process(cp, history, stream.slice(30, 40));
  // Redelivered vectors were predicted before the crash: their windows may be cut or not, but
  // whatever is cut equals the reference.
  for (const [k, w] of redelivered) if (w) assert.equal(w, ref.find(([rk]) => rk === k)![1], `redelivered ${k}`);
  got.push(...(await process(cp, history, stream.slice(40))));
  const refAfter = ref.slice(40);
  assert.equal(got.slice(30), refAfter, 'every window after the restart equals the uninterrupted run');
  assert.ok(got.slice(30).every(([, w]) => w !== undefined), 'no vector after the restart lacks its window');
});

t('checkpoints are loaded once per symbol, and again after a rebalance (reset)', async () => {
  const db = memorySource();
  const history = new FeatureHistory(16);
  const cp = new HistoryCheckpoint({ source: db, history, keep: () => 3 });
  const a = featureSeries('A', 10, 1);
  await process(cp, history, a.slice(0, 5));
  await process(cp, history, a.slice(5, 7));
  assert.is(db.loads, 1);
  assert.is(db.docs.get('A')!.ts.length, 3, 'keeps the newest `keep` vectors');
  // Another replica owned A meanwhile and moved it on.
  await db.save([{ symbol: 'A', vectors: a.slice(6, 9) }]);
  cp.reset();
  await cp.ensure([a[9]!]);
  assert.is(db.loads, 2);
  assert.is(history.latest('A')?.ts, a[8]!.ts);
});

t.run();
