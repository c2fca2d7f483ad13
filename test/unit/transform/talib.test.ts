/**
 * Cross-check of the streaming indicator classes (and of the FeatureEngine's outputs) against
 * TA-Lib via test/python/ta_reference.py, on every shared price file.
 *
 * Raw check: both sides get exactly the rows parseYahooCsv returns (every row, zero-volume
 * placeholders included, unadjusted Close/High/Low, volume as ln(v+1) for CORREL); the test
 * asserts identical dates, identical warm-up (null on the TA-Lib side ⇔ undefined here) and a
 * relative error ≤ 1e-6 everywhere after warm-up, where relErr = |a-b| / max(|a|, |b|) (0 when
 * equal).
 *
 * Feature check: the engine's 65 features vs an independent recomputation from their documented
 * definitions (TA-Lib for the TA ones, numpy windows for Alpha158); tolerance
 * |a-b| ≤ 1e-6·|b| + 1e-9 because ratio features such as c/SMA - 1 sit near 0.
 *
 * A missing python3 / numpy / TA-Lib fails the test with the install hint; it never skips.
 */
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  Atr,
  Bollinger,
  type Bar,
  Ema,
  FEATURE_SCHEMA,
  Macd,
  RollingCorrelation,
  RollingMax,
  RollingMin,
  RollingStdDev,
  Rsi,
  Sma,
  computeFeaturesFromBars,
  trueRange,
} from '@stock-mlops/transform';
import { suite } from '../../harness/index.ts';
import { loadBars, priceFiles, repoRoot, symbolOf } from '../../support/transform.ts';

const run = promisify(execFile);
const SCRIPT = path.join(repoRoot, 'test/python/ta_reference.py');
const REL_TOLERANCE = 1e-6;
const FEATURE_ABS_TOLERANCE = 1e-9;

interface Series {
  dates: string[];
  series: Record<string, (number | null)[]>;
}

interface Reference {
  meta: Record<string, string>;
  raw: Series;
  features: Series;
}

async function reference(csv: string): Promise<Reference> {
  try {
    const { stdout } = await run('python3', [SCRIPT, csv], { maxBuffer: 512 * 1024 * 1024 });
    return JSON.parse(stdout) as Reference;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; code?: string | number };
    if (e.code === 'ENOENT') assert.unreachable('python3 is not on PATH: the TA-Lib cross-check needs Python 3 with test/python/requirements.txt installed');
    assert.unreachable(`test/python/ta_reference.py failed for ${csv} (exit ${String(e.code)}): ${e.stderr ?? e.message}`);
    throw err;
  }
}

/** Our indicators over raw bars, aligned with the input (undefined during warm-up). */
function ours(bars: readonly Bar[]): Record<string, (number | undefined)[]> {
  const out: Record<string, (number | undefined)[]> = {};
  const series = (name: string, step: (bar: Bar, i: number) => number | undefined): void => {
    out[name] = bars.map(step);
  };
  for (const n of [5, 10, 20, 30, 50, 60]) {
    const sma = new Sma(n);
    series(`SMA_${n}`, (b) => sma.update(b.close));
  }
  for (const n of [5, 10, 20, 50]) {
    const ema = new Ema(n);
    series(`EMA_${n}`, (b) => ema.update(b.close));
  }
  const rsi = new Rsi(14);
  series('RSI_14', (b) => rsi.update(b.close));
  const macd = new Macd(12, 26, 9);
  const m = bars.map((b) => macd.update(b.close));
  out.MACD_line = m.map((v) => v?.macd);
  out.MACD_signal = m.map((v) => v?.signal);
  out.MACD_hist = m.map((v) => v?.hist);
  const bb = new Bollinger(20, 2);
  const bands = bars.map((b) => bb.update(b.close));
  out.BBANDS_upper_20 = bands.map((v) => v?.upper);
  out.BBANDS_middle_20 = bands.map((v) => v?.middle);
  out.BBANDS_lower_20 = bands.map((v) => v?.lower);
  series('TRANGE', (b, i) => (i === 0 ? undefined : trueRange(b.high, b.low, (bars[i - 1] as Bar).close)));
  const atr = new Atr(14);
  series('ATR_14', (b) => atr.update(b.high, b.low, b.close));
  for (const n of [5, 10, 20, 30, 60]) {
    const std = new RollingStdDev(n);
    const max = new RollingMax(n);
    const min = new RollingMin(n);
    const corr = new RollingCorrelation(n);
    series(`STDDEV_${n}`, (b) => std.update(b.close));
    series(`MAX_${n}`, (b) => max.update(b.high));
    series(`MIN_${n}`, (b) => min.update(b.low));
    series(`CORREL_${n}`, (b) => corr.update(b.close, Math.log(b.volume + 1)));
  }
  return out;
}

function relErr(a: number, b: number): number {
  return a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

const files = priceFiles();
// Loaded inside the tests, not in a before hook: uvu swallows errors thrown by hooks, and a
// missing python3/TA-Lib must fail loudly.
let loading: Promise<Reference[]> | undefined;
const references = (): Promise<Reference[]> => (loading ??= Promise.all(files.map((f) => reference(f))));

const t = suite('transform/talib cross-check', { timeoutMs: 60_000 });

t('the shared price files are there', () => {
  assert.is(files.length, 8, `expected 8 CSVs in ${path.dirname(files[0] ?? '')}`);
});

t('indicator classes match TA-Lib on every shared price file (rel err ≤ 1e-6 after warm-up)', async () => {
  const refs = await references();
  const worst: Record<string, { err: number; where: string }> = {};
  let checkedSeries = 0;
  let checkedValues = 0;
  let exact = 0;
  files.forEach((file, k) => {
    const ref = (refs[k] as Reference).raw;
    const bars = loadBars(file);
    assert.equal(
      bars.map((b) => b.ts.slice(0, 10)),
      ref.dates,
      `${symbolOf(file)}: identical input rows`,
    );
    const mine = ours(bars);
    assert.equal(Object.keys(mine).sort(), Object.keys(ref.series).sort(), 'same indicator set');
    for (const [name, expected] of Object.entries(ref.series)) {
      const actual = mine[name] as (number | undefined)[];
      checkedSeries++;
      for (let i = 0; i < expected.length; i++) {
        const e = expected[i];
        const a = actual[i];
        const where = `${symbolOf(file)} ${name} @${ref.dates[i]} (#${i})`;
        if (e === null || e === undefined) {
          assert.is(a, undefined, `${where}: TA-Lib is still warming up, we emitted ${a}`);
          continue;
        }
        assert.type(a, 'number', `${where}: TA-Lib has ${e}, we have nothing`);
        const err = relErr(a as number, e);
        checkedValues++;
        if (err === 0) exact++;
        if (err > (worst[name]?.err ?? -1)) worst[name] = { err, where };
        assert.ok(err <= REL_TOLERANCE, `${where}: ours ${a} vs TA-Lib ${e} (rel err ${err.toExponential(2)})`);
      }
    }
  });
  const max = Math.max(...Object.values(worst).map((w) => w.err));
  console.log(
    `  TA-Lib ${refs[0]?.meta.ta_lib_c}: ${checkedSeries / files.length} series × ${files.length} files = ${checkedSeries} series, ` +
      `${checkedValues} values, ${exact} bit-identical, max rel err ${max.toExponential(2)}`,
  );
});

t('FeatureEngine outputs match an independent recomputation (TA-Lib + numpy) on every shared file', async () => {
  const refs = await references();
  let worst = { err: 0, where: '' };
  let checked = 0;
  files.forEach((file, k) => {
    const ref = (refs[k] as Reference).features;
    const symbol = symbolOf(file);
    const { rows } = computeFeaturesFromBars(loadBars(file));
    const readyDates = ref.dates.filter((_, i) => ref.series.ret_1?.[i] !== null);
    assert.equal(
      rows.map((r) => r.ts.slice(0, 10)),
      readyDates,
      `${symbol}: same ready rows`,
    );
    const offset = ref.dates.length - readyDates.length;
    assert.equal(Object.keys(ref.series), [...FEATURE_SCHEMA.names], 'reference computes the schema in order');
    FEATURE_SCHEMA.names.forEach((name, j) => {
      const expected = ref.series[name] as (number | null)[];
      rows.forEach((row, i) => {
        const e = expected[i + offset];
        const a = row.vector[j] as number;
        assert.type(e, 'number', `${symbol} ${name} @${row.ts}: reference missing`);
        const diff = Math.abs(a - (e as number));
        const where = `${symbol} ${name} @${row.ts.slice(0, 10)}`;
        assert.ok(diff <= REL_TOLERANCE * Math.abs(e as number) + FEATURE_ABS_TOLERANCE, `${where}: ours ${a} vs reference ${e}`);
        const err = diff / Math.max(Math.abs(e as number), 1e-3);
        if (err > worst.err) worst = { err, where };
        checked++;
      });
    });
  });
  console.log(`  features: ${FEATURE_SCHEMA.names.length} × ${files.length} files, ${checked} values, max err ${worst.err.toExponential(2)} (${worst.where})`);
});

t.run();
