/**
 * The predictor survives a consumer-group coordinator error in process. The real predictor is
 * frozen (SIGSTOP) for longer than its session timeout, so the broker evicts it from its groups
 * while features keep arriving; once it runs again (SIGCONT) its in-flight batch's commit is
 * refused ("The coordinator is not aware of this member", the error that used to end the
 * service) or its heartbeat is. The same process must rejoin (kafkajs by itself after a heartbeat
 * error; runConsumer, warning E_CONSUMER_REJOIN, after a refused commit) and go on predicting:
 * every feature vector with a full window gets its prediction, and the supervisor never
 * restarts it.
 */
import * as assert from 'uvu/assert';
import { encode, makeEnvelope, resolveTopics, type FeatureVector, type PricePrediction } from '@stock-mlops/contracts';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { suite } from '../harness/index.ts';
import { collect, freePort, kafkaClient, mongoClient, waitFor, withStack } from '../support/stack.ts';
import { exitWhenDone, featureSeries, LOOKBACK, promote, randomPriceModel, storeSyntheticSchema } from '../support/predictor/fixtures.ts';

const t = suite('predictor rejoins its consumer groups after being evicted', { timeoutMs: 240_000 });
const SESSION_TIMEOUT_MS = 6_000;

t('SIGSTOP past the session timeout, SIGCONT: same pid, recovery warning, no fatal, predictions for every new feature', async () => {
  await withStack({
    services: ['predictor'],
    perService: {
      predictor: {
        GRPC_PORT: String(await freePort()),
        WS_PORT: String(await freePort()),
        MODEL_POLL_MS: '1000',
        LOG_LEVEL: 'info',
        KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
      },
    },
    logLines: 120,
  }, async (stack, defer) => {
    const topics = resolveTopics(stack.prefix);
    const mongo = await mongoClient();
    defer(() => mongo.close());
    const kafka = kafkaClient('rejoin-test');
    const producer = kafka.producer();
    await producer.connect();
    defer(() => producer.disconnect());
    const admin = kafka.admin();
    await admin.connect();
    defer(() => admin.disconnect());
    const send = (vectors: FeatureVector[]) =>
      producer.send({ topic: topics.features, messages: vectors.map((fv) => encode('features', makeEnvelope('features', { data: fv, source: 'test', idParts: [fv.symbol, fv.ts] }))) });
    await promote(new ModelStore(mongo.db(stack.db)), 'price', await (await randomPriceModel(11)).serialize());
    await storeSyntheticSchema(mongo.db(stack.db));
    await waitFor('the predictor to listen', () => stack.logs.some((l) => l.includes('predictor listening')), 90_000);
    const out = await collect([topics.pricePredictions], 'rejoin-out');
    defer(() => out.stop());
    const predictedAsOf = () => new Set(out.messages.map((m) => (JSON.parse(m.m.value!.toString()) as { data: PricePrediction }).data.asOf));
    const series = featureSeries('AAA', 30, 5);
    const expectAll = async (upTo: number, what: string) => {
      const want = series.slice(LOOKBACK - 1, upTo).map((f) => f.ts);
      await waitFor(what, () => want.every((ts) => predictedAsOf().has(ts)), 90_000, 200);
    };

    await send(series.slice(0, 12));
    await expectAll(12, 'predictions before the pause');
    const pid = stack.sup.pid('predictor')!;
    assert.ok(pid > 0);

    // Frozen: no heartbeats. Features arrive meanwhile, so the predictor resumes inside a batch.
    process.kill(pid, 'SIGSTOP');
    let stopped = true;
    defer(async () => {
      if (stopped) process.kill(pid, 'SIGCONT');
    });
    await send(series.slice(12, 20));
    const group = `${stack.prefix}predictor`;
    await waitFor(
      'the broker to evict the frozen predictor from its group',
      async () => {
        const [g] = (await admin.describeGroups([group])).groups;
        return g !== undefined && g.members.length === 0;
      },
      SESSION_TIMEOUT_MS * 5,
      500,
    );
    process.kill(pid, 'SIGCONT');
    stopped = false;

    await expectAll(20, 'predictions of the features sent during the pause');
    await send(series.slice(20));
    await expectAll(30, 'predictions of the features sent after the pause');

    assert.is(stack.sup.pid('predictor'), pid, 'the same process serves: no restart');
    assert.not.ok(stack.logs.some((l) => l.includes('[supervisor] predictor exited')), 'the supervisor saw no exit');
    assert.not.ok(stack.logs.some((l) => l.includes('"level":"fatal"') || l.includes('E_CONSUMER_FATAL')), 'nothing fatal was logged');
    // The coordinator error happened: the broker no longer knew the frozen member.
    assert.ok(stack.logs.some((l) => l.includes('The coordinator is not aware of this member')), 'the broker refused the evicted member');
    // Two recoveries are possible, depending on what the thawed process sends first: a heartbeat
    // (kafkajs rejoins by itself) or the in-flight batch's commit (a KafkaJSNonRetriableError
    // that used to end the service: runConsumer rejoins, warning E_CONSUMER_REJOIN). Either way
    // the same process went on predicting (above); a crash, when there was one, was recovered.
    const rejoins = stack.logs.filter((l) => l.includes('"code":"E_CONSUMER_REJOIN"'));
    assert.ok(rejoins.every((l) => l.includes('"level":"warn"')));
    if (rejoins.length > 0) assert.ok(stack.logs.some((l) => l.includes('consumer rejoined its group')), 'a crash was followed by a rejoin');
    console.log(`  recovery: ${rejoins.length > 0 ? `runConsumer rejoined after ${rejoins.length} crash(es) (${[...new Set(rejoins.map((l) => /"reason":"(\w+)"/.exec(l)?.[1]))].join(', ')})` : "kafkajs rejoined after the heartbeat's error (no crash)"}`);
  });
});

t.after(() => {
  exitWhenDone();
});

t.run();
