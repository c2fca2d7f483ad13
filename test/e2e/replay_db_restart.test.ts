/**
 * Database restart: the shared MongoDB-wire server is stopped and started again (twice) while a
 * replay is being loaded, each time with a chunk of records in flight. The loader and the transformer back off and retry on their own — no process exits —
 * and MongoDB ends exactly as one in-order pass of the pipeline in process.
 *
 * This restarts the shared database server: CI runs test files one at a time.
 */
import * as assert from 'uvu/assert';
import { COLLECTIONS } from '@stock-mlops/load';
import { infraCtl } from '../../scripts/lib/infra.ts';
import { suite } from '../harness/index.ts';
import { mongoClient, waitFor, withStack } from '../support/stack.ts';
import {
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

const BARS = 400;
const RESTARTS = 2;
const t = suite('e2e: database restart during a replay', { timeoutMs: 120_000 });

t('the loader and the transformer ride out database restarts; the final state is exact', async () => {
  const series = [sharedBars('MSFT', BARS, 500), sharedBars('SPY', BARS, 4000)];
  const messages = interleave(series).map(rawPriceMessage);
  const expected = expectedFor(series.flat());
  const parts = chunks(messages, RESTARTS + 1, series.length);

  await withStack({ services: [], env: serviceEnv(2) }, async (stack) => {
    await createTopics(stack.prefix);
    await produceRaw(stack.prefix, parts[0] ?? []);
    let mongo = await mongoClient();
    try {
      startService(stack, 'transformer');
      startService(stack, 'loader');
      const bars = () => mongo.db(stack.db).collection(COLLECTIONS.bars);
      await waitFor('the first bars', async () => (await bars().countDocuments()) > 0, 60_000, 100);
      const backoffCount = () => stack.logs.filter((l) => l.includes('database unavailable; backing off')).length;
      for (let round = 1; round <= RESTARTS; round++) {
        // Stop the database, hand both services the next chunk, and start it again once a write of
        // that chunk is backing off: the outage always hits records in flight (a plain restart
        // right after producing could finish before the services got to the chunk).
        const before = backoffCount();
        await mongo.close();
        infraCtl('stop', 'mongo');
        await produceRaw(stack.prefix, parts[round] ?? []);
        await waitFor('a write of the new chunk backing off while the database is down', async () => backoffCount() > before, 60_000, 50);
        infraCtl('start', 'mongo');
        mongo = await mongoClient();
      }
      const got = await waitForExact(mongo.db(stack.db), expected, 90_000);
      assert.is(got.duplicateBarKeys, 0);
      assert.is(firstDifference(expected.vectors, got.vectors), undefined, 'feature vectors byte-identical');
      const exits = stack.logs.filter((l) => /\[supervisor\] \w+ exited/.test(l));
      assert.equal(exits, [], 'no service process exited: they recovered on their own');
      const backoffs = backoffCount();
      assert.ok(backoffs > 0, 'the restarts hit writes in flight (backoff retries logged)');
      console.log(`  ${RESTARTS} database restarts, ${backoffs} backoff retries, no process exit → ${got.bars} bars, ${got.features} features, checksums equal`);
    } finally {
      await mongo.close();
    }
  });
});

t.run();
