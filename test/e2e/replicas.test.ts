/**
 * Replicas of every stage: two transformers, two loaders and two predictors share 12-partition
 * topics (KAFKA_TOPIC_PARTITIONS=12). Real daily bars are replayed in three parts:
 *   1. the first part (the warm-up, the model's window and 20 bars more per symbol); once
 *      predictions are stored, one instance of each stage is SIGKILLed (the supervisor brings it back) and
 *   2. the second part is produced while they restart;
 *   3. with every instance back, WebSocket clients connect to both predictors and the last part
 *      is produced.
 * Then: MongoDB holds exactly what one in-order pass yields (bars and features: counts and
 * checksums; predictions: one per full window, each equal to the model applied in process to the
 * expected window); each WebSocket client received every prediction of part 3; gRPC Predict gives
 * the same answer on both replicas for every symbol; and after a second restart of the same
 * predictor, the broker holds one broadcast group per predictor, not one per start.
 */
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { COLLECTIONS } from '@stock-mlops/load';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { PIPELINE_SCHEMA, WARMUP_BARS, type Bar } from '@stock-mlops/transform';
import { suite } from '../harness/index.ts';
import { freePort, kafkaClient, mongoClient, waitFor, withStack, type RunningStack } from '../support/stack.ts';
import {
  createTopics,
  expectedFor,
  expectedPredictions,
  interleave,
  predictionsOff,
  produceRaw,
  rawPriceMessage,
  serviceEnv,
  sharedBars,
  startService,
  waitForExact,
} from '../support/replay.ts';
import { clients, type Clients } from '../support/predictor/grpc_client.ts';
import { promote, randomPriceModel } from '../support/predictor/fixtures.ts';
import { connectWs, type WsTestClient } from '../support/ws.ts';

const PARTITIONS = 12;
const FILES = ['AAPL', 'GOOG', 'MSFT', 'SPY'];
/** Each file under this many symbol names: 12 symbols spread over the 12 partitions. */
const COPIES = 3;
/** Bars per symbol: the transformer's warm-up, the model's window, then predictions. */
const BARS = 150;
const LOOKBACK = 10;
const t = suite('e2e: two instances of every stage on 12 partitions, one of each killed and back', { timeoutMs: 600_000 });

type Prediction = { symbol: string; interval: string; asOf: string; predictedReturn: number; model: { name: string; version: number } };
/** A gRPC PricePrediction (camelCase field names). */
type Answer = { symbol: string; asOf: string; predictedReturn: number; modelVersion: number; latencyMs: number };
const predictionKey = (p: { symbol: string; interval: string; asOf: string }) => `${p.symbol}|${p.interval}|${p.asOf}`;

/** How many times a named instance logged that it started serving (each start after a kill adds one). */
function starts(stack: RunningStack, name: string, msg: string): number {
  return stack.logs.filter((l) => l.startsWith(`${name}| `) && l.includes(`"msg":"${msg}"`)).length;
}

const STARTED: Record<string, string> = { transformer: 'transformer running', loader: 'loader running', predictor: 'predictor started' };

t('outputs equal one instance; every WebSocket client sees every prediction; Predict agrees across replicas; broadcast groups do not pile up', async () => {
  const symbols = FILES.flatMap((f) => Array.from({ length: COPIES }, (_, c) => ({ file: f, symbol: c === 0 ? f : `${f}-${c + 1}` })));
  const series: Bar[][] = symbols.map(({ file, symbol }, i) => sharedBars(file, BARS, 200 * (i % COPIES)).map((b) => ({ ...b, symbol })));
  const messages = interleave(series).map(rawPriceMessage);
  const expected = expectedFor(series.flat());
  // Part 1 must hold the transformer's warm-up and the model's window (WARMUP_BARS + LOOKBACK,
  // 71 bars) and then some, so that predictions are stored before the kills; parts 2 and 3 split the rest.
  const firstBars = WARMUP_BARS + LOOKBACK + 20;
  const rest = Math.ceil((BARS - firstBars) / 2);
  const cut = (bars: number) => bars * symbols.length;
  const [part1, part2, part3] = [messages.slice(0, cut(firstBars)), messages.slice(cut(firstBars), cut(firstBars + rest)), messages.slice(cut(firstBars + rest))];
  const part3Keys = new Set(part3.map((m) => JSON.parse(m.value) as { data: { symbol: string; interval: string; ts: string } }).map((e) => predictionKey({ ...e.data, asOf: e.data.ts })));
  const lastTs = new Map(series.map((bars) => [bars[0]!.symbol, bars.at(-1)!.ts]));
  const slots = mkdtempSync(path.join(tmpdir(), 'stock-mlops-slots-'));
  const ports = { a: { grpc: await freePort(), ws: await freePort() }, b: { grpc: await freePort(), ws: await freePort() } };

  await withStack(
    { services: [], env: { ...serviceEnv(0), KAFKA_TOPIC_PARTITIONS: String(PARTITIONS), INSTANCE_STATE_DIR: slots, MODEL_POLL_MS: '600000' }, logLines: 120 },
    async (stack) => {
      await createTopics(stack.prefix, PARTITIONS);
      const mongo = await mongoClient();
      const admin = kafkaClient('replicas-admin').admin();
      await admin.connect();
      const ws: WsTestClient[] = [];
      const grpcs: Clients[] = [];
      try {
        const db = mongo.db(stack.db);
        const model = await randomPriceModel(7, { lookback: LOOKBACK, nFeatures: PIPELINE_SCHEMA.names.length, schemaHash: PIPELINE_SCHEMA.hash, zeroMean: true, scale: 0.2 });
        const version = await promote(new ModelStore(db), 'price', await model.serialize(), PIPELINE_SCHEMA.hash);
        const wanted = expectedPredictions(expected.vectors, model, version, LOOKBACK);
        assert.ok([...part3Keys].filter((k) => wanted.has(`${k}|price|${version}`)).length > 0, 'part 3 has predictions to stream');

        await produceRaw(stack.prefix, part1);
        for (const x of ['a', 'b'] as const) {
          startService(stack, 'transformer', `transformer-${x}`);
          startService(stack, 'loader', `loader-${x}`);
          startService(stack, 'predictor', `predictor-${x}`, { GRPC_PORT: String(ports[x].grpc), WS_PORT: String(ports[x].ws) });
        }
        const predictions = db.collection(COLLECTIONS.predictions);
        await waitFor('the first stored predictions', async () => (await predictions.countDocuments()) > 0, 300_000, 250);
        // Kill only instances that have started (under load one can still be starting when the
        // other's predictions are stored), and count the starts from there.
        const stages = ['transformer', 'loader', 'predictor'] as const;
        for (const s of stages) for (const x of ['a', 'b']) await waitFor(`${s}-${x} started`, () => starts(stack, `${s}-${x}`, STARTED[s]!) >= 1, 180_000, 250);
        const before = Object.fromEntries(stages.map((s) => [s, starts(stack, `${s}-a`, STARTED[s]!)]));
        for (const s of stages) stack.sup.kill(`${s}-a`);
        await produceRaw(stack.prefix, part2);
        for (const s of stages) await waitFor(`${s}-a back`, () => starts(stack, `${s}-a`, STARTED[s]!) > before[s]!, 180_000, 250);

        for (const x of ['a', 'b'] as const) {
          const c = await waitFor(`predictor-${x} WebSocket`, () => connectWs(`ws://127.0.0.1:${ports[x].ws}/ws`).catch(() => undefined), 60_000, 500);
          c.ws.send(JSON.stringify({ op: 'subscribe', symbols: ['*'] }));
          await c.next((f) => f.type === 'subscribed', 10_000);
          ws.push(c);
        }
        await produceRaw(stack.prefix, part3);

        // 1. MongoDB: exactly one in-order pass of the pipeline and of the model.
        const got = await waitForExact(db, expected, 240_000);
        assert.is(got.duplicateBarKeys, 0);
        await waitFor('every prediction stored', async () => (await predictions.countDocuments()) >= wanted.size, 120_000, 1_000);
        const stored = (await predictions.find({}).toArray()) as unknown as Prediction[];
        const storedKeys = stored.map((p) => `${predictionKey(p)}|${p.model.name}|${p.model.version}`);
        const lost = [...wanted.keys()].filter((k) => !storedKeys.includes(k));
        const extra = storedKeys.length - new Set(storedKeys).size + storedKeys.filter((k) => !wanted.has(k)).length;
        const { off, worst } = predictionsOff(stored, wanted, version);
        assert.equal(lost, [], 'no prediction lost');
        assert.is(extra, 0, 'no prediction duplicated or unexpected');
        assert.is(off, 0, `every prediction equals the model on the expected window (worst relative error ${worst})`);

        // 2. Both predictors' WebSocket clients received every prediction of part 3.
        const part3Wanted = [...part3Keys].filter((k) => wanted.has(`${k}|price|${version}`));
        for (const [i, c] of ws.entries()) {
          const seen = () => new Set(c.frames.filter((f) => f.type === 'prediction').map((f) => predictionKey(f.data as Prediction)));
          await waitFor(`WebSocket client of predictor-${'ab'[i]} to see part 3`, () => part3Wanted.every((k) => seen().has(k)) || undefined, 60_000, 500).catch(() => undefined);
          const missing = part3Wanted.filter((k) => !seen().has(k));
          assert.equal(missing.slice(0, 5), [], `predictor-${'ab'[i]}'s client missed ${missing.length} of ${part3Wanted.length} predictions`);
        }

        // 3. A second restart of the same predictor; then one broadcast group per predictor.
        const startsBefore = starts(stack, 'predictor-a', STARTED.predictor!);
        stack.sup.kill('predictor-a');
        await waitFor('predictor-a back again', () => starts(stack, 'predictor-a', STARTED.predictor!) > startsBefore, 180_000, 250);
        const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(stack.prefix));
        const broadcast = groups.filter((g) => g.startsWith(`${stack.prefix}predictor-broadcast-`));
        const modelGroups = groups.filter((g) => g.startsWith(`${stack.prefix}predictor-models-`));
        assert.is(broadcast.length, 2, `broadcast groups after 3 starts of predictor-a: ${broadcast.join(', ')}`);
        assert.is(modelGroups.length, 2, `model-event groups: ${modelGroups.join(', ')}`);

        // 4. gRPC Predict: the same answer from both replicas, for every symbol, owned or not.
        grpcs.push(clients(ports.a.grpc), clients(ports.b.grpc));
        const ask = (c: Clients, symbol: string) => c.domain<{ prediction: Answer }>('Predict', { symbol }, { deadlineMs: 10_000 }).then((r) => r.prediction);
        for (const { symbol } of symbols) {
          const answers = await waitFor(
            `both replicas to know ${symbol}'s last prediction`,
            async () => {
              const both = await Promise.all(grpcs.map((c) => ask(c, symbol).catch(() => undefined)));
              return both.every((p) => p?.asOf === lastTs.get(symbol)) ? (both as Answer[]) : undefined;
            },
            60_000,
            500,
          );
          assert.equal(answers[0], answers[1], `${symbol}: predictor-a and predictor-b answer alike`);
          assert.is(answers[0]!.modelVersion, version);
        }
        const assigned = (name: string) => stack.logs.filter((l) => l.startsWith(`${name}| `) && l.includes('partitions assigned')).length;
        console.log(
          `  ${messages.length} bars (${symbols.length} symbols), ${got.features} features, ${stored.length} predictions identical to one instance; ` +
            `kills: transformer-a, loader-a, predictor-a (twice); transformer rebalances logged: a ${assigned('transformer-a')}, b ${assigned('transformer-b')}; ` +
            `WebSocket: ${part3Wanted.length} part-3 predictions on both; groups: ${broadcast.join(', ')}`,
        );
      } finally {
        for (const c of ws) c.ws.close();
        for (const c of grpcs) c.close();
        await admin.disconnect();
        await mongo.close();
        rmSync(slots, { recursive: true, force: true });
      }
    },
  );
});

t.run();
