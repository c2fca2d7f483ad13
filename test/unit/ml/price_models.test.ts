/**
 * Each price architecture (LSTM, GRU, MLP) trains through the training pipeline on a small
 * synthetic series whose next return is planted in the as-of features, learns it (early
 * stopping keeps an epoch better than the untrained zero model) and predicts finite returns
 * that rank the test returns; a reloaded artifact predicts the same.
 */
import * as assert from 'uvu/assert';
import { mulberry32 } from '@stock-mlops/contracts';
import { suite } from '../../harness/index.ts';
import type { FeatureRow } from '@stock-mlops/ml/datasets/supervised';
import { initTf } from '@stock-mlops/ml/tf';
import { loadPriceTrainConfig } from '@stock-mlops/ml/training/config';
import { PriceModel } from '@stock-mlops/ml/models/price_predictor';
import { trainPrice } from '@stock-mlops/ml/training/train';

const t = suite('ml price architectures train', { timeoutMs: 120_000 });

/** Next return = 1 % × feature 0 of the as-of row + small noise; features 1–2 are noise. */
function plantedRows(n: number, seed: number): FeatureRow[] {
  const u = mulberry32(seed);
  const g = () => u() * 2 - 1;
  const rows: FeatureRow[] = [];
  let close = 100;
  for (let i = 0; i < n; i++) {
    const f = [g(), g(), g()];
    rows.push({ symbol: 'SYN', ts: Date.UTC(2020, 0, 1) + i * 86_400_000, close, vector: f });
    close *= 1 + 0.01 * f[0]! + 0.001 * g();
  }
  return rows;
}

const rows = plantedRows(700, 21);

for (const arch of ['lstm', 'gru', 'mlp'] as const) {
  t(`${arch}: trains, beats the untrained zero model on validation and predicts finite returns that rank the test returns`, async () => {
    const { tf } = await initTf();
    const cfg = loadPriceTrainConfig(undefined, [`model.arch=${arch}`, 'model.lookback=4', 'model.hidden=8', 'model.epochs=15', 'model.patience=3', 'model.learningRate=0.01', 'model.batchSize=32', 'data.embargo=1', 'model.seed=3']);
    const r = await trainPrice(tf, rows, 'synthetic', cfg);
    try {
      assert.is(r.model.meta.config.arch, arch);
      assert.ok(r.bestEpoch >= 1, `early stopping kept a trained epoch (best ${r.bestEpoch} of ${r.history.length})`);
      assert.ok(r.history.every((h) => Number.isFinite(h.loss) && Number.isFinite(h.valLoss)));
      assert.is(r.testPredictions.length, r.test.length);
      assert.ok(r.testPredictions.every(Number.isFinite), 'finite predictions');
      assert.ok(new Set(r.testPredictions).size > r.test.length / 2, 'predictions vary with the inputs');
      const e = r.evaluation;
      assert.ok(e.model.ic > 0.5, `${arch} test IC ${e.model.ic.toFixed(3)}`);
      assert.ok(e.model.rmse < e.baselines.zero.rmse, `${arch} RMSE ${e.model.rmse} below zero's ${e.baselines.zero.rmse}`);
      const back = await PriceModel.deserialize(tf, await r.model.serialize());
      assert.equal(back.predict(r.test.map((s) => s.window.map((x) => [...x]))), r.testPredictions, 'the artifact predicts the same');
      back.dispose();
    } finally {
      r.model.dispose();
    }
  });
}

t.run();
