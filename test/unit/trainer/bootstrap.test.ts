/**
 * The trainer's first-model sources: bootstrap files (directories expand to their *.csv files,
 * sorted; a missing path is a config error) and, without them, the settle rule on the stored
 * feature count (at least N rows, unchanged for the settle time).
 */
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from '../../harness/index.ts';
import { bootstrapFiles, settleStep, waitForSettledRows } from '../../../services/trainer/src/bootstrap.ts';

const t = suite('trainer: bootstrap data and the stream settle rule');

t('directories expand to their CSV files, sorted and de-duplicated; a missing path is E_CONFIG', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bootstrap-'));
  for (const f of ['MSFT.csv', 'AAPL.csv', 'notes.txt']) writeFileSync(path.join(dir, f), 'x');
  assert.equal(bootstrapFiles(`${dir}, ${dir}/AAPL.csv`, '/'), [path.join(dir, 'AAPL.csv'), path.join(dir, 'MSFT.csv')]);
  assert.throws(() => bootstrapFiles(path.join(dir, 'nope'), '/'), (e: { code?: string }) => e.code === 'E_CONFIG');
  const empty = mkdtempSync(path.join(tmpdir(), 'bootstrap-empty-'));
  assert.throws(() => bootstrapFiles(empty, '/'), /no \.csv file/);
});

t('settle: enough rows, unchanged for the settle time', () => {
  let s = { last: -1, since: 0 };
  let r = settleStep(s, 100, 1_000, 300, 5_000);
  assert.is(r.ready, false);
  s = r.state;
  r = settleStep(s, 400, 2_000, 300, 5_000);
  assert.equal(r.state, { last: 400, since: 2_000 });
  r = settleStep(r.state, 400, 6_999, 300, 5_000);
  assert.is(r.ready, false, 'not yet settled');
  assert.is(settleStep(r.state, 400, 7_000, 300, 5_000).ready, true);
  assert.is(settleStep({ last: 200, since: 0 }, 200, 60_000, 300, 5_000).ready, false, 'too few rows never start a training');
});

t('waitForSettledRows asks one count at a time and stops when told', async () => {
  const counts = [10, 20, 20, 20, 20];
  let inFlight = 0;
  let maxInFlight = 0;
  const n = await waitForSettledRows({
    count: async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return counts.shift() ?? 20;
    },
    minRows: 15,
    settleMs: 20,
    everyMs: 10,
    stopped: () => false,
  });
  assert.is(n, 20);
  assert.is(maxInFlight, 1);
  assert.is(await waitForSettledRows({ count: async () => 1, minRows: 5, settleMs: 0, stopped: () => true }), undefined);
});

t.run();
