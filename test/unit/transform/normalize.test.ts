import * as assert from 'uvu/assert';
import { RollingZScore, type RollingZScoreSnapshot, type TransformError } from '@stock-mlops/transform';
import { suite } from '../../harness/index.ts';

const t = suite('transform/normalize');

const errorCode = (code: string) => (err: TransformError) => err.code === code;

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
