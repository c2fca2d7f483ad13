/**
 * Replays are deterministic: real shared prices go through the real transformer and loader
 * (real Kafka, real MongoDB) twice in order, once shuffled within the out-of-order window and
 * with duplicates; MongoDB ends with exactly one bar per (symbol, interval, date) and feature
 * vectors byte-identical to one in-order pass of the same pipeline in process.
 */
import * as assert from 'uvu/assert';
import { computeFeaturesFromBars, FEATURE_SCHEMA } from '@stock-mlops/transform';
import { suite } from '../harness/index.ts';
import { mongoClient, withStack } from '../support/stack.ts';
import {
  blockShuffle,
  createTopics,
  expectedFor,
  firstDifference,
  interleave,
  produceRaw,
  rawPriceMessage,
  serviceEnv,
  sharedBars,
  startService,
  waitForExact,
} from '../support/replay.ts';

const WINDOW = 4;
const BARS = 400;
const t = suite('e2e: deterministic replay (transformer + loader)', { timeoutMs: 120_000 });

t('duplicates and bounded disorder leave exactly one in-order pass in MongoDB', async () => {
  // Two symbols replayed in order twice, then shuffled; two others first arrive shuffled within
  // the window with every bar sent twice, then in order again.
  const ordered = [sharedBars('AAPL', BARS, 1000), sharedBars('MSFT', BARS)];
  const shuffled = [sharedBars('GOOG', BARS, 1000), sharedBars('SPY', BARS, 2000)];
  const inOrder = interleave(ordered).map(rawPriceMessage);
  const disordered = interleave(shuffled.map((bars, i) => blockShuffle(bars.flatMap((b) => [b, b]), 2 * (WINDOW + 1), 7 + i))).map(rawPriceMessage);
  const messages = [...inOrder, ...disordered, ...inOrder, ...interleave(ordered.map((b, i) => blockShuffle(b, WINDOW + 1, 11 + i))).map(rawPriceMessage), ...interleave(shuffled).map(rawPriceMessage)];

  const all = [...ordered, ...shuffled].flat();
  const expected = expectedFor(all);
  assert.is(expected.bars, 4 * BARS);
  // The technical block equals the batch path the trainer uses (computeFeaturesFromBars).
  const batch = computeFeaturesFromBars([...all].sort((a, b) => a.symbol.localeCompare(b.symbol) || a.ts.localeCompare(b.ts))).rows;
  assert.is(batch.length, expected.features);
  for (const r of batch) {
    const v = expected.vectors.get(`${r.symbol}|${r.interval}|${r.ts}`);
    assert.equal(JSON.stringify(v?.slice(0, FEATURE_SCHEMA.names.length)), JSON.stringify(r.vector), `${r.symbol} ${r.ts}`);
  }

  await withStack({ services: [], env: serviceEnv(WINDOW) }, async (stack) => {
    await createTopics(stack.prefix);
    await produceRaw(stack.prefix, messages);
    const mongo = await mongoClient();
    try {
      startService(stack, 'transformer');
      startService(stack, 'loader');
      const got = await waitForExact(mongo.db(stack.db), expected, 100_000);
      assert.is(got.duplicateBarKeys, 0, 'one bar per (symbol, interval, ts)');
      assert.is(firstDifference(expected.vectors, got.vectors), undefined, 'feature vectors byte-identical');
      console.log(`  ${messages.length} raw messages → ${got.bars} bars, ${got.features} feature vectors, identical to one in-order pass`);
    } finally {
      await mongo.close();
    }
  });
});

t.run();
