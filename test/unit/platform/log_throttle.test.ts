/**
 * LogThrottle (packages/platform/src/logger.ts), the rate limit of the predictor's "shadow
 * predictions dropped" line: the first occurrence is emitted at once, the next ones within the
 * interval are summed per key and emitted together once it is up, with the latest detail. The
 * clock is injected; `flush` stands in for the trailing timer.
 */
import * as assert from 'uvu/assert';
import { LogThrottle } from '@stock-mlops/platform';
import { suite } from '../../harness/index.ts';

const t = suite('platform: log throttle');

t('at most one line per interval, counts summed per key, the latest detail kept', () => {
  let now = 0;
  const lines: Array<[Partial<Record<string, number>>, Record<string, unknown>]> = [];
  const th = new LogThrottle<'overflow' | 'timeout'>(1_000, (counts, detail) => lines.push([counts, detail]), () => now);
  th.add('overflow', 64);
  assert.equal(lines, [[{ overflow: 64 }, {}]], 'the first drop is logged at once');
  now = 10;
  th.add('overflow', 64);
  now = 500;
  th.add('timeout', 3, { code: 'E_SHADOW_TIMEOUT' });
  th.add('overflow', 10);
  assert.is(lines.length, 1, 'nothing more within the interval');
  now = 1_000;
  th.add('overflow', 1);
  assert.equal(lines[1], [{ overflow: 75, timeout: 3 }, { code: 'E_SHADOW_TIMEOUT' }]);
  now = 1_200;
  th.add('timeout', 2);
  th.flush();
  assert.equal(lines[2], [{ timeout: 2 }, {}], 'flush emits what is pending (shutdown, the trailing timer)');
  th.flush();
  assert.is(lines.length, 3, 'nothing pending: nothing emitted');
});

t.run();
