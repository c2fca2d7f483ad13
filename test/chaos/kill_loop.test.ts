/**
 * Fault injection with a verifier, the way Kafka Streams and Flink test themselves.
 *
 * All seven services run as processes against the real broker and database. The extractor
 * replays the bundled real daily prices (each file under several symbol names: > 50,000 bars),
 * paced so the replay lasts a couple of minutes. While it runs, on a fixed schedule:
 *   - every service in turn is SIGKILLed (the supervisor restarts it),
 *   - the Kafka broker is restarted,
 *   - the database is restarted.
 * Then the verifier (test/support/chaos_verify.ts) checks, exactly:
 *   - raw topic: one record per CSV row (no event id twice) — the extractor's exactly-once;
 *   - MongoDB bars and features: the counts and checksums of one in-order pass of the same
 *     pipeline in process over the raw records;
 *   - MongoDB predictions: one per feature vector with a full window, by the one production model,
 *     each value equal to the model applied in process to the window of expected vectors;
 *   - lost = 0 and duplicated = 0 for each collection;
 *   - no configured secret appears in any log line of the whole run.
 *
 * Needs its own broker and database restarts, so it runs in the chaos stage (`npm run test:chaos`,
 * and last in `npm test`).
 */
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { resolveTopics } from '@stock-mlops/contracts';
import { createKafka, ensureTopics } from '@stock-mlops/platform';
import { PIPELINE_SCHEMA } from '@stock-mlops/transform';
import { ServingPriceModel } from '@stock-mlops/ml/inference/predictor';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { infraCtl, infraStacks } from '../../scripts/lib/infra.ts';
import { serviceSpec, type ServiceName } from '../../scripts/lib/supervisor.ts';
import { suite } from '../harness/index.ts';
import { dumpLogs, freePort, logDigest, kafkaClient, mongoClient, startStack, waitFor, type RunningStack } from '../support/stack.ts';
import { assertExact, pipelineLag, verifyPipeline, writeReplayDir } from '../support/chaos_verify.ts';
import { clients } from '../support/predictor/grpc_client.ts';
import { promote, randomPriceModel } from '../support/predictor/fixtures.ts';

const FILES = ['AAPL', 'GOOG', 'MSFT', 'SPY'];
/** Each bundled file is replayed under this many symbol names (4 files × 4 ≈ 53,000 bars). */
const COPIES = Number(process.env.CHAOS_COPIES ?? 4);
/** How long the paced replay of the longest file lasts. */
const REPLAY_S = Number(process.env.CHAOS_REPLAY_S ?? 100);
const LOOKBACK = 10;
/** After the last fault: fail when no stage made progress for this long… */
const DRAIN_STALL_MS = 5 * 60_000;
/** …or when the pipeline has not drained after this long. */
const DRAIN_MAX_MS = 30 * 60_000;
const SERVICES: ServiceName[] = ['extractor', 'transformer', 'loader', 'predictor', 'monitor', 'trainer', 'dashboard'];
const t = suite('chaos: kill -9 every service, restart the broker and the database, verify exactly', { timeoutMs: 45 * 60_000 });
const ctx: { stack?: RunningStack } = {};

const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

t('a > 50k-event replay survives kill -9 of every service, a broker and a database restart: nothing lost, nothing duplicated', async () => {
  const replay = writeReplayDir(FILES, COPIES, REPLAY_S);
  const secrets = {
    GRPC_TOKEN: secret('grpc'),
    WS_TOKEN: secret('ws'),
    DASHBOARD_TOKEN: secret('dash'),
    ALPHAVANTAGE_API_KEY: secret('av'),
    NEWSAPI_API_KEY: secret('news'),
    OPENDART_API_KEY: secret('dart'),
    OPS_TOKEN: secret('ops'),
  };
  const ports = { grpc: await freePort(), ws: await freePort(), monitor: await freePort(), dashboard: await freePort() };
  const stack = startStack({ services: [], env: { LOG_LEVEL: 'info', KAFKA_SESSION_TIMEOUT_MS: '10000', ...secrets } });
  ctx.stack = stack;
  const topics = resolveTopics(stack.prefix);
  await ensureTopics(createKafka({ brokers: stack.env.KAFKA_BROKERS!, clientId: 'chaos', log: pino({ level: 'silent' }) }), stack.prefix);

  // The one production model for the whole run (no retraining: predictions must be reproducible).
  const model = await randomPriceModel(7, { lookback: LOOKBACK, nFeatures: PIPELINE_SCHEMA.names.length, schemaHash: PIPELINE_SCHEMA.hash, zeroMean: true, scale: 0.2 });
  const mongo = await mongoClient();
  const db = mongo.db(stack.db);
  const version = await promote(new ModelStore(db), 'price', await model.serialize(), PIPELINE_SCHEMA.hash);

  const env: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {
    extractor: { EXTRACT_PROVIDERS: 'csv-replay', EXTRACT_REPLAY_PATH: replay.dir, EXTRACT_REPLAY_SPEED: String(replay.speed), EXTRACT_POLL_MS: '500' },
    transformer: { TRANSFORM_IDLE_FLUSH_MS: '2000' },
    predictor: { GRPC_PORT: String(ports.grpc), WS_PORT: String(ports.ws), MODEL_POLL_MS: '5000' },
    trainer: { TRAIN_SENTIMENT_ON_START: 'false', TRAIN_INTERVAL_MS: '0' },
    monitor: {
      MONITOR_GRPC_PORT: String(ports.monitor),
      MONITOR_EVAL_MS: '2000',
      // Monitoring runs, but never asks for a retrain: a new version would change the predictions under test.
      ...Object.fromEntries(
        ['FEATURE_PSI', 'FEATURE_DRIFT_SHARE', 'PREDICTION_PSI', 'SENTIMENT_PSI', 'MAX_MAPE_RATIO', 'MIN_DIRECTIONAL_ACCURACY', 'MIN_IC'].map((k) => [`MONITOR_${k}`, 'off']),
      ),
    },
    dashboard: { DASHBOARD_PORT: String(ports.dashboard), PREDICTOR_WS_URL: `ws://127.0.0.1:${ports.ws}/ws`, PREDICTOR_WS_TOKEN: secrets.WS_TOKEN },
  };
  const started = Date.now();
  for (const s of SERVICES) stack.sup.start(serviceSpec(s, { HTTP_PORT: '0', ...(env[s] ?? {}) }));

  type Action = { name: string; run: () => void | Promise<void> };
  const actions: Action[] = [
    ...SERVICES.map((s) => ({ name: `kill -9 ${s}`, run: () => stack.sup.kill(s) })),
    { name: 'restart the Kafka broker', run: () => infraCtl('restart', 'kafka', stack.env) },
    { name: 'restart the database', run: () => infraCtl('restart', 'mongo', stack.env) },
    // A second round for the stateful stages, late in the replay.
    ...(['transformer', 'loader', 'predictor'] as const).map((s) => ({ name: `kill -9 ${s} (again)`, run: () => stack.sup.kill(s) })),
  ];
  const log: string[] = [];
  let stopAdmin = async () => {};
  let kills = 0;
  let restartsOfInfra = 0;
  try {
    // Spread the faults over the paced replay, starting once the pipeline is flowing.
    const admin = kafkaClient('chaos-lag').admin();
    await admin.connect();
    stopAdmin = () => admin.disconnect();
    await waitFor('the first predictions', async () => (await admin.fetchTopicOffsets(topics.pricePredictions)).some((p) => Number(p.high) > 0), 300_000, 1_000);
    const t0 = Date.now();
    const every = (REPLAY_S * 1000) / actions.length;
    for (const [i, a] of actions.entries()) {
      await new Promise((res) => setTimeout(res, Math.max(0, t0 + i * every - Date.now())));
      const lag = await pipelineLag(admin, stack.prefix).catch(() => undefined);
      log.push(`${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${a.name.padEnd(28)} (lag: ${lag ? lag.parts : 'broker unreachable'})`);
      await a.run();
      if (a.name.startsWith('kill')) kills++;
      else restartsOfInfra++;
    }
    console.log(`  fault schedule:\n    ${log.join('\n    ')}`);

    // ---------------------------------------------------------------- verify
    const serving = new ServingPriceModel({ name: 'price', version: version }, model);
    const verdict = await verifyPipeline({ admin, db, prefix: stack.prefix, replay, serving, version, lookback: LOOKBACK, drainStallMs: DRAIN_STALL_MS, drainMaxMs: DRAIN_MAX_MS });
    const restarts = stack.logs.filter((l) => l.includes('[supervisor] restarting')).length;
    const leaked = Object.entries(secrets).filter(([, value]) => stack.logs.some((l) => l.includes(value))).map(([k]) => k);
    console.log(
      [
        verdict.lines[0],
        `  faults: ${kills} kill -9, ${restartsOfInfra} infrastructure restarts (broker, database); ${restarts} service restarts by the supervisor`,
        ...verdict.lines.slice(1),
        `  secrets found in ${stack.logs.length} log lines: ${leaked.length === 0 ? 'none' : leaked.join(', ')}`,
        `  total ${((Date.now() - started) / 1000).toFixed(0)} s`,
      ].join('\n'),
    );
    assertExact(verdict);
    assert.ok(restarts >= kills, `every kill was followed by a restart (${restarts} restarts, ${kills} kills)`);
    assert.equal(leaked, [], 'no secret in the logs');

    // 4. The stack still serves (with its token) after all that.
    const c = clients(ports.grpc);
    try {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${secrets.GRPC_TOKEN}`);
      const res = await c.domain<{ prediction: { symbol: string } }>('Predict', { symbol: 'AAPL' }, { metadata: md, deadlineMs: 10_000 });
      assert.is(res.prediction.symbol, 'AAPL');
      const denied = await c.domain('Predict', { symbol: 'AAPL' }, { deadlineMs: 10_000 }).then(
        () => undefined,
        (e: grpc.ServiceError) => e.code,
      );
      assert.is(denied, grpc.status.UNAUTHENTICATED);
    } finally {
      c.close();
    }
  } catch (err) {
    if (log.length > 0) console.log(`  fault schedule so far:\n    ${log.join('\n    ')}`);
    dumpLogs(stack, 120);
    // Where the database server's goroutines wait (a stall logs nothing); it exits after the dump.
    console.log('  database server stacks (the test has failed; the server exits after the dump):');
    infraStacks('mongo', stack.env);
    console.log(`  services (last lines of their logs):\n${logDigest(stack)}`);
    throw err;
  } finally {
    await stopAdmin();
    await mongo.close();
  }
});

t.after(async () => {
  await ctx.stack?.stop();
});

t.run();
