/**
 * k8s/ without a cluster: both overlays are rendered with kustomize and checked structurally
 * (probes, limits, non-root, read-only root, references between objects, Strimzi topics).
 */
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TOPIC_DEFS } from '@stock-mlops/contracts';
import { suite } from '../../harness/index.ts';
import { appDeployments, cleanEnv, containerEnv, deployableServices, named, ofKind, OVERLAYS, render, renderText, run, selects, tool, type Obj } from '../../support/deploy.ts';

const t = suite('deploy: k8s overlays');
const NS = 'stock-mlops';
const CLUSTER_SCOPED = new Set(['Namespace']);

/** Oldest Kubernetes the manifests must be valid for (`grpc:` probes are GA from 1.27; the schemas start at 1.30). */
const K8S_VERSION = '1.30.0';

/** Pod templates of every workload, with their kind/name. */
function workloads(docs: Obj[]): Array<{ kind: string; name: string; pod: Obj; labels: Record<string, string> }> {
  return [...ofKind(docs, 'Deployment'), ...ofKind(docs, 'StatefulSet')].map((w) => ({ kind: w.kind, name: w.metadata.name, pod: w.spec.template.spec, labels: w.spec.template.metadata.labels }));
}

for (const overlay of OVERLAYS) {
  t(`${overlay}: renders; everything namespaced lives in ${NS}`, () => {
    const docs = render(overlay);
    assert.ok(named(docs, 'Namespace', NS), 'Namespace object');
    for (const d of docs) {
      if (CLUSTER_SCOPED.has(d.kind)) continue;
      assert.is(d.metadata.namespace, NS, `${d.kind}/${d.metadata.name}`);
    }
    const names = docs.map((d) => `${d.kind}/${d.metadata.name}`);
    assert.is(new Set(names).size, names.length, 'no duplicate objects');
  });

  t(`${overlay}: every built-in object matches the Kubernetes ${K8S_VERSION} schema (strict: no unknown fields)`, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'k8s-validate-'));
    try {
      const file = path.join(dir, `${overlay}.yaml`);
      writeFileSync(file, renderText(overlay));
      const r = run(tool('kubernetes-validate'), ['--strict', '-k', K8S_VERSION, file], { env: cleanEnv() });
      const lines = `${r.stdout}${r.stderr}`.split('\n').filter(Boolean);
      const errors = lines.filter((l) => l.startsWith('ERROR'));
      assert.equal(errors, [], `kubernetes-validate:\n${errors.join('\n')}`);
      assert.is(r.code, 0, lines.join('\n'));
      // Only the Strimzi and KEDA custom resources have no built-in schema (the tests below check them).
      const unchecked = lines.filter(
        (l) => l.startsWith('WARN') && !/kind (Kafka|KafkaNodePool|KafkaTopic) with api version kafka\.strimzi\.io\/v1beta2|kind ScaledObject with api version keda\.sh\/v1alpha1/.test(l),
      );
      assert.equal(unchecked, [], 'objects without a schema');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  t(`${overlay}: one Deployment per service, each with probes, requests/limits and a locked-down container`, () => {
    const docs = render(overlay);
    const deps = appDeployments(docs);
    assert.equal(deps.map((d) => d.metadata.name).sort(), deployableServices(), 'Deployments = services/*/src/main.ts');
    for (const d of deps) {
      const name = d.metadata.name as string;
      const pod = d.spec.template.spec;
      assert.ok(selects(d.spec.selector.matchLabels, d.spec.template.metadata.labels), `${name}: selector matches its pods`);
      assert.is(pod.securityContext?.runAsNonRoot, true, `${name}: pod runAsNonRoot`);
      assert.is(pod.securityContext?.runAsUser, 10001, `${name}: pod runAsUser 10001`);
      assert.is(pod.automountServiceAccountToken, false, `${name}: no service account token`);
      assert.is(pod.containers.length, 1, `${name}: one container`);
      const c = pod.containers[0];
      assert.equal(c.args, [name], `${name}: the image entrypoint gets the service name`);
      const sc = c.securityContext ?? {};
      assert.is(sc.readOnlyRootFilesystem, true, `${name}: readOnlyRootFilesystem`);
      assert.is(sc.allowPrivilegeEscalation, false, `${name}: allowPrivilegeEscalation false`);
      assert.is(sc.runAsNonRoot, true, `${name}: container runAsNonRoot`);
      assert.is(sc.runAsUser, 10001, `${name}: container runAsUser`);
      assert.equal(sc.capabilities?.drop, ['ALL'], `${name}: drop ALL capabilities`);
      const tmp = (c.volumeMounts as Obj[]).find((m) => m.mountPath === '/tmp');
      assert.ok(tmp && (pod.volumes as Obj[]).find((v) => v.name === tmp.name)?.emptyDir, `${name}: an emptyDir at /tmp`);
      for (const kind of ['requests', 'limits']) for (const r of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[r], `${name}: resources.${kind}.${r}`);
      const ports = new Map((c.ports as Obj[]).map((p) => [p.name as string, p.containerPort as number]));
      const env = containerEnv(docs, c);
      assert.is(env.get('HTTP_HOST')?.value, '0.0.0.0', `${name}: HTTP_HOST`);
      assert.is(Number(env.get('HTTP_PORT')?.value), ports.get('http'), `${name}: HTTP_PORT = the http containerPort`);
      // liveness /healthz and startup /healthz on http; readiness /readyz (predictor: gRPC health).
      for (const probe of ['livenessProbe', 'startupProbe']) {
        assert.is(c[probe]?.httpGet?.path, '/healthz', `${name}: ${probe} GET /healthz`);
        assert.is(c[probe]?.httpGet?.port, 'http', `${name}: ${probe} on the http port`);
      }
      if (name === 'predictor') {
        assert.is(c.readinessProbe?.grpc?.port, ports.get('grpc'), 'predictor: readiness is the gRPC health check on the gRPC port');
        assert.is(Number(env.get('GRPC_PORT')?.value), ports.get('grpc'), 'predictor: GRPC_PORT = grpc containerPort');
        assert.is(Number(env.get('WS_PORT')?.value), ports.get('ws'), 'predictor: WS_PORT = ws containerPort');
        assert.is(env.get('GRPC_HOST')?.value, '0.0.0.0');
        assert.is(env.get('WS_HOST')?.value, '0.0.0.0');
      } else {
        assert.is(c.readinessProbe?.httpGet?.path, '/readyz', `${name}: readiness GET /readyz`);
        assert.is(c.readinessProbe?.httpGet?.port, 'http', `${name}: readiness on the http port`);
      }
      const grace = (pod.terminationGracePeriodSeconds as number) * 1000;
      assert.ok(grace > Number(env.get('SHUTDOWN_TIMEOUT_MS')?.value), `${name}: terminationGracePeriodSeconds exceeds SHUTDOWN_TIMEOUT_MS`);
    }
  });

  t(`${overlay}: images are pinned per overlay`, () => {
    const tags = new Set<string>();
    for (const d of appDeployments(render(overlay))) {
      const image = d.spec.template.spec.containers[0].image as string;
      const tag = image.slice(image.lastIndexOf(':') + 1);
      assert.ok(image.includes(':') && tag !== 'latest', `${d.metadata.name}: ${image} (no :latest)`);
      tags.add(image);
    }
    assert.is(tags.size, 1, 'one image for every service');
  });

  t(`${overlay}: Services, PDBs and HPAs point at pods and Deployments that exist`, () => {
    const docs = render(overlay);
    const pods = workloads(docs);
    for (const s of ofKind(docs, 'Service')) {
      const match = pods.filter((p) => selects(s.spec.selector, p.labels));
      assert.ok(match.length > 0, `Service ${s.metadata.name} selects no pod`);
      for (const port of s.spec.ports as Obj[]) {
        const target = port.targetPort ?? port.port;
        for (const p of match) {
          const cports = (p.pod.containers as Obj[]).flatMap((c) => (c.ports ?? []) as Obj[]);
          assert.ok(cports.some((cp) => cp.name === target || cp.containerPort === target), `Service ${s.metadata.name} port ${port.name} → ${target}: not a port of ${p.kind}/${p.name}`);
        }
      }
    }
    const deployments = ofKind(docs, 'Deployment');
    for (const pdb of ofKind(docs, 'PodDisruptionBudget')) {
      assert.is(pdb.apiVersion, 'policy/v1');
      assert.ok(pods.some((p) => selects(pdb.spec.selector.matchLabels, p.labels)), `PDB ${pdb.metadata.name} selects no pod`);
    }
    for (const w of pods) {
      assert.ok(ofKind(docs, 'PodDisruptionBudget').some((pdb) => selects(pdb.spec.selector.matchLabels, w.labels)), `${w.kind}/${w.name} has no PodDisruptionBudget`);
    }
    assert.equal(ofKind(docs, 'HorizontalPodAutoscaler'), [], 'no hand-written HPA: KEDA owns the HPA of each ScaledObject');
  });

  t(`${overlay}: consumers autoscale on lag: a KEDA ScaledObject per consumer stage, at most one replica per partition`, () => {
    const docs = render(overlay);
    const deployments = ofKind(docs, 'Deployment');
    const partitions = (key: keyof typeof TOPIC_DEFS) => ofKind(docs, 'KafkaTopic').find((k) => k.spec.topicName.endsWith(TOPIC_DEFS[key].name)).spec.partitions as number;
    const brokers = String(ofKind(docs, 'ConfigMap').find((x) => x.data?.KAFKA_BROKERS)?.data.KAFKA_BROKERS ?? '');
    // Each stage's group and the topic whose partitions bound it (the loader's topics are co-partitioned).
    const stages: Record<string, { group: string; topic?: string; bound: number }> = {
      transformer: { group: 'transformer', topic: TOPIC_DEFS.rawPrices.name, bound: partitions('rawPrices') },
      predictor: { group: 'predictor', topic: TOPIC_DEFS.features.name, bound: partitions('features') },
      loader: { group: 'loader', bound: partitions('cleanPrices') },
    };
    const scaled = ofKind(docs, 'ScaledObject');
    assert.equal(scaled.map((o) => o.metadata.name).sort(), Object.keys(stages).sort());
    for (const o of scaled) {
      const name = o.metadata.name as string;
      const stage = stages[name]!;
      assert.is(o.apiVersion, 'keda.sh/v1alpha1');
      const ref = o.spec.scaleTargetRef;
      assert.is(ref.kind, 'Deployment');
      assert.is(ref.apiVersion, 'apps/v1');
      const target = deployments.find((d) => d.metadata.name === ref.name);
      assert.ok(target, `ScaledObject ${name} targets missing Deployment ${ref.name}`);
      assert.is(ref.name, name, `ScaledObject ${name} scales its own Deployment`);
      assert.is(target.spec.replicas, undefined, `Deployment ${ref.name}: no spec.replicas, KEDA owns them`);
      assert.ok(o.spec.minReplicaCount >= 1 && o.spec.minReplicaCount <= o.spec.maxReplicaCount, `${name}: 1 <= minReplicaCount <= maxReplicaCount`);
      assert.ok(o.spec.maxReplicaCount <= stage.bound, `${name}: maxReplicaCount ${o.spec.maxReplicaCount} > ${stage.bound} partitions`);
      const kafka = (o.spec.triggers as Obj[]).filter((tr) => tr.type === 'kafka');
      assert.is(kafka.length, 1, `${name}: one kafka (lag) trigger`);
      const m = kafka[0]!.metadata;
      assert.is(m.consumerGroup, stage.group, `${name}: the stage's consumer group`);
      assert.is(m.topic, stage.topic, `${name}: the topic of its lag`);
      assert.is(m.bootstrapServers, brokers, `${name}: the brokers the services use`);
      assert.ok(Number(m.lagThreshold) > 0, `${name}: lagThreshold`);
      assert.is(m.allowIdleConsumers, 'false', `${name}: never more consumers than partitions`);
      const cpu = (o.spec.triggers as Obj[]).find((tr) => tr.type === 'cpu');
      if (cpu) assert.ok((target.spec.template.spec.containers as Obj[])[0].resources?.requests?.cpu, `${name}: a CPU trigger needs a CPU request on ${ref.name}`);
    }
  });

  t(`${overlay}: ConfigMap/Secret references resolve`, () => {
    const docs = render(overlay);
    const secret = named(docs, 'Secret', 'stock-mlops-secrets');
    for (const d of appDeployments(docs)) {
      for (const [name, e] of containerEnv(docs, d.spec.template.spec.containers[0])) {
        if (!e.secret) continue;
        if (overlay === 'prod') {
          assert.is(secret, undefined, 'prod ships no placeholder Secret');
          continue;
        }
        assert.ok(secret?.stringData?.[e.secret.key] ?? secret?.data?.[e.secret.key], `${d.metadata.name}: ${name} → ${e.secret.name}/${e.secret.key} is not in the rendered Secret`);
      }
    }
    if (overlay !== 'prod') {
      const ws = secret?.stringData?.WS_TOKEN as string | undefined;
      assert.ok(ws && ws.length >= 16, 'placeholder WS_TOKEN must still satisfy the predictor (>= 16 characters)');
    }
  });

  t(`${overlay}: MongoDB is a StatefulSet with a headless Service, a volume claim and a locked-down container`, () => {
    const docs = render(overlay);
    const sts = named(docs, 'StatefulSet', 'mongo');
    assert.ok(sts, 'StatefulSet mongo');
    const svc = named(docs, 'Service', sts.spec.serviceName);
    assert.ok(svc, `governing Service ${sts.spec.serviceName}`);
    assert.is(svc.spec.clusterIP, 'None', 'headless');
    assert.ok(selects(svc.spec.selector, sts.spec.template.metadata.labels));
    const claim = (sts.spec.volumeClaimTemplates as Obj[])[0];
    assert.ok(claim?.spec?.resources?.requests?.storage, 'volumeClaimTemplate with a size');
    const c = sts.spec.template.spec.containers[0];
    assert.ok((c.volumeMounts as Obj[]).some((m) => m.name === claim.metadata.name && m.mountPath === '/data/db'), 'the claim is /data/db');
    assert.ok(c.readinessProbe && c.livenessProbe, 'probes');
    assert.is(c.securityContext.readOnlyRootFilesystem, true);
    assert.is(sts.spec.template.spec.securityContext.runAsNonRoot, true);
    for (const kind of ['requests', 'limits']) for (const r of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[r], `mongo: resources.${kind}.${r}`);
    // The services' MONGO_URL points at it.
    const cm = ofKind(docs, 'ConfigMap').find((x) => x.data?.MONGO_URL);
    const host = new URL(cm.data.MONGO_URL.replace(/^mongodb:/, 'http:')).hostname;
    assert.ok([svc.metadata.name, `${sts.metadata.name}-0.${svc.metadata.name}`].includes(host), `MONGO_URL host ${host} is the mongo Service`);
  });

  t(`${overlay}: Strimzi Kafka (KRaft, node pool) and one KafkaTopic per contract topic`, () => {
    const docs = render(overlay);
    const [kafka, ...more] = ofKind(docs, 'Kafka');
    assert.ok(kafka && more.length === 0, 'one Kafka');
    assert.is(kafka.apiVersion, 'kafka.strimzi.io/v1beta2');
    assert.is(kafka.metadata.annotations?.['strimzi.io/kraft'], 'enabled');
    assert.is(kafka.metadata.annotations?.['strimzi.io/node-pools'], 'enabled');
    assert.not.ok(kafka.spec.zookeeper, 'no ZooKeeper');
    const pools = ofKind(docs, 'KafkaNodePool').filter((p) => p.metadata.labels?.['strimzi.io/cluster'] === kafka.metadata.name);
    assert.ok(pools.length > 0, 'a KafkaNodePool of this cluster');
    const roles = new Set(pools.flatMap((p) => p.spec.roles as string[]));
    assert.ok(roles.has('controller') && roles.has('broker'), 'controller and broker roles');
    const brokers = pools.filter((p) => (p.spec.roles as string[]).includes('broker')).reduce((n, p) => n + (p.spec.replicas as number), 0);
    const cfg = kafka.spec.kafka.config;
    for (const k of ['offsets.topic.replication.factor', 'transaction.state.log.replication.factor', 'default.replication.factor']) {
      assert.ok(cfg[k] >= 1 && cfg[k] <= brokers, `${k}=${cfg[k]} with ${brokers} broker(s)`);
    }
    assert.ok(cfg['min.insync.replicas'] <= cfg['default.replication.factor']);

    // Bootstrap address in the ConfigMap = Strimzi's bootstrap Service of this cluster's plain listener.
    const plain = (kafka.spec.kafka.listeners as Obj[]).find((l) => l.tls === false && l.type === 'internal');
    const cm = ofKind(docs, 'ConfigMap').find((x) => x.data?.KAFKA_BROKERS);
    assert.is(cm.data.KAFKA_BROKERS, `${kafka.metadata.name}-kafka-bootstrap:${plain.port}`);
    const prefix = (cm.data.KAFKA_TOPIC_PREFIX ?? '') as string;

    const topics = ofKind(docs, 'KafkaTopic');
    const byName = new Map(topics.map((k) => [k.spec?.topicName ?? k.metadata.name, k]));
    assert.is(byName.size, topics.length, 'no topic twice');
    assert.equal([...byName.keys()].sort(), Object.values(TOPIC_DEFS).map((d) => `${prefix}${d.name}`).sort(), 'KafkaTopics = TOPIC_DEFS');
    for (const d of Object.values(TOPIC_DEFS)) {
      const k = byName.get(`${prefix}${d.name}`);
      assert.is(k.apiVersion, 'kafka.strimzi.io/v1beta2');
      assert.is(k.metadata.labels?.['strimzi.io/cluster'], kafka.metadata.name, `${d.name}: strimzi.io/cluster`);
      assert.ok(k.spec.partitions >= d.partitions, `${d.name}: partitions ${k.spec.partitions} < contract ${d.partitions}`);
      if (overlay === 'dev') assert.is(k.spec.partitions, d.partitions, `${d.name}: dev keeps the contract's partitions`);
      assert.ok(k.spec.replicas >= 1 && k.spec.replicas <= brokers, `${d.name}: replicas ${k.spec.replicas} with ${brokers} broker(s)`);
      assert.is(k.spec.config?.['cleanup.policy'], d.compacted ? 'compact' : 'delete', `${d.name}: cleanup.policy`);
      const isr = k.spec.config?.['min.insync.replicas'] ?? cfg['min.insync.replicas'];
      assert.ok(isr <= k.spec.replicas, `${d.name}: min.insync.replicas ${isr} > replicas`);
    }
  });
}

t('dev and prod differ where they should', () => {
  const dev = render('dev');
  const prod = render('prod');
  const pool = (docs: Obj[]) => ofKind(docs, 'KafkaNodePool')[0].spec.replicas as number;
  assert.is(pool(dev), 1);
  assert.ok(pool(prod) >= 3, 'prod: three Kafka nodes');
  const replicas = (docs: Obj[]) => ofKind(docs, 'KafkaTopic')[0].spec.replicas as number;
  assert.is(replicas(dev), 1);
  assert.is(replicas(prod), 3);
  const img = (docs: Obj[]) => appDeployments(docs)[0].spec.template.spec.containers[0].image as string;
  assert.is.not(img(dev), img(prod));
  for (const stage of ['predictor', 'transformer', 'loader']) {
    assert.ok(named(prod, 'ScaledObject', stage).spec.minReplicaCount >= 2, `prod: ${stage} runs at least 2 replicas`);
  }
  // Every prod topic survives a broker loss: 3 replicas, and acks=all needs 2 of them.
  for (const k of ofKind(prod, 'KafkaTopic')) {
    assert.is(k.spec.replicas, 3, `prod ${k.spec.topicName}: replicas`);
    assert.is(k.spec.config?.['min.insync.replicas'], 2, `prod ${k.spec.topicName}: min.insync.replicas`);
  }
  const req = (docs: Obj[]) => named(docs, 'Deployment', 'predictor').spec.template.spec.containers[0].resources.requests.memory as string;
  assert.is.not(req(dev), req(prod));
  const raw = (docs: Obj[]) => ofKind(docs, 'KafkaTopic').find((k) => k.spec.topicName === TOPIC_DEFS.rawPrices.name).spec.partitions as number;
  assert.ok(raw(prod) > raw(dev), 'prod: more partitions for high-volume topics');
});

t.run();
