import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { parseEtlArgs, UsageError } from '../../../scripts/run_etl.ts';

const t = suite('scripts/run_etl: arguments');

t('backfill with a date range, providers, symbols and a path', () => {
  const a = parseEtlArgs(['backfill', '--from', '2015-01-01', '--to', '2016-12-31', '--providers', 'csv', '--symbols', 'AAPL,MSFT', '--path', '/tmp/prices']);
  assert.is(a.command, 'backfill');
  assert.is(a.from?.toISOString(), '2015-01-01T00:00:00.000Z');
  assert.is(a.to?.toISOString(), '2016-12-31T23:59:59.999Z', '--to is inclusive: the end of that day');
  assert.equal([a.providers, a.symbols, a.path], ['csv', 'AAPL,MSFT', '/tmp/prices']);
});

t('poll takes no dates; ISO timestamps are accepted for backfill', () => {
  assert.equal(parseEtlArgs(['poll', '--symbols', 'AAPL']), { command: 'poll', symbols: 'AAPL' });
  assert.is(parseEtlArgs(['backfill', '--from', '2020-03-01T12:00:00Z']).from?.toISOString(), '2020-03-01T12:00:00.000Z');
});

t('bad usage is a UsageError naming the problem', () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /missing command/],
    [['extract'], /unknown command "extract"/],
    [['backfill', '--from', '2015-13-45x'], /--from/],
    [['backfill', '--from', '2016-01-01', '--to', '2015-01-01'], /after --to/],
    [['poll', '--from', '2015-01-01'], /backfill only/],
    [['backfill', '--since', '2015-01-01'], /since/],
    [['backfill', 'extra'], /unexpected argument "extra"/],
  ];
  for (const [argv, re] of cases) {
    try {
      parseEtlArgs(argv);
      assert.unreachable(`${argv.join(' ')} should fail`);
    } catch (err) {
      assert.instance(err, UsageError, argv.join(' '));
      assert.match((err as Error).message, re);
    }
  }
});

t.run();
