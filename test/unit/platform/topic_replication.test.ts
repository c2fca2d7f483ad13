/** Topic durability settings (packages/platform/src/kafka/client.ts) and the local cluster's replication factor (config.ts). */
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { topicReplication } from '@stock-mlops/platform/kafka/client';
import { withLocalInfraDefaults } from '@stock-mlops/platform/config';
import { suite } from '../../harness/index.ts';

const t = suite('topic replication');

t('min.insync.replicas is min(2, RF): one broker may fail on RF 3, a single broker still takes writes', () => {
  assert.equal(topicReplication(1), { replicationFactor: 1, minInsyncReplicas: 1 });
  assert.equal(topicReplication(2), { replicationFactor: 2, minInsyncReplicas: 2 });
  assert.equal(topicReplication(3), { replicationFactor: 3, minInsyncReplicas: 2 });
  assert.equal(topicReplication(5), { replicationFactor: 5, minInsyncReplicas: 2 });
});

t('a replication factor below 1 or fractional is refused', () => {
  assert.throws(() => topicReplication(0), /positive integer/);
  assert.throws(() => topicReplication(1.5), /positive integer/);
});

function stateDir(lines: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'stock-mlops-env-'));
  writeFileSync(path.join(dir, 'env'), lines);
  return dir;
}

t("the local cluster's KAFKA_TOPIC_REPLICATION comes with its brokers from the env file", () => {
  const dir = stateDir('KAFKA_BROKERS=127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096\nKAFKA_TOPIC_REPLICATION=3\nMONGO_URL=mongodb://127.0.0.1:27017\n');
  const env = withLocalInfraDefaults({ STOCK_MLOPS_STATE: dir });
  assert.is(env.KAFKA_BROKERS, '127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096');
  assert.is(env.KAFKA_TOPIC_REPLICATION, '3');
  assert.is(env.MONGO_URL, 'mongodb://127.0.0.1:27017');
});

t('brokers set in the environment keep their own replication factor (not the local cluster one)', () => {
  const dir = stateDir('KAFKA_BROKERS=127.0.0.1:9092,127.0.0.1:9094\nKAFKA_TOPIC_REPLICATION=3\n');
  const env = withLocalInfraDefaults({ STOCK_MLOPS_STATE: dir, KAFKA_BROKERS: 'broker:9092' });
  assert.is(env.KAFKA_BROKERS, 'broker:9092');
  assert.is(env.KAFKA_TOPIC_REPLICATION, undefined);
  assert.is(withLocalInfraDefaults({ STOCK_MLOPS_STATE: dir, KAFKA_TOPIC_REPLICATION: '2' }).KAFKA_TOPIC_REPLICATION, '2');
});

t.run();
