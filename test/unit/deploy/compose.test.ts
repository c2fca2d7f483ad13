/**
 * docker-compose.yml without a Docker engine: the official Compose Specification JSON Schema
 * (compose-go's copy, the one `docker compose` validates with), compose-go's own loader
 * (interpolation + consistency, like `docker compose config`), and the structure we rely on.
 * The topic-init script is executed with a stub kafka-topics.sh to see exactly what it creates.
 */
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { TOPIC_DEFS } from '@stock-mlops/contracts';
import { BaseEnv } from '@stock-mlops/platform/config';
import { ProviderEnv } from '@stock-mlops/extract/provider_settings';
import { suite } from '../../harness/index.ts';
import { composeAppServices, composeModel, composeRaw, deployableServices, run, toolFile, type Obj } from '../../support/deploy.ts';

const t = suite('deploy: docker-compose.yml');

t('validates against the Compose Specification JSON Schema', () => {
  const schemaFile = toolFile('compose-spec.json');
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as object;
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  const ok = validate(composeRaw());
  const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  assert.ok(ok, `docker-compose.yml does not match ${schemaFile}:\n  ${problems.join('\n  ')}`);
});

t('the schema rejects a broken file (the validator is live)', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(readFileSync(toolFile('compose-spec.json'), 'utf8')) as object);
  const bad = composeRaw();
  bad.services.kafka.healthcheck.interval = 10; // must be a duration string
  bad.services.mongo.restrat = 'always'; // unknown property
  assert.not.ok(validate(bad));
});

t('compose-go loads it (interpolation, depends_on/volume consistency)', () => {
  const m = composeModel();
  assert.equal(m.name, 'stock-mlops');
});

t('Kafka: apache/kafka 3.9.1, single KRaft node, replication factor 1, persistent volume', () => {
  const k = composeModel().services.kafka;
  assert.is(k.image, 'apache/kafka:3.9.1');
  const e = Object.fromEntries(Object.entries(k.environment as Record<string, unknown>).map(([n, v]) => [n, String(v)]));
  assert.is(e.KAFKA_PROCESS_ROLES, 'broker,controller');
  assert.is(e.KAFKA_CONTROLLER_QUORUM_VOTERS, `${e.KAFKA_NODE_ID}@kafka:9093`);
  assert.match(e.CLUSTER_ID!, /^[A-Za-z0-9_-]{22}$/, 'CLUSTER_ID: 16 bytes in base64url (22 characters)');
  for (const key of ['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR', 'KAFKA_DEFAULT_REPLICATION_FACTOR', 'KAFKA_MIN_INSYNC_REPLICAS']) {
    assert.is(e[key], '1', key);
  }
  assert.is(e.KAFKA_AUTO_CREATE_TOPICS_ENABLE, 'false');
  assert.ok(e.KAFKA_ADVERTISED_LISTENERS!.includes('//kafka:19092'), 'in-network listener kafka:19092');
  const vol = (k.volumes as Obj[]).find((v) => v.target === e.KAFKA_LOG_DIRS);
  assert.ok(vol && vol.type === 'volume' && vol.source === 'kafka-data', 'the log dir is the kafka-data volume');
  assert.ok(k.healthcheck?.test?.join(' ').includes('kafka-broker-api-versions.sh'));
});

t('MongoDB: mongo:7 with a data volume and a ping healthcheck', () => {
  const m = composeModel().services.mongo;
  assert.is(m.image, 'mongo:7');
  assert.ok((m.volumes as Obj[]).some((v) => v.source === 'mongo-data' && v.target === '/data/db'));
  assert.ok(m.healthcheck.test.join(' ').includes('ping'));
});

t('every service is built from the one Dockerfile, hardened, and waits for its dependencies', () => {
  const m = composeModel();
  const apps = composeAppServices(m);
  assert.equal(Object.keys(apps).sort(), deployableServices(), 'compose services = services/*/src/main.ts');
  const images = new Set<string>();
  const ports = new Set<string>();
  for (const [name, s] of Object.entries(apps)) {
    images.add(s.image);
    assert.equal(s.command, [name], `${name}: command selects the service`);
    assert.is(s.user, '10001:10001', `${name}: runs as uid 10001`);
    assert.is(s.read_only, true, `${name}: read-only root filesystem`);
    assert.ok((s.tmpfs as string[]).includes('/tmp'), `${name}: /tmp is a tmpfs`);
    assert.equal(s.cap_drop, ['ALL'], `${name}: drops every capability`);
    assert.is(s.depends_on?.['kafka-init']?.condition, 'service_completed_successfully', `${name}: after the topics exist`);
    assert.is(s.depends_on?.mongo?.condition, 'service_healthy', `${name}: after MongoDB is healthy`);
    const hc = (s.healthcheck.test as string[]).join(' ');
    assert.ok(s.healthcheck.test[0] === 'CMD' && hc.includes('/healthz') && s.healthcheck.test[1] === 'node', `${name}: healthcheck is node fetching /healthz`);
    const env = s.environment as Record<string, string | null>;
    assert.is(env.HTTP_HOST, '0.0.0.0', `${name}: HTTP_HOST must be 0.0.0.0 in a container`);
    assert.ok(env.HTTP_PORT && !ports.has(env.HTTP_PORT), `${name}: a distinct HTTP_PORT`);
    ports.add(env.HTTP_PORT!);
    assert.is(env.KAFKA_BROKERS, 'kafka:19092');
    assert.is(env.MONGO_URL, 'mongodb://mongo:27017');
  }
  assert.is(images.size, 1, 'one image for every service');
});

t('environment values pass the services’ own config schemas', () => {
  for (const [name, s] of Object.entries(composeAppServices(composeModel()))) {
    // Null = passed through from the shell when set: absent in a clean environment.
    const env = Object.fromEntries(Object.entries(s.environment as Record<string, string | null>).filter(([, v]) => v !== null)) as Record<string, string>;
    const r = BaseEnv.safeParse(env);
    assert.ok(r.success, `${name}: ${r.success ? '' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    assert.ok(r.success && r.data.HTTP_PORT > 0, `${name}: HTTP_PORT must be fixed (not 0) so healthchecks can reach it`);
    if (name === 'extractor') {
      const p = ProviderEnv.safeParse(env);
      assert.ok(p.success, `extractor: ${p.success ? '' : p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
  }
});

t('predictor publishes gRPC 50051 and WebSocket 8081 and listens on all interfaces', () => {
  const p = composeModel().services.predictor;
  const published = (p.ports as Obj[]).map((x) => `${x.published}:${x.target}`);
  assert.ok(published.includes('50051:50051'), 'gRPC published');
  assert.ok(published.includes('8081:8081'), 'WebSocket published');
  assert.is(p.environment.GRPC_HOST, '0.0.0.0');
  assert.is(p.environment.WS_HOST, '0.0.0.0');
});

/** Runs kafka-init's script with a stub kafka-topics.sh that records its arguments. */
function runTopicInit(prefix: string): Array<{ topic: string; partitions: number; rf: number; compact: boolean; ifNotExists: boolean }> {
  const init = composeModel().services['kafka-init'];
  assert.equal(init.entrypoint, ['/bin/bash', '-c']);
  const script = (init.command as string[])[0]!;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kafka-init-'));
  try {
    const log = path.join(dir, 'calls');
    const stub = path.join(dir, 'kafka-topics.sh');
    writeFileSync(stub, `#!/bin/bash\nprintf '%s\\n' "$*" >> ${JSON.stringify(log)}\n`);
    chmodSync(stub, 0o755);
    writeFileSync(log, '');
    const r = run('bash', ['-c', script.replaceAll('/opt/kafka/bin/kafka-topics.sh', stub)], { env: { PATH: process.env.PATH, KAFKA_TOPIC_PREFIX: prefix } });
    assert.is(r.code, 0, `kafka-init script failed: ${r.stderr}`);
    return readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('--create'))
      .map((l) => {
        const a = l.split(' ');
        const arg = (flag: string) => a[a.indexOf(flag) + 1]!;
        return { topic: arg('--topic'), partitions: Number(arg('--partitions')), rf: Number(arg('--replication-factor')), compact: l.includes('cleanup.policy=compact'), ifNotExists: a.includes('--if-not-exists') };
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t('kafka-init creates exactly the contract topics (names, partitions, compaction), idempotently', () => {
  for (const prefix of ['', 'ci.']) {
    const calls = runTopicInit(prefix);
    const want = Object.values(TOPIC_DEFS).map((d) => ({ topic: `${prefix}${d.name}`, partitions: d.partitions, rf: 1, compact: d.compacted, ifNotExists: true }));
    const key = (x: { topic: string }) => x.topic;
    assert.equal([...calls].sort((a, b) => key(a).localeCompare(key(b))), [...want].sort((a, b) => key(a).localeCompare(key(b))), `prefix "${prefix}"`);
  }
  const init = composeModel().services['kafka-init'];
  assert.is(init.depends_on?.kafka?.condition, 'service_healthy');
  assert.is(init.image, composeModel().services.kafka.image, 'same Kafka tools as the broker');
  assert.is(init.environment.KAFKA_TOPIC_PREFIX, composeModel().services.loader.environment.KAFKA_TOPIC_PREFIX, 'same prefix as the services');
});

t.run();
