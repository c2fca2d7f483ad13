/**
 * The extractor service under SIGKILL, real broker and database: a paced CSV replay is killed
 * twice mid-backfill — once by its own fault injection exactly between the Kafka ack and the
 * cursor write, once from outside by the supervisor at an arbitrary moment — and restarted each
 * time. Consuming the raw topic afterwards finds every bar of the file exactly once (by event id).
 */
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveTopics } from '@stock-mlops/contracts';
import { suite } from '../harness/index.ts';
import { waitFor, withStack } from '../support/stack.ts';
import { csvBarTimes, envelopeOf, readTopic, ROOT, topicCount } from '../support/extractor.ts';

const t = suite('e2e: extractor killed mid-backfill and restarted: no gap, no duplicate', { timeoutMs: 180_000 });

const FILE = path.join(ROOT, 'data/prices/MSFT.csv');
const times = csvBarTimes(FILE);
const spanMs = Date.parse(times[times.length - 1]!) - Date.parse(times[0]!);
/** Replay pace: the whole file in about 12 s of wall time (a few bars per 200 ms poll). */
const SPEED = Math.round(spanMs / 12_000);
const FAULT_AT = '2013-09-01';

t('SIGKILL between ack and cursor write, and SIGKILL from the supervisor: every bar once', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stock-mlops-extract-restart-'));
  copyFileSync(FILE, path.join(dir, 'MSFT.csv'));
  await withStack({
    services: ['extractor'],
    restart: true,
    env: {
      EXTRACT_REPLAY_PATH: dir,
      EXTRACT_REPLAY_SPEED: String(SPEED),
      EXTRACT_POLL_MS: '200',
      EXTRACT_FAULT: `crash-after-publishing:${FAULT_AT}`,
    },
    logLines: 120,
  }, async (stack) => {
    const topic = resolveTopics(stack.prefix).rawPrices;
    const lines = (re: RegExp) => stack.logs.filter((l) => re.test(l));
    // 1. The extractor kills itself right after the publish that reaches FAULT_AT is acknowledged.
    await waitFor('the injected crash', () => lines(/EXTRACT_FAULT: killing/).length > 0 || undefined, 90_000, 100);
    await waitFor('the supervisor to restart it', () => lines(/\[supervisor\] restarting extractor/).length >= 1 || undefined, 10_000, 100);
    // …and the restarted process found those events on the topic instead of publishing them again.
    const recovered = await waitFor('recovery of the uncovered events', () => lines(/found events published beyond the saved cursor/)[0], 60_000, 100);
    assert.ok(Number(/"events":(\d+)/.exec(recovered)?.[1]) > 0, recovered);

    // 2. An outside SIGKILL at an arbitrary moment of the replay.
    const firstPid = stack.sup.pid('extractor');
    const atKill = await waitFor('the replay to be well under way', async () => {
      const n = await topicCount(topic);
      return n > times.length * 0.55 ? n : undefined;
    }, 60_000, 200);
    assert.ok(atKill < times.length, `killed mid-backfill (${atKill} of ${times.length} bars published)`);
    stack.sup.kill('extractor');
    await waitFor('a new extractor process', () => (stack.sup.pid('extractor') !== firstPid ? true : undefined), 15_000, 100);

    // 3. The replay completes: the topic holds every bar of the file, each exactly once.
    await waitFor('every bar on the raw topic', async () => ((await topicCount(topic)) >= times.length ? true : undefined), 90_000, 250);
    await new Promise((r) => setTimeout(r, 1_500));
    const records = await readTopic(topic);
    const envs = records.map(envelopeOf);
    assert.is(records.length, times.length, 'no extra record');
    assert.is(new Set(envs.map((e) => e.eventId)).size, times.length, 'no event id twice');
    assert.equal(envs.map((e) => e.data.ts).sort(), times, 'every bar of the file');
    assert.is(lines(/EXTRACT_FAULT: killing/).length, 1, 'the recovered page was not published again (it would have tripped the fault a second time)');
    assert.is(lines(/\[supervisor\] restarting extractor/).length, 2, 'two kills, two restarts');
  });
});

t.run();
