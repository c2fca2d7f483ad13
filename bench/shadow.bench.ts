/**
 * Champion and challenger on the stream path (the path shadow scoring is on), with and without a
 * challenger in the same run: feature batches of one vector per symbol go through
 * `core.onFeatures` (the production predictions, through the shared micro-batching queue and the
 * inference worker), and each batch's predictions are then offered to the shadow scorer, as the
 * predictor's feature consumer does after publishing (publishing is a no-op here).
 *
 * Rows alternate within each repeat: no challenger; a challenger scheduled production first (the
 * inference queue's idle lane, what the predictor does); a challenger called directly in the same
 * worker (the scheduling before production first, for comparison). Two kinds of load:
 * - saturation: a closed loop (the next batch as soon as the previous one is answered);
 * - sub-saturation: an open loop at a fixed offered rate, a fraction of the saturation baseline
 *   measured first in the same run.
 * Short runs (BENCH_SHADOW_MS, 1 s) and many repeats (BENCH_REPEATS=11 for the documented run),
 * ratios paired within a repeat: on a shared machine the load drifts between runs.
 * Shadow completeness = shadow predictions / production predictions offered to the scorer; a run
 * ends for the scorer when the next batch would have been offered (at once in the closed loop), and
 * what is still queued then counts as missing.
 */
import os from 'node:os';
import type { FeatureVector } from '@stock-mlops/contracts';
import { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { createPriceInference } from '@stock-mlops/ml/inference/price_inference';
import { ShadowScorer } from '@stock-mlops/ml/inference/shadow_scorer';
import { randomPriceModel, SCHEMA_HASH } from '@stock-mlops/ml/synthetic';
import { initTf } from '@stock-mlops/ml/tf';
import { InferenceWorker } from '@stock-mlops/ml/inference/worker';
import { fmt, median, percentile, type Bench } from './lib.ts';

const LOOKBACK = 20;
const N_FEATURES = 8;
const SYMBOLS = Array.from({ length: 64 }, (_, i) => `S${i}`);
const DURATION_MS = Number(process.env.BENCH_SHADOW_MS ?? 1_000);
/** Offered rates of the sub-saturation runs, as fractions of the saturation baseline. */
const FRACTIONS = (process.env.BENCH_SHADOW_FRACTIONS ?? '0.25,0.5').split(',').filter((f) => f.trim() !== '').map(Number);
const QUEUE = { maxBatch: 64, maxDelayMs: 2, maxQueue: 4096, pipelined: true };
const SHADOW_QUEUE = 4096;

type Scheduling = 'none' | 'production-first' | 'direct';
const MODES: Array<{ name: string; scheduling: Scheduling }> = [
  { name: 'no challenger', scheduling: 'none' },
  { name: 'challenger, production first (the predictor)', scheduling: 'production-first' },
  { name: 'challenger called directly (before production first)', scheduling: 'direct' },
];

interface Run {
  rate: number;
  completeness: number;
  p50Ms: number;
  p99Ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const bench: Bench = async (ctx) => {
  const { backend } = await initTf();
  const arch = { arch: 'lstm' as const, hidden: 32, lookback: LOOKBACK, nFeatures: N_FEATURES };
  const worker = await InferenceWorker.start();
  const champion = await worker.loadPrice({ name: 'price', version: 1 }, await (await randomPriceModel(1, arch)).serialize());
  const challenger = await worker.loadPrice({ name: 'price', version: 2 }, await (await randomPriceModel(2, arch)).serialize());
  for (const m of [champion, challenger]) await m.warmup();
  let day = 0;
  const batch = (): FeatureVector[] => {
    const ts = new Date(Date.UTC(2000, 0, 1) + day * 86_400_000).toISOString();
    const out = SYMBOLS.map((symbol, i) => ({
      symbol,
      interval: '1d' as const,
      ts,
      close: 100 + (day % 50),
      schemaVersion: 'bench',
      schemaHash: SCHEMA_HASH,
      values: Array.from({ length: N_FEATURES }, (_, j) => Math.sin(day * 0.37 + i + j)),
    }));
    day++;
    return out;
  };

  /** One run: `offered` predictions/s (open loop), or a closed loop when undefined. */
  async function run(scheduling: Scheduling, offered: number | undefined): Promise<Run> {
    const inference = createPriceInference(QUEUE);
    const core = new PredictorCore(inference.run);
    core.swap(champion);
    champion.retain(); // shared by every run: keep it alive across swaps
    if (scheduling !== 'none') {
      core.swapChallenger(challenger);
      challenger.retain();
    }
    let offeredToShadow = 0;
    let shadowed = 0;
    const scorer = new ShadowScorer({
      maxQueue: SHADOW_QUEUE,
      timeoutMs: 5_000,
      maxFailures: 3,
      challenger: () => core.challenger,
      ...(scheduling === 'production-first' ? { whenIdle: inference.whenIdle } : {}),
      window: (m, symbol, asOf) => core.windowAt(m, symbol, asOf),
      publish: async (out) => void (shadowed += out.length),
      onOffered: (n) => void (offeredToShadow += n),
      onDropped: () => {},
      onChallengerFailed: () => {},
    });
    for (let k = 0; k < LOOKBACK; k++) await core.onFeatures(batch()).catch(() => undefined);
    let predicted = 0;
    let open = true;
    const latencies: number[] = [];
    const one = async () => {
      const t = performance.now();
      const { predictions } = await core.onFeatures(batch());
      if (open) {
        latencies.push(performance.now() - t);
        predicted += predictions.length;
      }
      scorer.offer(predictions.map((p) => ({ prediction: p, eventId: `${p.symbol}|${p.asOf}` })));
    };
    const inflight = new Set<Promise<void>>();
    const t0 = performance.now();
    /** When the next batch would have been offered: the run's end for the shadow scorer. */
    let nextDue = 0;
    if (offered === undefined) {
      while (performance.now() - t0 < DURATION_MS) await one();
    } else {
      const everyMs = (1000 * SYMBOLS.length) / offered;
      let k = 0;
      for (; performance.now() - t0 < DURATION_MS; k++) {
        const wait = t0 + k * everyMs - performance.now();
        if (wait > 0) await sleep(wait);
        const p = one().finally(() => inflight.delete(p));
        inflight.add(p);
      }
      nextDue = t0 + k * everyMs;
    }
    const seconds = (performance.now() - t0) / 1000;
    open = false;
    await Promise.all(inflight);
    // The challenger keeps the idle time until the next batch would have come (none in a closed loop); then what is still queued counts as missing.
    if (offered !== undefined) await sleep(Math.max(0, nextDue - performance.now()));
    scorer.close();
    await scorer.idle();
    inference.close();
    return {
      rate: predicted / seconds,
      completeness: offeredToShadow > 0 ? shadowed / offeredToShadow : Number.NaN,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
    };
  }

  /** Every mode at one load, rows alternating within each repeat. */
  async function load(label: string, offered: number | undefined): Promise<Map<Scheduling, Run[]>> {
    const runs = new Map<Scheduling, Run[]>(MODES.map((m) => [m.scheduling, []]));
    for (let r = 0; r < ctx.repeats; r++) {
      for (const mode of MODES) {
        const x = await run(mode.scheduling, offered);
        runs.get(mode.scheduling)!.push(x);
        ctx.log(`shadow bench, ${label}, ${mode.name}: ${fmt(x.rate, 0)} production predictions/s, shadow completeness ${fmt(100 * x.completeness, 1)} %, batch p50/p99 ${fmt(x.p50Ms, 1)}/${fmt(x.p99Ms, 1)} ms; load ${fmt(os.loadavg()[0]!, 1)}`);
      }
    }
    return runs;
  }

  const loads: Array<{ label: string; runs: Map<Scheduling, Run[]> }> = [];
  const loadAvg: number[] = [os.loadavg()[0]!];
  const saturation = await load('saturation (closed loop)', undefined);
  loads.push({ label: 'saturation (closed loop)', runs: saturation });
  loadAvg.push(os.loadavg()[0]!);
  const base = median(saturation.get('none')!.map((x) => x.rate));
  for (const f of FRACTIONS) {
    const offered = f * base;
    const label = `${fmt(offered, 0)}/s offered (${fmt(100 * f, 0)} % of the saturation baseline)`;
    loads.push({ label, runs: await load(label, offered) });
    loadAvg.push(os.loadavg()[0]!);
  }
  await worker.close();

  const rows = loads.flatMap(({ label, runs }) => {
    const without = runs.get('none')!;
    return MODES.map((m) => {
      const rs = runs.get(m.scheduling)!;
      // Paired: each repeat's rate over the no-challenger rate of the same repeat (the load drifts between repeats).
      const ratio = median(rs.map((x, i) => x.rate / without[i]!.rate));
      const completeness = m.scheduling === 'none' ? '–' : `${fmt(100 * median(rs.map((x) => x.completeness)), 1)} %`;
      return `| ${label} | ${m.name} | ${fmt(median(rs.map((x) => x.rate)), 0)} | ${fmt(100 * ratio, 0)} % | ${completeness} | ${fmt(median(rs.map((x) => x.p50Ms)), 1)} / ${fmt(median(rs.map((x) => x.p99Ms)), 1)} | ${rs.map((x) => fmt(x.rate, 0)).join(', ')} |`;
    });
  });
  const markdown = [
    `Stream path (feature batches of ${SYMBOLS.length} vectors, one per symbol, through the predictor's core, micro-batching queue (max 64, delay 2 ms) and inference worker; ${DURATION_MS / 1000} s per run, rows alternating within each of ${ctx.repeats} repeats, median), tfjs backend \`${backend}\`, \`npm run bench -- shadow\` (bench/shadow.bench.ts).`,
    `Production and challenger: LSTM(32) over 20×8 windows with random weights, in the same inference worker. After each batch its predictions are offered to the shadow scorer (drop-oldest queue of ${SHADOW_QUEUE.toLocaleString('en-US')} predictions; publishing is a no-op), as the predictor does after publishing.`,
    'Saturation is a closed loop (the next batch as soon as the previous one is answered); the sub-saturation rows offer batches at a fixed rate (open loop), a fraction of the saturation baseline of the same run.',
    '"Of no challenger" is the median over repeats of each repeat\'s rate over the no-challenger rate of the same repeat. Shadow completeness: shadow predictions / production predictions offered to the challenger; a run ends for the challenger when the next batch would have been offered (at once in the closed loop), and what is still queued then counts as missing. Latency: one feature batch through `onFeatures` (queue wait and model).',
    '',
    '| load | challenger | production predictions/s | of no challenger (target ≥ 90 %) | shadow completeness | production batch p50 / p99 (ms) | runs (predictions/s) |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    '',
    `Machine load average (1 min) at the start and after each load: ${loadAvg.map((x) => fmt(x, 1)).join(', ')}; the ${os.cpus().length} cores are shared with other work; the bench ran at niceness ${os.getPriority()}.`,
    'Production first: the challenger runs only in the inference queue\'s idle lane, so at saturation (no idle time) its batches are dropped oldest-first and production keeps its throughput; with headroom the shadow stream is complete, and a production batch that becomes due while a challenger batch runs waits for that one batch (the latency columns). Called directly, the challenger\'s forward passes interleave with production\'s in the worker.',
  ].join('\n');
  return { title: 'Serving: champion and challenger (shadow scoring on the stream path)', markdown };
};

export default bench;
