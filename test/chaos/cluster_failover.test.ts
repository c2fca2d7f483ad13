/**
 * Broker failover on a three-node Kafka cluster (issue 18), with the kill-loop's verifier.
 *
 * The test starts its own 3-node KRaft cluster (`infra.sh up --brokers 3 kafka` in a temp state
 * dir, beside the runner's single broker) and uses the runner's database. Topics are created with
 * replication factor 3 and min.insync.replicas 2; every producer sends with acks=all. The
 * extractor, transformer, loader and predictor run as processes while the extractor replays the
 * bundled real prices (4 files × CLUSTER_COPIES symbol names, default 1: 13,257 bars, paced over
 * CLUSTER_REPLAY_S, default 120 s). Mid-replay:
 *   1. kill -9 the node that leads most of the busiest partitions;
 *   2. start it again (it catches up and rejoins the in-sync replicas);
 *   3. a controlled shutdown (SIGTERM) of another node that leads busy partitions;
 *   4. start that one again.
 * One node at a time is down: the controller quorum of three voters, and min.insync.replicas 2,
 * need two nodes up. For each fault the test prints how long every stage took to resume (its
 * progress counter moved, or it had nothing left to do) and, after each restart, how long until
 * every partition was fully replicated again. Then the verifier checks, exactly: the raw topic
 * holds one record per CSV row, MongoDB the bars, features and predictions of one in-order pass
 * in process; lost = 0, duplicated = 0, checksums equal.
 */
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Admin } from 'kafkajs';
import { resolveTopics } from '@stock-mlops/contracts';
import { createKafka, ensureTopics } from '@stock-mlops/platform';
import { PIPELINE_SCHEMA } from '@stock-mlops/transform';
import { ServingPriceModel } from '@stock-mlops/ml/inference/predictor';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { kafkaClusterDown, kafkaClusterUp, kafkaNode } from '../../scripts/lib/infra.ts';
import { serviceSpec, type ServiceName } from '../../scripts/lib/supervisor.ts';
import { suite } from '../harness/index.ts';
import { dumpLogs, kafkaClient, logDigest, mongoClient, startStack, waitFor, type RunningStack } from '../support/stack.ts';
import { assertExact, pipelineLag, verifyPipeline, writeReplayDir } from '../support/chaos_verify.ts';
import { busiestLeader, fullyReplicated, stageProgress, STAGES, timeToResume, type Resume } from '../support/failover.ts';
import { promote, randomPriceModel } from '../support/predictor/fixtures.ts';

const FILES = ['AAPL', 'GOOG', 'MSFT', 'SPY'];
const COPIES = Number(process.env.CLUSTER_COPIES ?? 1);
/** How long the paced replay lasts: long enough that every fault lands while it runs. */
const REPLAY_S = Number(process.env.CLUSTER_REPLAY_S ?? 120);
const BROKERS = 3;
const LOOKBACK = 10;
/** A stage that neither progressed nor ran out of work this long after a fault has not resumed (liveness, not speed). */
const RESUME_LIMIT_MS = 5 * 60_000;
const DRAIN_STALL_MS = 5 * 60_000;
const DRAIN_MAX_MS = 20 * 60_000;
const SERVICES: ServiceName[] = ['extractor', 'transformer', 'loader', 'predictor'];
const t = suite('chaos: a three-broker cluster loses a leader (kill -9) and a broker (controlled shutdown), verify exactly', { timeoutMs: 40 * 60_000 });
const stateDir = mkdtempSync(path.join(tmpdir(), 'stock-mlops-cluster-'));
const ctx: { stack?: RunningStack } = {};

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const describeResume = (r: Resume) => STAGES.map((s) => `${s} ${r[s] ? `${secs(r[s].ms)}${r[s].how === 'idle' ? ' (idle)' : ''}` : 'NOT RESUMED'}`).join(', ');

t('a paced replay on RF 3 / min ISR 2 survives kill -9 of the busiest leader and a controlled shutdown of another broker: nothing lost, nothing duplicated', async () => {
  const cluster = kafkaClusterUp(stateDir, BROKERS);
  // From here on the test's clients and services talk to the cluster.
  process.env.KAFKA_BROKERS = cluster.KAFKA_BROKERS;
  assert.is(cluster.KAFKA_BROKERS.split(',').length, BROKERS, 'KAFKA_BROKERS lists every node');
  assert.is(cluster.KAFKA_TOPIC_REPLICATION, '3');

  const replay = writeReplayDir(FILES, COPIES, REPLAY_S);
  const stack = startStack({ services: [], env: { LOG_LEVEL: 'info', KAFKA_SESSION_TIMEOUT_MS: '10000', KAFKA_TOPIC_REPLICATION: cluster.KAFKA_TOPIC_REPLICATION } });
  ctx.stack = stack;
  const topics = resolveTopics(stack.prefix);
  const pipelineTopics = [topics.rawPrices, topics.cleanPrices, topics.features, topics.pricePredictions];
  await ensureTopics(createKafka({ brokers: cluster.KAFKA_BROKERS, clientId: 'cluster-chaos', log: pino({ level: 'silent' }) }), stack.prefix, Number(cluster.KAFKA_TOPIC_REPLICATION));

  const admin: Admin = kafkaClient('cluster-chaos').admin();
  await admin.connect();
  const mongo = await mongoClient();
  const log: string[] = [];
  try {
    // The topics as created: three replicas on three distinct nodes, min.insync.replicas 2.
    const meta = await admin.fetchTopicMetadata({ topics: pipelineTopics });
    for (const tp of meta.topics) for (const p of tp.partitions) assert.is(new Set(p.replicas).size, 3, `${tp.name}[${p.partitionId}] has 3 replicas`);
    const configs = await admin.describeConfigs({ includeSynonyms: false, resources: pipelineTopics.map((name) => ({ type: 2, name, configNames: ['min.insync.replicas'] })) });
    for (const r of configs.resources) assert.is(r.configEntries.find((e) => e.configName === 'min.insync.replicas')?.configValue, '2', `${r.resourceName}: min.insync.replicas`);

    const model = await randomPriceModel(7, { lookback: LOOKBACK, nFeatures: PIPELINE_SCHEMA.names.length, schemaHash: PIPELINE_SCHEMA.hash, zeroMean: true, scale: 0.2 });
    const db = mongo.db(stack.db);
    const version = await promote(new ModelStore(db), 'price', await model.serialize(), PIPELINE_SCHEMA.hash);
    const env: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {
      extractor: { EXTRACT_PROVIDERS: 'csv-replay', EXTRACT_REPLAY_PATH: replay.dir, EXTRACT_REPLAY_SPEED: String(replay.speed), EXTRACT_POLL_MS: '500' },
      transformer: { TRANSFORM_IDLE_FLUSH_MS: '2000' },
      predictor: { GRPC_PORT: '0', WS_PORT: '0', MODEL_POLL_MS: '5000' },
    };
    const started = Date.now();
    for (const s of SERVICES) stack.sup.start(serviceSpec(s, { HTTP_PORT: '0', ...(env[s] ?? {}) }));
    await waitFor('the first predictions', async () => (await admin.fetchTopicOffsets(topics.pricePredictions)).some((p) => Number(p.high) > 0), 300_000, 1_000);

    const at = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;
    const lagNow = async () => (await pipelineLag(admin, stack.prefix).catch(() => undefined))?.parts ?? 'broker unreachable';
    const resumes: Array<{ fault: string; resume: Resume; replicatedMs?: number }> = [];
    /** Runs a fault, then measures from its start how long each stage took to resume (and, for a start, full replication). */
    const fault = async (name: string, run: () => void, waitReplicated: boolean) => {
      log.push(`${at()}  ${name} (lag: ${await lagNow()})`);
      const before = await stageProgress(admin, stack.prefix);
      const t0 = Date.now();
      run();
      const ran = Date.now() - t0;
      const resume = await timeToResume(admin, stack.prefix, t0, before, replay.rows, RESUME_LIMIT_MS);
      let replicatedMs: number | undefined;
      if (waitReplicated) {
        await waitFor('every partition fully replicated', () => fullyReplicated(admin, pipelineTopics).catch(() => false), RESUME_LIMIT_MS, 500);
        replicatedMs = Date.now() - t0;
      }
      log.push(`        took ${secs(ran)}; resumed: ${describeResume(resume)}${replicatedMs !== undefined ? `; fully replicated after ${secs(replicatedMs)}` : ''}`);
      resumes.push({ fault: name, resume, replicatedMs });
    };

    await new Promise((r) => setTimeout(r, 10_000));
    const first = await busiestLeader(admin, pipelineTopics);
    await fault(`kill -9 node ${first.node} (leads ${first.leads} of the ${first.of} busiest partitions)`, () => kafkaNode(stateDir, first.node, 'kill'), false);
    await fault(`start node ${first.node}`, () => kafkaNode(stateDir, first.node, 'start'), true);
    const second = await busiestLeader(admin, pipelineTopics, [first.node]);
    await fault(`controlled shutdown of node ${second.node} (leads ${second.leads} of the ${second.of} busiest partitions)`, () => kafkaNode(stateDir, second.node, 'stop'), false);
    await fault(`start node ${second.node}`, () => kafkaNode(stateDir, second.node, 'start'), true);
    console.log(`  fault schedule and time to resume (from the start of each fault):\n    ${log.join('\n    ')}`);

    // ---------------------------------------------------------------- verify
    const serving = new ServingPriceModel({ name: 'price', version }, model);
    const verdict = await verifyPipeline({ admin, db, prefix: stack.prefix, replay, serving, version, lookback: LOOKBACK, drainStallMs: DRAIN_STALL_MS, drainMaxMs: DRAIN_MAX_MS });
    const restarts = stack.logs.filter((l) => l.includes('[supervisor] restarting')).length;
    console.log([...verdict.lines, `  service restarts by the supervisor: ${restarts}`, `  total ${((Date.now() - started) / 1000).toFixed(0)} s`].join('\n'));
    assertExact(verdict);
    for (const r of resumes) for (const s of STAGES) assert.ok(r.resume[s], `${s} resumed after "${r.fault}"`);
  } catch (err) {
    if (log.length > 0) console.log(`  fault schedule so far:\n    ${log.join('\n    ')}`);
    dumpLogs(stack, 120);
    console.log(`  services (last lines of their logs):\n${logDigest(stack)}`);
    throw err;
  } finally {
    await admin.disconnect();
    await mongo.close();
  }
});

t.after(async () => {
  await ctx.stack?.stop();
  kafkaClusterDown(stateDir);
  rmSync(stateDir, { recursive: true, force: true });
});

t.run();
