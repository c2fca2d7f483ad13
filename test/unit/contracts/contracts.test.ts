import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  decode,
  makeEnvelope,
  encode,
  resolveTopics,
  TOPIC_DEFS,
  TOPIC_KEYS,
  MAX_MESSAGE_BYTES,
  deterministicId,
} from '@stock-mlops/contracts';
import { renderRawSchemas } from '../../../scripts/gen_json_schema.ts';
import { suite } from '../../harness/index.ts';

const t = suite('contracts');

const bar = {
  symbol: 'AAPL',
  interval: '1d' as const,
  ts: '2017-01-03T00:00:00.000Z',
  open: 115.8,
  high: 116.33,
  low: 114.76,
  close: 116.15,
  adjClose: 111.71,
  volume: 28781900,
};

t('topic names are versioned, unique, and namespaced by prefix', () => {
  const names: string[] = TOPIC_KEYS.map((k) => TOPIC_DEFS[k].name);
  assert.is(new Set(names).size, names.length);
  for (const n of names) assert.match(n, /\.v\d+$/);
  const t2 = resolveTopics('test-1.');
  assert.is(t2.rawPrices, 'test-1.stock.raw.prices.v1');
  assert.throws(() => resolveTopics('bad prefix'), /invalid topic prefix/);
  for (const stage of ['transform', 'load', 'predict', 'train', 'monitor']) {
    assert.ok(names.includes(`stock.dlq.${stage}.v1`), `dead-letter topic for ${stage}`);
  }
});

t('an envelope round-trips and is keyed by symbol, with deterministic ids', () => {
  const env = makeEnvelope('rawPrices', { data: bar, source: 'test', idParts: ['AAPL', '1d', bar.ts] });
  const again = makeEnvelope('rawPrices', { data: bar, source: 'test', idParts: ['AAPL', '1d', bar.ts] });
  assert.is(env.eventId, again.eventId);
  assert.is.not(env.eventId, makeEnvelope('rawPrices', { data: bar, source: 'test', idParts: ['AAPL', '1d', 'x'] }).eventId);
  const msg = encode('rawPrices', env);
  assert.is(msg.key, 'AAPL');
  const back = decode('rawPrices', Buffer.from(msg.value));
  assert.ok(back.ok);
  if (back.ok) assert.equal(back.envelope, env);
  assert.is(deterministicId('a', 1), deterministicId('a', 1));
});

t('decode rejects bad input with a code and a reason', () => {
  const good = JSON.parse(encode('rawPrices', makeEnvelope('rawPrices', { data: bar, source: 't' })).value);
  const cases: Array<[unknown, string, RegExp]> = [
    ['{not json', 'E_JSON', /invalid JSON/],
    [{ ...good, schemaVersion: 2 }, 'E_SCHEMA_VERSION', /schemaVersion 2/],
    [{ ...good, type: 'price.bar.clean' }, 'E_TYPE', /type/],
    [{ ...good, data: { ...good.data, close: 'x' } }, 'E_SCHEMA', /data\.close/],
    [{ ...good, data: { ...good.data, symbol: '$where' } }, 'E_SCHEMA', /data\.symbol/],
    [{ ...good, data: { ...good.data, symbol: 'aapl' } }, 'E_SCHEMA', /data\.symbol/],
    [{ ...good, data: { ...good.data, ts: '3024-01-01T00:00:00Z' } }, 'E_SCHEMA', /future/],
    [{ ...good, data: { ...good.data, ts: '1800-01-01T00:00:00Z' } }, 'E_SCHEMA', /1900/],
    [{ ...good, data: { ...good.data, $set: 1 } }, 'E_SCHEMA', /data/],
    [{ ...good, data: { ...good.data, 'a.b': 1 } }, 'E_SCHEMA', /data/],
    [{ ...good, data: { symbol: 'AAPL' } }, 'E_SCHEMA', /data\.(interval|ts|open)/],
  ];
  for (const [input, code, re] of cases) {
    const r = decode('rawPrices', typeof input === 'string' ? input : JSON.stringify(input));
    assert.not.ok(r.ok, `should reject ${JSON.stringify(input).slice(0, 80)}`);
    if (!r.ok) {
      assert.is(r.code, code, r.reason);
      assert.match(r.reason, re);
    }
  }
  const nan = decode('rawPrices', JSON.stringify(good).replace('"close":116.15', '"close":NaN'));
  assert.not.ok(nan.ok);
  const big = decode('rawPrices', 'x'.repeat(MAX_MESSAGE_BYTES + 1));
  assert.ok(!big.ok && big.code === 'E_TOO_LARGE');
  const empty = decode('rawPrices', null);
  assert.ok(!empty.ok && empty.code === 'E_EMPTY');
});

t('makeEnvelope refuses data that breaks the topic schema', () => {
  assert.throws(() => makeEnvelope('rawPrices', { data: { ...bar, close: Number.NaN }, source: 't' }), /close/);
  assert.throws(() => makeEnvelope('rawPrices', { data: { ...bar, close: Infinity }, source: 't' }), /close/);
});

t('committed JSON Schemas for raw topics (and the labels topic) match the zod source', () => {
  const dir = path.resolve(import.meta.dirname, '../../../schemas');
  const rendered = renderRawSchemas();
  assert.is(rendered.size, 4);
  for (const [file, text] of rendered) {
    assert.is(readFileSync(path.join(dir, file), 'utf8'), text, `${file} is stale: run npm run schemas`);
  }
});

t.run();
