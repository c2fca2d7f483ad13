import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InstanceIdError, resolveInstanceId, sanitizeId, topicPartitions } from '@stock-mlops/platform';
import { suite } from '../../harness/index.ts';

const t = suite('platform: stable instance ids');
const dirs: string[] = [];
const freshDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'instance-id-'));
  dirs.push(d);
  return d;
};
t.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

t('INSTANCE_ID wins, then a service alias before it, then the pod name in Kubernetes', () => {
  const dir = freshDir();
  const k8s = { KUBERNETES_SERVICE_HOST: '10.0.0.1', HOSTNAME: 'predictor-7d9f-x2' };
  assert.equal(resolveInstanceId({ service: 'predictor', env: { ...k8s, INSTANCE_ID: 'p1' }, dir }).id, 'p1');
  assert.is(resolveInstanceId({ service: 'predictor', env: { ...k8s, INSTANCE_ID: 'p1', PREDICTOR_INSTANCE_ID: 'old' }, aliases: ['PREDICTOR_INSTANCE_ID'], dir }).id, 'old');
  const pod = resolveInstanceId({ service: 'predictor', env: k8s, dir });
  assert.equal([pod.id, pod.source], ['predictor-7d9f-x2', 'pod']);
  // Outside Kubernetes HOSTNAME is the machine's name, shared by every process on it: not an id.
  assert.is(resolveInstanceId({ service: 'predictor', env: { HOSTNAME: 'box' }, dir, host: 'box' }).source, 'slot');
  assert.throws(() => resolveInstanceId({ service: 'predictor', env: { INSTANCE_ID: 'a b' }, dir }), (e: unknown) => e instanceof InstanceIdError && e.code === 'E_INSTANCE_ID');
});

t('without one: two live processes get two slots, a restart gets its slot back', () => {
  const dir = freshDir();
  const opts = { service: 'predictor', env: {}, dir, host: 'box.local', scope: 'run1-' };
  const a = resolveInstanceId(opts);
  const b = resolveInstanceId(opts);
  assert.is(a.id, 'box-local-predictor-0');
  assert.is(b.id, 'box-local-predictor-1');
  a.release();
  assert.is(resolveInstanceId(opts).id, 'box-local-predictor-0', 'a released slot is reused');
  // Another scope (topic prefix) counts its slots apart.
  assert.is(resolveInstanceId({ ...opts, scope: 'run2-' }).id, 'box-local-predictor-0');
});

t('a slot whose process died (kill -9 leaves the file) is taken over; a live one is not', () => {
  const dir = freshDir();
  writeFileSync(path.join(dir, 'predictor.0.pid'), '999999');
  writeFileSync(path.join(dir, 'predictor.1.pid'), '424242');
  const id = resolveInstanceId({ service: 'predictor', env: {}, dir, host: 'h', alive: (pid) => pid === 424242 });
  assert.is(id.id, 'h-predictor-0');
  assert.equal(readdirSync(dir).sort(), ['predictor.0.pid', 'predictor.1.pid']);
  const next = resolveInstanceId({ service: 'predictor', env: {}, dir, host: 'h', alive: (pid) => pid === 424242 || pid === process.pid });
  assert.is(next.id, 'h-predictor-2');
});

t('ids are safe group and file names', () => {
  assert.is(sanitizeId('ip-10-0-0-1.ec2.internal'), 'ip-10-0-0-1-ec2-internal');
  assert.is(sanitizeId('...'), 'host');
  assert.is(sanitizeId('x'.repeat(100)).length, 64);
});

t('KAFKA_TOPIC_PARTITIONS replaces the count of multi-partition topics only', () => {
  assert.is(topicPartitions(6, 12), 12);
  assert.is(topicPartitions(3, 12), 12);
  assert.is(topicPartitions(1, 12), 1, 'model events and dead letters keep one partition');
  assert.is(topicPartitions(6, 0), 6);
});

t.run();
