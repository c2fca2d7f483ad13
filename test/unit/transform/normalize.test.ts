import * as assert from 'uvu/assert';
import path from 'node:path';
import {
  CLIP_Z,
  FEATURE_SCHEMA,
  type NormalizerStats,
  RollingZScore,
  type RollingZScoreSnapshot,
  type TransformError,
  applyNormalizer,
  computeFeaturesFromBars,
  featureSchemaHash,
  fitNormalizer,
} from '@stock-mlops/transform';
import { suite } from '../../harness/index.ts';
import { loadBars, pricesDir } from './helpers.ts';

const t = suite('transform/normalize');

const errorCode = (code: string) => (err: TransformError) => err.code === code;
const rows = computeFeaturesFromBars(loadBars(path.join(pricesDir, 'MSFT.csv'))).rows.map((r) => r.vector);
const names = FEATURE_SCHEMA.names;

t('fit: per-feature mean/std, tagged with the schema hash, JSON round-trips', () => {
  const stats = fitNormalizer(rows, names, { createdFrom: 'MSFT 1d 2012-09-04..2017-09-01' });
  assert.is(stats.schemaHash, FEATURE_SCHEMA.hash);
  assert.is(stats.schemaVersion, FEATURE_SCHEMA.version);
  assert.is(stats.count, rows.length);
  assert.is(stats.createdFrom, 'MSFT 1d 2012-09-04..2017-09-01');
  assert.is(stats.mean.length, names.length);
  const j = names.indexOf('ret_1');
  const col = rows.map((r) => r[j] as number);
  const mean = col.reduce((a, b) => a + b, 0) / col.length;
  assert.ok(Math.abs((stats.mean[j] as number) - mean) < 1e-15);
  const std = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / col.length);
  assert.ok(Math.abs((stats.std[j] as number) - std) < 1e-15);
  assert.equal(JSON.parse(JSON.stringify(stats)), stats);
});

t('apply: training rows come out centred and scaled, clipped to ±5', () => {
  const stats = fitNormalizer(rows, names);
  const z = rows.map((r) => applyNormalizer(stats, r));
  const j = names.indexOf('rsi_14');
  const col = z.map((r) => r[j] as number);
  const mean = col.reduce((a, b) => a + b, 0) / col.length;
  assert.ok(Math.abs(mean) < 1e-9, `mean ${mean}`);
  assert.ok(z.every((r) => r.every((x) => Number.isFinite(x) && Math.abs(x) <= CLIP_Z)));
  const extreme = [...(rows[0] as number[])];
  extreme[j] = 1e6;
  assert.is(applyNormalizer(stats, extreme)[j], CLIP_Z);
  extreme[j] = -1e6;
  assert.is(applyNormalizer(stats, extreme)[j], -CLIP_Z);
});

t('std floor: a feature constant in training is centred, not blown up', () => {
  const constant = rows.map((r) => {
    const copy = [...r];
    copy[0] = 0.25;
    return copy;
  });
  const stats = fitNormalizer(constant, names);
  assert.is(stats.std[0], 0);
  const probe = [...(constant[0] as number[])];
  probe[0] = 0.26;
  assert.ok(Math.abs((applyNormalizer(stats, probe)[0] as number) - 0.01) < 1e-12);
});

t('train/serve skew is impossible: other schema → E_SCHEMA_MISMATCH', () => {
  const stats = fitNormalizer(rows, names);
  const older: NormalizerStats = { ...stats, schemaHash: featureSchemaHash('0.9.0', names), schemaVersion: '0.9.0' };
  assert.throws(() => applyNormalizer(older, rows[0] as number[]), errorCode('E_SCHEMA_MISMATCH'));
  const subset = names.slice(0, 10);
  const subsetStats = fitNormalizer(
    rows.map((r) => r.slice(0, 10)),
    subset,
  );
  assert.is.not(subsetStats.schemaHash, FEATURE_SCHEMA.hash);
  assert.throws(() => applyNormalizer(subsetStats, (rows[0] as number[]).slice(0, 10)), errorCode('E_SCHEMA_MISMATCH'));
  const subsetSchema = { version: FEATURE_SCHEMA.version, names: subset, hash: featureSchemaHash(FEATURE_SCHEMA.version, subset) };
  assert.is(applyNormalizer(subsetStats, (rows[0] as number[]).slice(0, 10), subsetSchema).length, 10);
  assert.throws(() => applyNormalizer({ ...stats, version: 2 }, rows[0] as number[]), errorCode('E_SCHEMA_MISMATCH'));
});

t('shape and finiteness are checked', () => {
  const stats = fitNormalizer(rows, names);
  assert.throws(() => applyNormalizer(stats, [1, 2, 3]), errorCode('E_SHAPE_MISMATCH'));
  const nan = [...(rows[0] as number[])];
  nan[3] = Number.NaN;
  assert.throws(() => applyNormalizer(stats, nan), errorCode('E_NOT_FINITE'));
  assert.throws(() => fitNormalizer([nan], names), errorCode('E_NOT_FINITE'));
  assert.throws(() => fitNormalizer([], names), errorCode('E_BAD_ARGUMENT'));
  assert.throws(() => fitNormalizer([[1]], names), errorCode('E_SHAPE_MISMATCH'));
});

t('RollingZScore: trailing window, not ready before N vectors, restorable', () => {
  const z = new RollingZScore(20, 2);
  const input = Array.from({ length: 100 }, (_, i) => [Math.sin(i / 3), i % 7 === 0 ? 5 : 1]);
  const out = input.map((v) => z.update(v));
  assert.ok(out.slice(0, 19).every((o) => !o.ready && o.z.length === 0));
  assert.ok(out.slice(19).every((o) => o.ready && o.z.length === 2));
  // Direct computation for one step: window = last 20 inputs including the current one.
  const k = 57;
  const w = input.slice(k - 19, k + 1).map((v) => v[0] as number);
  const mean = w.reduce((a, b) => a + b, 0) / 20;
  const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / 20);
  assert.ok(Math.abs((out[k]?.z[0] as number) - ((input[k]?.[0] as number) - mean) / std) < 1e-9);
  // Snapshot midway continues identically.
  const first = new RollingZScore(20, 2);
  input.slice(0, 40).forEach((v) => first.update(v));
  const restored = RollingZScore.restore(JSON.parse(JSON.stringify(first.snapshot())) as RollingZScoreSnapshot);
  assert.equal(
    input.slice(40).map((v) => restored.update(v)),
    out.slice(40),
  );
  assert.throws(() => z.update([1]), errorCode('E_SHAPE_MISMATCH'));
});

t.run();
