import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseYahooCsv, type TransformError } from '@stock-mlops/transform';
import { suite } from '../../harness/index.ts';
import { pricesDir } from '../../support/transform.ts';

const t = suite('transform/bar: parseYahooCsv');

const read = (file: string): string => readFileSync(path.join(pricesDir, file), 'utf8');

t('parses the standard Yahoo layout with adjusted close', () => {
  const { bars, rejected } = parseYahooCsv(read('AAPL.csv'), 'AAPL', 'yahoo-csv');
  assert.is(rejected.length, 0);
  assert.is(bars.length, 3379);
  assert.equal(bars[0], {
    symbol: 'AAPL',
    ts: '2004-08-19T00:00:00.000Z',
    interval: '1d',
    open: 2.250714,
    high: 2.275714,
    low: 2.168571,
    close: 2.193571,
    volume: 97230000,
    source: 'yahoo-csv',
    adjClose: 1.966391,
  });
});

t('parses SPY: unnamed index column, lowercase names, float volume, no adjusted close', () => {
  const { bars, rejected } = parseYahooCsv(read('SPY.csv'), 'SPY', 'yahoo-csv');
  assert.is(rejected.length, 0);
  assert.is(bars.length, 5241);
  const first = bars[0];
  assert.ok(first);
  assert.is(first.ts, '1999-11-01T00:00:00.000Z');
  assert.is(first.open, 136.5);
  assert.is(first.volume, 4006500);
  assert.is(first.adjClose, undefined);
});

t('parses DJI: Volume before Adj Close and newest-first rows, returned ascending', () => {
  const { bars, rejected } = parseYahooCsv(read('DJI.csv'), 'DJI', 'yahoo-csv');
  assert.is(rejected.length, 0);
  assert.is(bars.length, 1989);
  assert.is(bars[0]?.ts, '2008-08-08T00:00:00.000Z');
  assert.is(bars.at(-1)?.ts, '2016-07-01T00:00:00.000Z');
  assert.is(bars[0]?.volume, 212830000);
  assert.is(bars[0]?.adjClose, 11734.320312);
  for (let i = 1; i < bars.length; i++) assert.ok((bars[i - 1] as { ts: string }).ts < (bars[i] as { ts: string }).ts);
});

t('parses every shared price file without rejections, ascending', () => {
  for (const [file, rows] of Object.entries({ '005930.KS.csv': 5604, 'AMZN.csv': 6025, 'GOOG.csv': 3379, 'MSFT.csv': 1258, 'NVDA.csv': 4012 })) {
    const { bars, rejected } = parseYahooCsv(read(file), file.replace('.csv', ''), 'yahoo-csv');
    assert.is(rejected.length, 0, file);
    assert.is(bars.length, rows, file);
    assert.ok(bars.every((b, i) => i === 0 || (bars[i - 1] as { ts: string }).ts < b.ts), `${file} ascending`);
  }
});

t("rejects 'null', empty and non-numeric cells with line numbers instead of producing NaN", () => {
  const csv = [
    'Date,Open,High,Low,Close,Adj Close,Volume',
    '2020-01-02,1,2,0.5,1.5,1.4,100',
    '2020-01-03,null,null,null,null,null,null',
    '2020-01-06,1,2,0.5,,1.4,100',
    '2020-01-07,1,2,0.5,abc,1.4,100',
    '2020-02-30,1,2,0.5,1.5,1.4,100',
    '2020-01-08,1,2,0.5,1.5,1.4',
    '',
    '2020-01-09,1,2,0.5,1.5,1.4,1e3',
  ].join('\r\n');
  const { bars, rejected } = parseYahooCsv(csv, 'X', 'test');
  assert.equal(
    bars.map((b) => b.ts.slice(0, 10)),
    ['2020-01-02', '2020-01-09'],
  );
  assert.is(bars[1]?.volume, 1000);
  assert.equal(
    rejected.map((r) => r.line),
    [3, 4, 5, 6, 7],
  );
  assert.match(rejected[0]?.reason ?? '', /missing value 'null' in column open/);
  assert.match(rejected[1]?.reason ?? '', /missing value '' in column close/);
  assert.match(rejected[2]?.reason ?? '', /non-numeric value 'abc'/);
  assert.match(rejected[3]?.reason ?? '', /invalid date '2020-02-30'/);
  assert.match(rejected[4]?.reason ?? '', /expected 7 cells, found 6/);
});

t('accepts zoned date-times and normalises them to UTC', () => {
  const csv = 'timestamp,open,high,low,close,volume\n2020-01-02 09:30:00-05:00,1,2,0.5,1.5,10\n';
  const { bars } = parseYahooCsv(csv, 'X', 'test', { interval: '1m' });
  assert.is(bars[0]?.ts, '2020-01-02T14:30:00.000Z');
  assert.is(bars[0]?.interval, '1m');
});

t('throws E_CSV_HEADER when a required column is missing', () => {
  assert.throws(
    () => parseYahooCsv('Date,Open,High,Low,Volume\n2020-01-02,1,2,0.5,10\n', 'X', 'test'),
    (err: TransformError) => err.code === 'E_CSV_HEADER' && /close/.test(err.message),
  );
});

t.run();
