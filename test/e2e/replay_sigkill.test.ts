/**
 * Crash recovery: the transformer and the loader are SIGKILLed (no graceful shutdown) several
 * times while a replay is being processed; the supervisor restarts them. Nothing is lost and
 * nothing is duplicated: MongoDB ends with the same bar and feature counts and checksums as one
 * in-order pass of the pipeline in process.
 */
import * as assert from 'uvu/assert';
import { COLLECTIONS } from '@stock-mlops/load';
import { suite } from '../harness/index.ts';
import { mongoClient, waitFor, withStack } from '../support/stack.ts';
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
const BARS = 400;
const ROUNDS = 3;
const t = suite('e2e: SIGKILL recovery (transformer + loader)', { timeoutMs: 300_000 });

t('killing the transformer and the loader mid-replay loses and duplicates nothing', async () => {
  const series = [sharedBars('AAPL', BARS, 2000), sharedBars('GOOG', BARS, 2500)];
  // Bounded disorder and a duplicate of every bar, so the Cleaner's buffer and dedupe memory are
  // part of the state that must survive the kills.
  const messages = interleave(series.map((bars, i) => blockShuffle(bars.flatMap((b) => [b, b]), 2 * (WINDOW + 1), 3 + i))).map(rawPriceMessage);
  const expected = expectedFor(series.flat());
  const parts = chunks(messages, ROUNDS + 1, series.length * 2 * (WINDOW + 1));

  await withStack({ services: [], env: serviceEnv(WINDOW) }, async (stack) => {
    await createTopics(stack.prefix);
    await produceRaw(stack.prefix, parts[0] ?? []);
    const mongo = await mongoClient();
    const bars = mongo.db(stack.db).collection(COLLECTIONS.bars);
    try {
      startService(stack, 'transformer');
      startService(stack, 'loader');
      for (let round = 1; round <= ROUNDS; round++) {
        // Kill as soon as the loader shows progress on the newest chunk: the transformer is then
        // busy with it (it runs ahead of the loader).
        const before = await bars.countDocuments();
        await waitFor(`progress in round ${round}`, async () => (await bars.countDocuments()) > before, 60_000, 100);
        stack.sup.kill('transformer');
        stack.sup.kill('loader');
        await produceRaw(stack.prefix, parts[round] ?? []);
      }
      const got = await waitForExact(mongo.db(stack.db), expected, 90_000);
      assert.is(got.duplicateBarKeys, 0);
      assert.is(firstDifference(expected.vectors, got.vectors), undefined, 'feature vectors byte-identical');
      const restarts = stack.logs.filter((l) => l.includes('[supervisor] restarting')).length;
      assert.ok(restarts >= 2 * ROUNDS, `each kill was followed by a restart (${restarts})`);
      console.log(`  ${ROUNDS} kill rounds, ${restarts} restarts → ${got.bars} bars, ${got.features} features, checksums equal`);
    } finally {
      await mongo.close();
    }
  });
});

t.run();
