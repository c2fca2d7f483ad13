/**
 * Scaling out: a second transformer joins the consumer group mid-replay (partitions move
 * between instances, each symbol's state follows through MongoDB). The features in MongoDB are
 * byte-identical to one instance's — one in-order pass of the pipeline in process.
 */
import * as assert from 'uvu/assert';
import { COLLECTIONS } from '@stock-mlops/load';
import { suite } from '../harness/index.ts';
import { mongoClient, waitFor, withStack, type RunningStack } from '../support/stack.ts';
import {
  blockShuffle,
  chunks,
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

const WINDOW = 3;
const BARS = 300;
const t = suite('e2e: two transformer instances in one consumer group', { timeoutMs: 120_000 });

/** Partitions each transformer instance reported as assigned, from its logs. */
function assignments(stack: RunningStack, instance: string): number[][] {
  return stack.logs
    .filter((l) => l.startsWith(`${instance}| `) && l.includes('partitions assigned'))
    .map((l) => (JSON.parse(l.slice(instance.length + 2)) as { rawPrices: number[] }).rawPrices);
}

t('features are the same with two instances as with one', async () => {
  const symbols = ['AAPL', 'GOOG', 'MSFT', 'SPY'] as const;
  const series = symbols.map((s, i) => sharedBars(s, BARS, 300 * (i + 1)));
  const messages = interleave(series.map((bars, i) => blockShuffle(bars, WINDOW + 1, 21 + i))).map(rawPriceMessage);
  const expected = expectedFor(series.flat());
  const [first = [], second = []] = chunks(messages, 2, symbols.length * (WINDOW + 1));

  await withStack({ services: [], env: serviceEnv(WINDOW) }, async (stack) => {
    await createTopics(stack.prefix);
    await produceRaw(stack.prefix, first);
    const mongo = await mongoClient();
    try {
      startService(stack, 'transformer', 'transformer-a');
      startService(stack, 'loader');
      const bars = mongo.db(stack.db).collection(COLLECTIONS.bars);
      await waitFor('progress with one instance', async () => (await bars.countDocuments()) > 0, 60_000, 100);
      startService(stack, 'transformer', 'transformer-b');
      await waitFor('the second instance to get partitions', () => assignments(stack, 'transformer-b').some((p) => p.length > 0), 60_000, 200);
      await produceRaw(stack.prefix, second);
      const got = await waitForExact(mongo.db(stack.db), expected, 90_000);
      assert.is(got.duplicateBarKeys, 0);
      assert.is(firstDifference(expected.vectors, got.vectors), undefined, 'feature vectors byte-identical');
      const a = assignments(stack, 'transformer-a').at(-1) ?? [];
      const b = assignments(stack, 'transformer-b').at(-1) ?? [];
      assert.ok(a.length > 0 && b.length > 0, `both instances own raw-price partitions (a: ${a.join(',')}; b: ${b.join(',')})`);
      assert.is(new Set([...a, ...b]).size, a.length + b.length, 'no partition owned twice');
      console.log(`  instance a: partitions ${a.join(',')}, instance b: ${b.join(',')} → ${got.features} features identical to one instance`);
    } finally {
      await mongo.close();
    }
  });
});

t.run();
