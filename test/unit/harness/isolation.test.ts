import * as assert from 'uvu/assert';
import { resolveTopics } from '@stock-mlops/contracts';
import { currentFileId, newFileId, ownedBy, ownedPrefix } from '../../../scripts/lib/isolation.ts';
import { suite } from '../../harness/index.ts';
import { dbNameFor, uniqueId } from '../../support/stack.ts';

const t = suite('test isolation: names owned by a test file');

t('a file id is f<n> and 6 hex digits, different every time', () => {
  const a = newFileId(12);
  assert.match(a, /^f12[0-9a-f]{6}$/);
  assert.is.not(newFileId(12), a);
});

t('a file owns exactly the names that start with its id and an underscore', () => {
  assert.ok(ownedBy('f1abcdef', 'f1abcdef_t1x2y3.'));
  assert.ok(ownedBy('f1abcdef', 'f1abcdef_t1x2y3.stock.raw.prices.v1'));
  assert.not.ok(ownedBy('f1abcdef', 'f1abcdef'), 'the bare id is no name of ours');
  assert.not.ok(ownedBy('f1abcdef', 'f1abcdef0_t1'), "a longer id's names are not ours");
  assert.not.ok(ownedBy('f1', 'f12abcde_t1'), 'f1 does not own f12…');
  assert.not.ok(ownedBy('f1abcdef', 'stock_mlops'));
  assert.not.ok(ownedBy('f1abcdef', 'F1ABCDEF_t1'), 'case matters');
  assert.not.ok(ownedBy('', '_anything'), 'an empty id owns nothing');
});

t('names built by test/support belong to the running file and are valid database and topic names', () => {
  const id = currentFileId();
  const prefix = `${uniqueId('t')}.`;
  const db = dbNameFor(prefix);
  assert.ok(ownedBy(id, prefix), prefix);
  assert.ok(ownedBy(id, db), db);
  assert.match(db, /^[a-zA-Z0-9_-]{1,40}$/, 'FerretDB database-name characters');
  assert.ok(ownedBy(id, resolveTopics(prefix).features));
  assert.not.ok(ownedBy(newFileId(99), db), "another file's id does not own it");
  assert.is.not(uniqueId('t'), uniqueId('t'), 'unique per call');
  assert.ok(ownedBy(id, dbNameFor(`${uniqueId('gate_')}.`, 38)), 'slicing to 38 keeps the owner');
});

t('the file id comes from TEST_FILE_ID, is stable in a process, and a malformed one is refused', () => {
  assert.is(currentFileId({ TEST_FILE_ID: 'f7a1b2c3' }), 'f7a1b2c3');
  assert.is(ownedPrefix('f7a1b2c3'), 'f7a1b2c3_');
  assert.is(currentFileId({}), currentFileId({}), 'one id per process when run by hand');
  assert.throws(() => currentFileId({ TEST_FILE_ID: 'f1_x' }), /TEST_FILE_ID/);
  assert.throws(() => currentFileId({ TEST_FILE_ID: 'a'.repeat(17) }), /TEST_FILE_ID/);
});

t.run();
