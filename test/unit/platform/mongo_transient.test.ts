/**
 * Which database errors the services wait out (retry with backoff) and which they treat as bad
 * requests. A write that lost its connection mid-flight reaches the loader as a
 * MongoBulkWriteError whose message is the network error's.
 */
import * as assert from 'uvu/assert';
import { isTransientMongoError } from '@stock-mlops/platform';
import { suite } from '../../harness/index.ts';

const t = suite('isTransientMongoError');
const err = (name: string, message: string) => Object.assign(new Error(message), { name });

t('network failures, whatever error class carries them, are transient', () => {
  for (const e of [
    err('MongoNetworkError', 'connection 1 to 127.0.0.1:27017 closed'),
    err('MongoNetworkTimeoutError', 'connection 28 to 127.0.0.1:27017 timed out'),
    err('MongoBulkWriteError', 'connection 7 to 127.0.0.1:27017 timed out'),
    err('MongoBulkWriteError', 'connection 3 to 127.0.0.1:27017 closed'),
    err('MongoServerSelectionError', 'Server selection timed out after 30000 ms'),
    err('MongoPoolClearedError', 'Connection pool for 127.0.0.1:27017 was cleared'),
    err('Error', 'connect ECONNREFUSED 127.0.0.1:27017'),
  ]) {
    assert.ok(isTransientMongoError(e), `${e.name}: ${e.message}`);
  }
});

t('bad requests are not', () => {
  for (const e of [
    err('MongoBulkWriteError', 'E11000 duplicate key error collection: db.features index: _id_'),
    err('MongoServerError', 'invalid key: keys must not start with $'),
    err('TypeError', 'Cannot read properties of undefined'),
  ]) {
    assert.not.ok(isTransientMongoError(e), `${e.name}: ${e.message}`);
  }
});

t.run();
