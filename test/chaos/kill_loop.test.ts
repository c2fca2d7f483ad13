/**
 * Fault injection with a verifier, the way Kafka Streams and Flink test themselves.
 *
 * All seven services run as processes against the real broker and database. The extractor
 * replays the bundled real daily prices (each file under several symbol names: > 50,000 bars),
 * paced so the replay lasts a couple of minutes. While it runs, on a fixed schedule:
 *   - every service in turn is SIGKILLed (the supervisor restarts it),
 *   - the Kafka broker is restarted,
 *   - the database is restarted.
 * Then a verifier checks, exactly:
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
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import type { Admin } from 'kafkajs';
import { decode, resolveTopics } from '@stock-mlops/contracts';
import { consumerLag, createKafka, ensureTopics } from '@stock-mlops/platform';
import { COLLECTIONS } from '@stock-mlops/load';
import { PIPELINE_SCHEMA, parseYahooCsv, type Bar } from '@stock-mlops/transform';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { infraCtl, infraStacks } from '../../scripts/lib/infra.ts';
import { serviceSpec, type ServiceName } from '../../scripts/lib/supervisor.ts';
import { suite } from '../harness/index.ts';
import { freePort, kafkaClient, logDigest, mongoClient, uniqueId, waitFor, withStack, type RunningStack } from '../support/stack.ts';
import { barLine, expectedForEvents, expectedPredictions as expectedPredictionsFor, featureLine, predictionsOff, sha } from '../support/replay.ts';
import { clients } from '../support/predictor/grpc_client.ts';
import { promote, randomPriceModel } from '../support/predictor/fixtures.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
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
const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

interface Replay {
  dir: string;
  rows: number;
  speed: number;
}

/** The bundled CSVs under COPIES symbol names each, in a temp replay directory. */
function writeReplayDir(): Replay {
  const dir = mkdtempSync(path.join(tmpdir(), 'stock-mlops-chaos-'));
  let rows = 0;
  let longestSpanMs = 0;
  for (const f of FILES) {
    const text = readFileSync(path.join(ROOT, 'data', 'prices', `${f}.csv`), 'utf8');
    const { bars } = parseYahooCsv(text, f, 'yahoo-csv');
    longestSpanMs = Math.max(longestSpanMs, Date.parse(bars.at(-1)!.ts) - Date.parse(bars[0]!.ts));
    for (let c = 0; c < COPIES; c++) {
      const symbol = c === 0 ? f : `${f}-${c + 1}`;
      writeFileSync(path.join(dir, `${symbol}.csv`), text);
      rows += bars.length;
    }
  }
  return { dir, rows, speed: Math.ceil(longestSpanMs / (REPLAY_S * 1000)) };
}

/**
 * Every record of a topic, read from the beginning with a throwaway group until `count` arrived.
 * (Not test/support's `collect`: its eachMessage consumer stalled at 25,400 of 53,028 records here.)
 */
async function readAll(topic: string, count: number, timeoutMs: number): Promise<Buffer[]> {
  const consumer = kafkaClient('chaos-verifier').consumer({ groupId: uniqueId('verifier-'), maxBytes: 16 * 1024 * 1024 });
  const out: Buffer[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachBatch: async ({ batch }) => void out.push(...batch.messages.map((m) => m.value!)) });
    await waitFor(`${count} records on ${topic}`, () => out.length >= count, timeoutMs, 500);
    // Anything beyond `count` (a duplicate) still has to show up: give it a moment.
    await new Promise((r) => setTimeout(r, 3_000));
    return out;
  } finally {
    await consumer.disconnect();
  }
}

/** Total consumer lag of the pipeline's groups (FerretDB counts scan whole collections: the broker is the cheap progress gauge). */
async function pipelineLag(admin: Admin, prefix: string): Promise<{ total: number; parts: string }> {
  const topics = resolveTopics(prefix);
  const groups: Array<[string, string[]]> = [
    ['transformer', [topics.rawPrices]],
    ['predictor', [topics.features]],
    ['loader', [topics.cleanPrices, topics.features, topics.pricePredictions]],
  ];
  const lags = await Promise.all(groups.map(([g, ts]) => consumerLag(admin, `${prefix}${g}`, ts)));
  return { total: lags.reduce((a, b) => a + b, 0), parts: groups.map(([g], i) => `${g} ${lags[i]}`).join(', ') };
}

t('a > 50k-event replay survives kill -9 of every service, a broker and a database restart: nothing lost, nothing duplicated', async () => {
  const replay = writeReplayDir();
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
  const log: string[] = [];
  /** After the services' logs: the fault schedule, where the database server's goroutines wait (a stall logs nothing; it exits after the dump), and one line per service, last. */
  const onFailure = (failed: RunningStack) => {
    if (log.length > 0) console.log(`  fault schedule so far:\n    ${log.join('\n    ')}`);
    console.log('  database server stacks (the test has failed; the server exits after the dump):');
    infraStacks('mongo', failed.env);
    console.log(`  services (last lines of their logs):\n${logDigest(failed)}`);
  };
  await withStack({ services: [], env: { LOG_LEVEL: 'info', KAFKA_SESSION_TIMEOUT_MS: '10000', ...secrets }, logLines: 120, onFailure }, async (stack) => {
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
      // 1. The raw topic: exactly one record per CSV row.
      const raw = await readAll(topics.rawPrices, replay.rows, 10 * 60_000);
      const rawEnvs = raw.map((value) => decode('rawPrices', value));
      const bad = rawEnvs.filter((e) => !e.ok);
      assert.is(bad.length, 0, 'every raw record decodes');
      const envelopes = rawEnvs.map((e) => (e as { ok: true; envelope: { eventId: string; data: Omit<Bar, 'source'>; source: string } }).envelope);
      const rawIds = new Set(envelopes.map((e) => e.eventId));
      const rawDuplicates = envelopes.length - rawIds.size;
      assert.is(rawIds.size, replay.rows, 'one raw record per CSV row');
      assert.is(rawDuplicates, 0, 'no raw record twice');

      // 2. What one in-order pass of the pipeline yields for these bars.
      const bars = envelopes.map((e) => ({ ...e.data, source: e.source }) as Bar).sort((a, b) => a.symbol.localeCompare(b.symbol) || a.ts.localeCompare(b.ts));
      const expected = expectedForEvents(bars);
      const expectedPredictions = expectedPredictionsFor(expected.vectors, model, version, LOOKBACK);
      // Done when every group has committed everything (for 5 s in a row). A stage that stops making
      // progress for DRAIN_STALL_MS fails the test (liveness); a slow one is given time up to
      // DRAIN_MAX_MS: throughput is the benchmarks' business (docs/benchmarks.md), not this test's.
      let lag: { total: number; parts: string } | undefined;
      {
        const began = Date.now();
        let zeroSince = 0;
        let best = Number.POSITIVE_INFINITY;
        let progressAt = Date.now();
        for (;;) {
          lag = await pipelineLag(admin, stack.prefix).catch(() => lag);
          const total = lag?.total ?? Number.POSITIVE_INFINITY;
          if (total < best) {
            best = total;
            progressAt = Date.now();
          }
          if (total > 0) zeroSince = 0;
          else if (zeroSince === 0) zeroSince = Date.now();
          if (zeroSince > 0 && Date.now() - zeroSince >= 5_000) break;
          if (Date.now() - progressAt > DRAIN_STALL_MS) throw new Error(`no stage made progress for ${DRAIN_STALL_MS} ms: lag ${lag?.parts}`);
          if (Date.now() - began > DRAIN_MAX_MS) throw new Error(`not drained after ${DRAIN_MAX_MS} ms: lag ${lag?.parts}`);
          await new Promise((r) => setTimeout(r, 1_000));
        }
        console.log(`  drained ${((Date.now() - began) / 1000).toFixed(0)} s after the last fault`);
      }

      // 3. Exactly the expected documents.
      const storedBars = await db.collection(COLLECTIONS.bars).find({}).toArray();
      const storedFeatures = await db.collection(COLLECTIONS.features).find({}, { projection: { _id: 1, schemaHash: 1, values: 1 } }).toArray();
      const storedPredictions = await db.collection(COLLECTIONS.predictions).find({}).toArray();
      const expectedBarKeys = new Set(expected.barKeys);
      const report = (name: string, storedKeys: string[], expectedKeys: Set<string>) => {
        const seen = new Set(storedKeys);
        const lost = [...expectedKeys].filter((k) => !seen.has(k)).length;
        const duplicated = storedKeys.length - seen.size + [...seen].filter((k) => !expectedKeys.has(k)).length;
        return { name, stored: storedKeys.length, expected: expectedKeys.size, lost, duplicated };
      };
      // Natural keys recomputed from the fields (not the stored _id), so a duplicate under another _id would count.
      const natural = (d: Record<string, unknown>) => `${d.symbol}|${d.interval}|${d.ts}`;
      const rows = [
        report('bars', storedBars.map((b) => natural(b)), expectedBarKeys),
        report('features', storedFeatures.map((f) => String(f._id)), new Set(expected.vectors.keys())),
        report('predictions', storedPredictions.map((p) => `${p.symbol}|${p.interval}|${p.asOf}|${(p.model as { name: string }).name}|${(p.model as { version: number }).version}`), new Set(expectedPredictions.keys())),
      ];
      const barSum = sha(storedBars.map((b) => barLine(b as never)));
      const featureSum = sha(storedFeatures.map((f) => featureLine(f as never)));
      const { off, worst } = predictionsOff(storedPredictions as never, expectedPredictions, version);
      const restarts = stack.logs.filter((l) => l.includes('[supervisor] restarting')).length;
      const leaked = Object.entries(secrets).filter(([, value]) => stack.logs.some((l) => l.includes(value))).map(([k]) => k);
      console.log(
        [
          `  events: ${replay.rows} raw bars (${FILES.length} files × ${COPIES} symbols), ${rawDuplicates} duplicated on the raw topic`,
          `  faults: ${kills} kill -9, ${restartsOfInfra} infrastructure restarts (broker, database); ${restarts} service restarts by the supervisor`,
          ...rows.map((x) => `  ${x.name.padEnd(12)} stored ${x.stored} / expected ${x.expected}: lost = ${x.lost}, duplicated = ${x.duplicated}`),
          `  checksums: bars ${barSum === expected.barSum ? 'equal' : 'DIFFER'}, features ${featureSum === expected.featureSum ? 'equal' : 'DIFFER'}; predictions off by > 1e-4: ${off} (worst relative error ${worst.toExponential(1)})`,
          `  secrets found in ${stack.logs.length} log lines: ${leaked.length === 0 ? 'none' : leaked.join(', ')}`,
          `  total ${((Date.now() - started) / 1000).toFixed(0)} s`,
        ].join('\n'),
      );
      for (const x of rows) {
        assert.is(x.lost, 0, `${x.name}: lost`);
        assert.is(x.duplicated, 0, `${x.name}: duplicated`);
      }
      assert.is(barSum, expected.barSum, 'bar checksum');
      assert.is(featureSum, expected.featureSum, 'feature checksum');
      assert.is(off, 0, 'every prediction equals the model applied to the expected window');
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
    } finally {
      await stopAdmin();
      await mongo.close();
    }
  });
});

t.run();
