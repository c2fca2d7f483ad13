/**
 * Champion and challenger on the live stream, end to end: the real trainer, transformer,
 * predictor and monitor processes on the real broker and database, real daily bars replayed into
 * the raw prices topic. Two runs, each on its own topic prefix and database.
 *
 *   run 1  The trainer trains the LSTM on the bundled CSV files (data/prices, bootstrap config,
 *          through the gate). The weak production model is the persistence forecast
 *          ("tomorrow's return = today's return", models/price_variants.ts), registered as a
 *          version and promoted by hand; the LSTM is set as challenger. Why persistence and not
 *          the zero-return baseline: the LSTM nearly ties the zero forecast in MAE (0.998–1.000×
 *          in issue 14; 0.995× offline on AMZN 2020-01-30 → 2021-04-22), so a decision on
 *          absolute errors could go either way; persistence errs ~1.5× as much as the LSTM there
 *          (MAE 0.0256 vs 0.0172, measured before this test was written).
 *          Replayed: AMZN from 2020-04-01 — another ticker than the bundled ones, and every
 *          outcome the monitor compares lies after the last training date (2020-08-28, the
 *          bundled SPY file's end; both versions' outcomes count only after the later training
 *          window). The monitor (promotion on, Diebold–Mariano on absolute losses, N = 60 paired
 *          outcomes instead of 200, so the test stays short) promotes the LSTM with a
 *          `challenger_promoted` event and its evidence; the registry's production alias moves;
 *          the predictor hot-swaps; the bars of Feb–Apr 2021 are then predicted by the LSTM.
 *   run 2  Production is that LSTM (its artifacts registered in run 2's database), the challenger
 *          the same network with its outputs multiplied by −10 (sign-flipped and far too
 *          confident: `rescaledPriceArtifacts`). Same replay: the monitor keeps production
 *          (`challenger_kept` with the evidence), the alias does not move, and later predictions
 *          still carry the production version.
 *
 * The measured figures of both runs are printed (and quoted in docs/models.md); no assertion
 * depends on timing.
 */
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { MongoClient } from 'mongodb';
import { resolveTopics, type Envelope, type PricePrediction } from '@stock-mlops/contracts';
import { promoteVersion } from '@stock-mlops/ml/ml_service';
import { setChallenger } from '@stock-mlops/ml/registry/challenger';
import { ModelStore, type ModelVersion } from '@stock-mlops/ml/registry/model_store';
import { persistencePriceModel, rescaledPriceArtifacts } from '@stock-mlops/ml/models/price_variants';
import { initTf } from '@stock-mlops/ml/tf';
import { parseYahooCsv, PIPELINE_SCHEMA, type Bar } from '@stock-mlops/transform';
import { serviceSpec } from '../../scripts/lib/supervisor.ts';
import { suite } from '../harness/index.ts';
import { collect, freePort, mongoClient, reportingFailures, startStack, waitFor, type RunningStack } from '../support/stack.ts';
import { createTopics, produceRaw, rawPriceMessage, serviceEnv } from '../support/replay.ts';
import { sharedDataDir } from '../support/monitor.ts';

const t = suite('e2e: champion and challenger on the live stream (promotion on live evidence; a bad challenger kept out)', { timeoutMs: 600_000 });

const SYMBOL = 'AMZN';
const bars: Bar[] = parseYahooCsv(readFileSync(path.join(sharedDataDir, 'prices', `${SYMBOL}.csv`), 'utf8'), SYMBOL, 'yahoo-csv').bars;
const between = (from: string, to: string) => bars.filter((b) => b.ts >= from && b.ts < to);
/** Warm-up (features need 61 bars, the model 20 feature rows) and the live stretch the decision is made on. */
const phaseA = between('2020-04-01', '2021-02-01');
/** After the decision: whose version predicts these? */
const phaseB = between('2021-02-01', '2021-04-24');

const MIN_OUTCOMES = 60;
const MONITOR_ENV = {
  MONITOR_EVAL_MS: '1000',
  MONITOR_PROMOTION: 'on',
  MONITOR_PROMOTION_METRIC: 'dm_absolute',
  MONITOR_PROMOTION_MIN_OUTCOMES: String(MIN_OUTCOMES),
  MONITOR_PROMOTION_COOLDOWN_MS: '600000',
  // Drift and the performance triggers (retrain requests) stay out of this test.
  MONITOR_FEATURE_DRIFT_SHARE: 'off',
  MONITOR_PREDICTION_PSI: 'off',
  MONITOR_MIN_DIRECTIONAL_ACCURACY: 'off',
  MONITOR_MIN_IC: 'off',
  MONITOR_MAX_MAPE_RATIO: 'off',
  LOG_LEVEL: 'info',
};

type Any = Record<string, any>;
const ctx: { mongo?: MongoClient; stacks: RunningStack[]; stop: Array<() => Promise<void>>; lstm?: { doc: ModelVersion; artifacts: Awaited<ReturnType<ModelStore['loadArtifacts']>> } } = { stacks: [], stop: [] };
const figures: string[] = [];

const dataOf = (m: { m: { value: Buffer | null } }) => (JSON.parse(m.m.value!.toString()) as Envelope<Any>).data;
const logged = (stack: RunningStack, svc: string, msg: string, version?: number) =>
  stack.logs.some((l) => l.startsWith(`${svc}|`) && l.includes(`"msg":"${msg}"`) && (version === undefined || l.includes(`"version":${version},`)));

/** Start the serving side of a run: transformer, predictor, monitor, and collectors on its topics. */
async function serve(stack: RunningStack) {
  const topics = resolveTopics(stack.prefix);
  const out = await collect([topics.pricePredictions, topics.pricePredictionsShadow, topics.monitorEvents, topics.modelEvents], 'champ-chal');
  ctx.stop.push(out.stop);
  stack.sup.start(serviceSpec('transformer', { HTTP_PORT: '0', ...serviceEnv(2) }));
  stack.sup.start(serviceSpec('predictor', { HTTP_PORT: '0', GRPC_PORT: String(await freePort()), WS_PORT: String(await freePort()), MODEL_POLL_MS: '5000', LOG_LEVEL: 'info' }));
  stack.sup.start(serviceSpec('monitor', { HTTP_PORT: '0', MONITOR_GRPC_PORT: String(await freePort()), ...MONITOR_ENV }));
  const of = (topic: string) => out.messages.filter((m) => m.topic === topic).map(dataOf);
  return {
    predictions: () => of(topics.pricePredictions) as PricePrediction[],
    shadow: () => of(topics.pricePredictionsShadow) as PricePrediction[],
    decisions: () => of(topics.monitorEvents).filter((e) => e.kind === 'challenger_promoted' || e.kind === 'challenger_kept'),
  };
}

const fmt = (x: number | undefined, d = 3) => (typeof x === 'number' ? x.toFixed(d) : 'n/a');
function describe(run: string, e: Any, seconds: number): string {
  const v = e.evidence as Record<string, number>;
  return (
    `${run}: ${e.kind} after ${seconds.toFixed(0)} s from the first bar — ${v.pairedOutcomes} joined outcomes; MAE ratio (challenger/production) ${fmt(v.maeRatio)}, ` +
    `RMSE ratio ${fmt(v.rmseRatio)}; IC production ${fmt(v.productionIc)}, challenger ${fmt(v.challengerIc)}; MAE vs zero production ${fmt(v.productionMaeVsZero)}, challenger ${fmt(v.challengerMaeVsZero)}; ` +
    `DM (HLN, absolute loss) ${fmt(v.dmHlnStatistic, 2)}, one-sided p ${v.dmPValue?.toExponential(2)}`
  );
}

t('run 1: the trained LSTM, challenging a weak persistence model, is promoted on live evidence and the predictor swaps', async () => {
  ctx.mongo = await mongoClient();
  const stack = startStack({ services: [] });
  ctx.stacks.push(stack);
  await reportingFailures(stack, async () => {
    const store = new ModelStore(ctx.mongo!.db(stack.db));
    const started = Date.now();
    stack.sup.start(serviceSpec('trainer', { HTTP_PORT: '0', TRAIN_SENTIMENT_ON_START: 'false', LOG_LEVEL: 'info' }));
    const first = await waitFor('the trainer to train and promote the LSTM from the bundled CSV files', async () => (await store.getAlias('price', 'production')) ?? undefined, 420_000, 1_000);
    const lstm = await store.get('price', first.version);
    assert.is(lstm.params.arch, 'lstm');
    assert.match(lstm.statusReason, /gate passed/);
    assert.equal((lstm.lineage as { files: Array<{ file: string }> }).files.map((f) => path.basename(f.file)).sort(), ['AAPL.csv', 'GOOG.csv', 'MSFT.csv', 'SPY.csv']);
    const trainedThrough = lstm.dataWindow!.to;
    assert.ok(trainedThrough < phaseA.at(-1)!.ts, `trained through ${trainedThrough}`);
    await stack.sup.stopOne('trainer');
    const trainSeconds = (Date.now() - started) / 1000;
    ctx.lstm = { doc: lstm, artifacts: await store.loadArtifacts('price', lstm.version) };

    // The weak champion: persistence, a real version the predictor serves; the LSTM challenges it.
    const { tf } = await initTf();
    const persistence = persistencePriceModel(tf, { names: PIPELINE_SCHEMA.names, featureSchemaHash: PIPELINE_SCHEMA.hash, lookback: lstm.params.lookback as number });
    const weak = await store.register({
      name: 'price',
      task: 'price',
      metrics: {},
      params: { ...persistence.meta.config, kind: 'persistence', feature: 'ret_1' },
      featureSchemaHash: PIPELINE_SCHEMA.hash,
      normalization: null,
      reference: null,
      dataWindow: null,
      lineage: { source: 'untrained', model: 'persistencePriceModel' },
      gitSha: 'test',
      artifacts: await persistence.serialize(),
    });
    persistence.dispose();
    await promoteVersion(store, 'price', weak.version, 'test: the weak champion');
    await setChallenger(store, 'price', lstm.version, 'test: the trained LSTM challenges persistence');

    await createTopics(stack.prefix);
    const run = await serve(stack);
    await waitFor('the predictor serving persistence with the LSTM in its shadow', () => logged(stack, 'predictor', 'challenger loaded for shadow scoring', lstm.version), 120_000);
    const replayStart = Date.now();
    await produceRaw(stack.prefix, phaseA.map(rawPriceMessage));
    const decision = await waitFor('a live promotion decision', () => run.decisions()[0], 180_000, 250);
    const decisionSeconds = (Date.now() - replayStart) / 1000;
    assert.is(decision.kind, 'challenger_promoted', decision.reason);
    assert.equal([decision.model, decision.evidence.productionVersion, decision.evidence.challengerVersion], [{ name: 'price', version: lstm.version }, weak.version, lstm.version]);
    assert.ok(decision.evidence.pairedOutcomes >= MIN_OUTCOMES, `paired ${decision.evidence.pairedOutcomes}`);
    assert.ok(decision.evidence.dmPValue < 0.05, `p ${decision.evidence.dmPValue}`);
    assert.ok(decision.evidence.maeRatio < 1, `MAE ratio ${decision.evidence.maeRatio}`);
    assert.match(decision.reason, new RegExp(`promote price: challenger v${lstm.version} vs production v${weak.version}`));
    // Before the decision the shadow topic carried the LSTM, with the ids of persistence's predictions.
    assert.ok(run.shadow().length >= MIN_OUTCOMES && run.shadow().every((p) => p.model.version === lstm.version));
    assert.ok(run.predictions().some((p) => p.model.version === weak.version));

    // The registry moved, and the predictor follows.
    await waitFor('the production alias on the LSTM', async () => (await store.getAlias('price', 'production'))?.version === lstm.version, 30_000, 250);
    assert.is(await store.getAlias('price', 'challenger'), null, 'the challenger alias is cleared');
    assert.is((await store.get('price', weak.version)).status, 'archived');
    await waitFor('the predictor to hot-swap to the LSTM', () => logged(stack, 'predictor', 'model swapped in', lstm.version), 60_000, 250);
    const lastA = phaseA.at(-1)!.ts;
    await waitFor('the predictions of phase A', () => run.predictions().some((p) => p.asOf === lastA), 60_000, 250);
    await produceRaw(stack.prefix, phaseB.map(rawPriceMessage));
    const lastB = phaseB.at(-2)!.ts; // the newest bar may wait in the transformer's reorder window
    await waitFor('predictions of the bars after the decision', () => run.predictions().some((p) => p.asOf === lastB), 90_000, 250);
    const later = run.predictions().filter((p) => p.asOf > lastA);
    assert.ok(later.length >= phaseB.length - 2, `${later.length} later predictions`);
    assert.ok(later.every((p) => p.model.version === lstm.version), `later versions: ${[...new Set(later.map((p) => p.model.version))]}`);
    figures.push(`run 1 (trainer: LSTM v${lstm.version} promoted after ${trainSeconds.toFixed(0)} s, trained through ${trainedThrough.slice(0, 10)}): ${describe('persistence v' + weak.version + ' vs LSTM challenger', decision, decisionSeconds)}; ${later.length} later predictions all by v${lstm.version}`);
    console.log(`  ${figures.at(-1)}`);
  }, { logLines: 120 });
  await stack.stop();
});

t('run 2: a sign-flipped, far too confident challenger is kept out; production and its predictions stay', async () => {
  assert.ok(ctx.lstm, 'run 1 trained the LSTM');
  const { doc, artifacts } = ctx.lstm!;
  const stack = startStack({ services: [] });
  ctx.stacks.push(stack);
  await reportingFailures(stack, async () => {
    const store = new ModelStore(ctx.mongo!.db(stack.db));
    const base = { name: 'price', task: 'price' as const, metrics: doc.metrics, params: doc.params, featureSchemaHash: doc.featureSchemaHash, normalization: doc.normalization, reference: doc.reference, dataWindow: doc.dataWindow, gitSha: doc.gitSha };
    const production = await store.register({ ...base, lineage: { ...doc.lineage, copiedFrom: `run 1 price@${doc.version}` }, artifacts });
    const bad = await store.register({ ...base, lineage: { copiedFrom: `run 1 price@${doc.version}`, rescaled: -10 }, artifacts: rescaledPriceArtifacts(artifacts, -10) });
    await promoteVersion(store, 'price', production.version, 'test: the LSTM in production');
    await setChallenger(store, 'price', bad.version, 'test: a deliberately bad challenger');

    await createTopics(stack.prefix);
    const run = await serve(stack);
    await waitFor('the predictor serving the LSTM with the bad challenger in its shadow', () => logged(stack, 'predictor', 'challenger loaded for shadow scoring', bad.version), 120_000);
    const replayStart = Date.now();
    await produceRaw(stack.prefix, phaseA.map(rawPriceMessage));
    const decision = await waitFor('a live promotion decision', () => run.decisions()[0], 180_000, 250);
    const decisionSeconds = (Date.now() - replayStart) / 1000;
    assert.is(decision.kind, 'challenger_kept', decision.reason);
    assert.equal([decision.model, decision.evidence.productionVersion, decision.evidence.challengerVersion], [{ name: 'price', version: bad.version }, production.version, bad.version]);
    assert.ok(decision.evidence.pairedOutcomes >= MIN_OUTCOMES);
    assert.ok(decision.evidence.dmPValue >= 0.05 && decision.evidence.maeRatio > 1, JSON.stringify(decision.evidence));
    assert.match(decision.reason, new RegExp(`keep price: challenger v${bad.version} vs production v${production.version}`));

    await produceRaw(stack.prefix, phaseB.map(rawPriceMessage));
    const lastA = phaseA.at(-1)!.ts;
    const lastB = phaseB.at(-2)!.ts;
    await waitFor('predictions of the bars after the decision', () => run.predictions().some((p) => p.asOf === lastB), 90_000, 250);
    const later = run.predictions().filter((p) => p.asOf > lastA);
    assert.ok(later.length >= phaseB.length - 2, `${later.length} later predictions`);
    assert.ok(run.predictions().every((p) => p.model.version === production.version), 'every prediction by production');
    assert.ok(run.shadow().length > 0 && run.shadow().every((p) => p.model.version === bad.version), 'the challenger stays in the shadow');
    assert.is((await store.getAlias('price', 'production'))?.version, production.version, 'the production alias did not move');
    assert.is((await store.getAlias('price', 'challenger'))?.version, bad.version, 'the challenger stays registered');
    assert.is(run.decisions().length, 1, 'one decision within the cool-down');
    figures.push(`run 2: ${describe(`LSTM v${production.version} vs LSTM×(−10) challenger`, decision, decisionSeconds)}; ${later.length} later predictions all by v${production.version}`);
    console.log(`  ${figures.at(-1)}`);
  }, { logLines: 120 });
  await stack.stop();
});

t.after(async () => {
  for (const stop of ctx.stop) await stop().catch(() => {});
  for (const s of ctx.stacks) await s.stop().catch(() => {});
  await ctx.mongo?.close();
  if (figures.length) console.log(`  champion/challenger figures:\n    ${figures.join('\n    ')}`);
});

t.run();
