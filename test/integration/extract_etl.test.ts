/**
 * `npm run etl -- backfill` as a real process against the real broker and database, with the
 * transformer and loader running: a backfill killed between the Kafka ack and the cursor write
 * and run again leaves every event on the raw topic exactly once; a further re-run produces zero
 * new events anywhere downstream (raw, clean and feature topics, bars in MongoDB).
 */
import * as assert from 'uvu/assert';
import path from 'node:path';
import { resolveTopics } from '@stock-mlops/contracts';
import { WARMUP_BARS } from '@stock-mlops/transform';
import { suite } from '../harness/index.ts';
import { mongoClient, reportingFailures, startStack, waitFor, type RunningStack } from '../support/stack.ts';
import { csvBarTimes, envelopeOf, readTopic, ROOT, runEtl, topicCount, topicCounts } from '../support/extractor.ts';

const t = suite('etl backfill: exactly once on the raw topic, nothing new on a re-run', { timeoutMs: 180_000 });
const ctx: { stack?: RunningStack } = {};

const FROM = '2015-01-01';
const TO = '2015-12-31';
const SYMBOLS = ['MSFT', 'SPY'];
const ARGS = ['backfill', '--from', FROM, '--to', TO, '--providers', 'csv', '--symbols', SYMBOLS.join(','), '--path', path.join(ROOT, 'data/prices')];
const expected = new Map(SYMBOLS.map((s) => [s, csvBarTimes(path.join(ROOT, 'data/prices', `${s}.csv`), FROM, TO)]));
const total = [...expected.values()].reduce((n, l) => n + l.length, 0);

function assertExactlyOnce(records: Awaited<ReturnType<typeof readTopic>>): void {
  const envs = records.map(envelopeOf);
  const ids = new Set(envs.map((e) => e.eventId));
  assert.is(ids.size, envs.length, 'no event id twice');
  for (const [symbol, times] of expected) {
    const got = envs.filter((e) => e.data.symbol === symbol).map((e) => e.data.ts).sort();
    assert.equal(got, times, `${symbol}: every bar of the CSV range, once`);
  }
  assert.ok(records.every((r) => r.key === envelopeOf(r).data.symbol), 'keyed by symbol');
  assert.ok(records.every((r) => /^[0-9a-f]{16}$/.test(r.headers['trace-id']?.toString() ?? '')), 'trace-id header on every record');
}

t('killed between ack and cursor write, then re-run: every bar exactly once', async () => {
  const stack = startStack({ services: ['transformer', 'loader'] });
  ctx.stack = stack;
  const topics = resolveTopics(stack.prefix);
  const env = { ...stack.env, LOG_LEVEL: 'warn' };
  await reportingFailures(stack, async () => {
    assert.ok(total > 400, `the range holds ${total} bars`);
    const crashed = await runEtl(ARGS, { ...env, EXTRACT_FAULT: 'crash-after-publishing:2015-06-01' });
    assert.ok(crashed.code === 137 || crashed.signal === 'SIGKILL', `the first run was killed (code ${crashed.code}, signal ${crashed.signal})\n${crashed.stderr}`);
    assert.match(crashed.stderr, /EXTRACT_FAULT/);
    const afterCrash = await topicCount(topics.rawPrices);
    assert.ok(afterCrash > 0, 'events were acknowledged before the kill');

    const mongo = await mongoClient();
    try {
      const cursors = mongo.db(stack.db).collection<{ _id: string; cursor?: string; positions?: unknown[] }>('extract_cursors');
      const uncovered = await cursors.find({}).toArray();
      assert.ok(
        uncovered.some((c) => c.cursor === undefined && (c.positions?.length ?? 0) > 0),
        `a task published without moving its cursor: ${JSON.stringify(uncovered)}`,
      );
    } finally {
      await mongo.close();
    }

    const second = await runEtl(ARGS, env);
    assert.is(second.code, 0, `${second.stdout}\n${second.stderr}`);
    const skipped = Number(/skipped (\d+) \(already on the topic\)/.exec(second.stdout)?.[1]);
    assert.is(skipped, afterCrash, `the re-run skipped exactly what the killed run had published:\n${second.stdout}`);
    assert.match(second.stdout, new RegExp(`published ${total - afterCrash},`));
    assert.is(await topicCount(topics.rawPrices), total);
    assertExactlyOnce(await readTopic(topics.rawPrices));
  });
});

t('a re-run of the same backfill produces zero new events downstream', async () => {
  const stack = ctx.stack!;
  const topics = resolveTopics(stack.prefix);
  const env = { ...stack.env, LOG_LEVEL: 'warn' };
  const mongo = await mongoClient();
  try {
    await reportingFailures(stack, async () => {
      const bars = mongo.db(stack.db).collection('bars');
      const features = [...expected.values()].reduce((n, l) => n + l.length - WARMUP_BARS + 1, 0);
      const counts = async () => {
        const [raw, clean, feats, dlq] = await topicCounts([topics.rawPrices, topics.cleanPrices, topics.features, topics.dlqTransform]);
        return { raw, clean, features: feats, dlq, bars: await bars.countDocuments({}) };
      };
      const done = { raw: total, clean: total, features, dlq: 0, bars: total };
      let last = {};
      const before = await waitFor('every bar cleaned, turned into features and stored', async () => {
        last = await counts();
        return JSON.stringify(last) === JSON.stringify(done) ? last : undefined;
      }, 120_000, 500).catch((err: Error) => {
        throw new Error(`${err.message}: have ${JSON.stringify(last)}, want ${JSON.stringify(done)}`);
      });

      const again = await runEtl(ARGS, env);
      assert.is(again.code, 0, `${again.stdout}\n${again.stderr}`);
      assert.match(again.stdout, /summary: fetched 0, published 0, skipped 0/);
      await new Promise((r) => setTimeout(r, 3_000));
      assert.equal(await counts(), before, 'raw, clean and feature topics and the bars collection are unchanged');
    });
  } finally {
    await mongo.close();
  }
});

t.after(async () => {
  await ctx.stack?.stop();
});

t.run();
