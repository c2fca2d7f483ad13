/**
 * Shadow scoring of the challenger (packages/ml/src/inference/shadow_scorer.ts) with stub models:
 * the same event ids and the challenger's version on the shadow predictions, offers that never
 * wait, a bounded queue that drops its oldest batches when full, failing or slow batches dropped
 * and counted, the challenger dropped after repeated failures and freed once its batches are done;
 * and with the real inference queue (its idle lane): production batches before challenger ones,
 * a complete shadow stream when production leaves idle time, production answered throughout while
 * a slow or throwing challenger is dropped.
 */
import * as assert from 'uvu/assert';
import type { PricePrediction } from '@stock-mlops/contracts';
import { suite } from '../../harness/index.ts';
import { ServingPriceModel, type PriceRunner } from '@stock-mlops/ml/inference/predictor';
import { ShadowScorer, type ShadowDropReason, type ShadowOutput, type ShadowScorerOptions } from '@stock-mlops/ml/inference/shadow_scorer';
import { createPriceInference } from '@stock-mlops/ml/inference/price_inference';
import type { PriceModelMeta } from '@stock-mlops/ml/models/price_predictor';

const t = suite('predictor: shadow scorer');
const LOOKBACK = 2;
const NF = 3;

/** A stub price runner: output = the first normalized feature of the last step × `gain`, after `delayMs`; `fail` makes it throw; `calls` logs each call's version and size. */
function stubModel(version: number, behaviour: { gain?: number; delayMs?: number; fail?: boolean; calls?: string[] } = {}): ServingPriceModel & { freed: () => boolean } {
  const meta = { config: { lookback: LOOKBACK, horizon: 1 }, nFeatures: NF, featureSchemaHash: 'h', featureMean: [0, 0, 0], featureStd: [1, 1, 1], targetScale: 1 } as unknown as PriceModelMeta;
  let disposed = false;
  const runner: PriceRunner = {
    meta,
    remote: true,
    async forward(x, n) {
      behaviour.calls?.push(`v${version}×${n}`);
      if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
      if (behaviour.fail) throw Object.assign(new Error('stub failure'), { code: 'E_STUB' });
      return Float32Array.from({ length: n }, (_, i) => x[i * LOOKBACK * NF + (LOOKBACK - 1) * NF]! * (behaviour.gain ?? 1));
    },
    dispose: () => (disposed = true),
  };
  return Object.assign(new ServingPriceModel({ name: 'price', version }, runner), { freed: () => disposed });
}

function production(symbol: string, i: number): { prediction: PricePrediction; eventId: string } {
  return {
    prediction: {
      symbol,
      interval: '1d',
      asOf: `2024-01-0${i + 1}T00:00:00.000Z`,
      horizon: 1,
      lastClose: 100,
      predictedReturn: 0.001,
      predictedPrice: 100.1,
      model: { name: 'price', version: 1 },
      featureSchemaHash: 'h',
      latencyMs: 1,
    },
    eventId: `event-${symbol}-${i}`,
  };
}

function harness(challenger: ServingPriceModel | undefined, over: Partial<ShadowScorerOptions> = {}) {
  const published: ShadowOutput[] = [];
  const drops: Array<[ShadowDropReason, number]> = [];
  const failed: Array<[number, string]> = [];
  let current = challenger;
  const scorer = new ShadowScorer({
    maxQueue: 100,
    timeoutMs: 1000,
    maxFailures: 2,
    challenger: () => current,
    // The window ends at the as-of day: its last step's first feature is the day number.
    window: (_m, _symbol, asOf) => [
      [0, 0, 0],
      [Number(asOf.slice(8, 10)), 0, 0],
    ],
    publish: async (out) => void published.push(...out),
    onDropped: (reason, n) => void drops.push([reason, n]),
    onChallengerFailed: (model, reason) => {
      failed.push([model.ref.version, reason]);
      current = undefined;
    },
    ...over,
  });
  return { scorer, published, drops, failed, setChallenger: (m: ServingPriceModel | undefined) => (current = m) };
}

t('shadow predictions carry the production event ids and the challenger version, with the challenger own numbers', async () => {
  const h = harness(stubModel(7, { gain: 0.01 }));
  h.scorer.offer([production('AAPL', 0), production('MSFT', 1)]);
  await h.scorer.idle();
  assert.equal(h.published.map((o) => [o.eventId, o.prediction.symbol, o.prediction.model.version, o.prediction.asOf]), [
    ['event-AAPL-0', 'AAPL', 7, '2024-01-01T00:00:00.000Z'],
    ['event-MSFT-1', 'MSFT', 7, '2024-01-02T00:00:00.000Z'],
  ]);
  assert.equal(h.published.map((o) => Number(o.prediction.predictedReturn.toFixed(4))), [0.01, 0.02]);
  assert.is(h.published[1]!.prediction.predictedPrice, 100 * (1 + h.published[1]!.prediction.predictedReturn));
  assert.equal(h.drops, []);
});

t('no challenger: offers are ignored; the offer returns before the challenger has run', async () => {
  const none = harness(undefined);
  none.scorer.offer([production('AAPL', 0)]);
  await none.scorer.idle();
  assert.equal([none.published.length, none.drops.length], [0, 0]);
  const slow = harness(stubModel(2, { delayMs: 50 }));
  slow.scorer.offer([production('AAPL', 0)]);
  assert.is(slow.published.length, 0, 'nothing scored synchronously');
  assert.is(slow.scorer.depth, 0, 'the batch is being scored');
  await slow.scorer.idle();
  assert.is(slow.published.length, 1);
});

t('a full queue drops its oldest batches to make room (counted as overflow): the newest are scored, an offer never waits', async () => {
  const h = harness(stubModel(2, { delayMs: 30 }), { maxQueue: 3 });
  h.scorer.offer([production('A', 0)]); // being scored
  h.scorer.offer([production('B', 0), production('B', 1)]); // queued: 2
  h.scorer.offer([production('C', 0)]); // queued: 3
  h.scorer.offer([production('D', 0), production('D', 1)]); // 3 + 2 > 3: B (the oldest) goes
  assert.equal(h.drops, [['overflow', 2]]);
  assert.is(h.scorer.depth, 3);
  h.scorer.offer([production('E', 0), production('E', 1), production('E', 2), production('E', 3)]); // larger than the queue: its newest 3 stay
  assert.equal(h.drops, [['overflow', 2], ['overflow', 4]]);
  await h.scorer.idle();
  assert.equal(h.published.map((o) => o.eventId), ['event-A-0', 'event-E-1', 'event-E-2', 'event-E-3']);
});

t('a slow challenger times out, a failing one errors; after maxFailures in a row it is dropped and freed, the next one scores', async () => {
  const slow = stubModel(3, { delayMs: 200 });
  const h = harness(slow, { timeoutMs: 20 });
  h.scorer.offer([production('A', 0)]);
  h.scorer.offer([production('A', 1)]);
  h.scorer.offer([production('A', 2)]); // queued behind the two failures: dropped with the challenger
  await h.scorer.idle();
  assert.equal(h.drops, [['timeout', 1], ['timeout', 1], ['challenger_dropped', 1]]);
  assert.equal(h.failed, [[3, 'timeout']]);
  assert.is(h.published.length, 0);
  slow.retire(); // what the catalog does when it drops the challenger
  assert.ok(slow.freed(), 'freed once no batch holds it');

  const failing = stubModel(4, { fail: true });
  h.setChallenger(failing);
  h.scorer.offer([production('B', 0), production('B', 1)]);
  await h.scorer.idle();
  assert.equal(h.drops.at(-1), ['error', 2]);
  assert.equal(h.failed.length, 1, 'one failure in a row is not enough after a reset');
  h.setChallenger(stubModel(5));
  h.scorer.offer([production('C', 0)]);
  await h.scorer.idle();
  assert.equal(h.published.map((o) => [o.eventId, o.prediction.model.version]), [['event-C-0', 5]]);
});

/** The shared inference queue (as the predictor has it) and one production window per symbol. */
function productionQueue() {
  const inference = createPriceInference({ maxBatch: 64, maxDelayMs: 0, maxQueue: 1000, pipelined: true });
  const window = (day: number) => [
    [0, 0, 0],
    [day, 0, 0],
  ];
  return { inference, window };
}

t('production first: a closed production loop on the inference queue runs before any challenger batch; once idle, the newest shadow batches are scored', async () => {
  const calls: string[] = [];
  const champion = stubModel(1, { calls });
  const { inference, window } = productionQueue();
  const h = harness(stubModel(2, { calls, gain: 2 }), { maxQueue: 3, whenIdle: inference.whenIdle });
  const answers: number[] = [];
  for (let i = 0; i < 8; i++) {
    const out = await inference.run([{ model: champion, window: window(i + 1) }], { wait: true });
    answers.push(out[0]!.value);
    h.scorer.offer([production(`S${i}`, 0)]); // as the feature consumer does after publishing, then the next batch
  }
  assert.equal(answers, [1, 2, 3, 4, 5, 6, 7, 8], 'production answers are its own');
  await h.scorer.idle();
  assert.equal(calls, ['v1×1', 'v1×1', 'v1×1', 'v1×1', 'v1×1', 'v1×1', 'v1×1', 'v1×1', 'v2×1', 'v2×1', 'v2×1'], 'every production batch before any challenger one');
  assert.equal(h.published.map((o) => o.eventId), ['event-S5-0', 'event-S6-0', 'event-S7-0'], 'the newest 3 (the queue size) are scored');
  assert.equal(h.drops, [['overflow', 1], ['overflow', 1], ['overflow', 1], ['overflow', 1], ['overflow', 1]]);
  inference.close();
});

t('production first: with idle time between production batches, every production prediction gets its shadow prediction', async () => {
  const calls: string[] = [];
  const champion = stubModel(1, { calls });
  const { inference, window } = productionQueue();
  const h = harness(stubModel(2, { calls }), { whenIdle: inference.whenIdle });
  for (let i = 0; i < 5; i++) {
    await inference.run([{ model: champion, window: window(i + 1) }], { wait: true });
    h.scorer.offer([production(`S${i}`, 0)]);
    await new Promise((r) => setTimeout(r, 5)); // the stream path publishes and checkpoints: the queue is idle meanwhile
  }
  await h.scorer.idle();
  assert.equal(h.published.map((o) => o.eventId), ['event-S0-0', 'event-S1-0', 'event-S2-0', 'event-S3-0', 'event-S4-0']);
  assert.equal(h.drops, []);
  inference.close();
});

for (const kind of ['slow', 'throwing'] as const) {
  t(`a ${kind} challenger on the inference queue is dropped after maxFailures, counted, while production keeps serving`, async () => {
    const champion = stubModel(1);
    const challenger = stubModel(9, kind === 'slow' ? { delayMs: 300 } : { fail: true });
    const { inference, window } = productionQueue();
    const h = harness(challenger, { whenIdle: inference.whenIdle, timeoutMs: 20, maxFailures: 2 });
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) {
      const out = await inference.run([{ model: champion, window: window(i + 1) }], { wait: true });
      answers.push(out[0]!.value);
      h.scorer.offer([production(`S${i}`, 0)]);
      await new Promise((r) => setTimeout(r, 30)); // idle time: the challenger gets its turns
    }
    await h.scorer.idle();
    const reason = kind === 'slow' ? 'timeout' : 'error';
    assert.equal(answers, [1, 2, 3, 4, 5, 6], 'production answered every batch with its own numbers');
    assert.equal(h.failed, [[9, reason]], 'the challenger was dropped once');
    assert.equal(h.drops.slice(0, 2), [[reason, 1], [reason, 1]]);
    assert.is(h.published.length, 0);
    inference.close();
  });
}

t('a publish failure drops that batch but is not held against the challenger', async () => {
  let fail = true;
  const h = harness(stubModel(6), {
    maxFailures: 1,
    publish: async () => {
      if (fail) throw new Error('broker down');
    },
  });
  h.scorer.offer([production('A', 0)]);
  await h.scorer.idle();
  assert.equal([h.drops, h.failed], [[['publish', 1]], []]);
  fail = false;
  h.scorer.offer([production('A', 1)]);
  await h.scorer.idle();
  assert.equal(h.drops.length, 1);
});

t('close drops what is queued and releases the models', async () => {
  const m = stubModel(8, { delayMs: 20 });
  const h = harness(m);
  h.scorer.offer([production('A', 0)]);
  h.scorer.offer([production('A', 1)]);
  h.scorer.close();
  m.retire();
  await h.scorer.idle();
  assert.is(h.published.length, 1, 'the batch in flight finishes');
  assert.ok(m.freed());
  h.scorer.offer([production('A', 2)]);
  assert.is(h.scorer.depth, 0, 'no offers after close');
});

t.run();
