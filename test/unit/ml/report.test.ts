/**
 * Evaluation reports: the rasterizer draws what it is asked to, charts decode as PNGs of the
 * stated size, and the HTML pages reference every chart they write.
 */
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { suite } from '../../harness/index.ts';
import { makeSupervised } from '@stock-mlops/ml/datasets/supervised';
import { heatmap, histogram, lineChart } from '@stock-mlops/ml/reports/charts';
import { writePriceReport, writeSentimentReport } from '@stock-mlops/ml/reports/evaluation_report';
import { COLORS, formatTick, Raster } from '@stock-mlops/ml/reports/raster';
import { classificationReport } from '@stock-mlops/ml/models/sentiment_analyzer_metrics';
import { loadPriceCsvRows } from '@stock-mlops/ml/training/price_csv';
import { evaluatePriceSamples } from '@stock-mlops/ml/training/train';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const t = suite('ml evaluation reports');
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'report-test-'));
  dirs.push(d);
  return d;
};
const decode = (buf: Buffer) => PNG.sync.read(buf);

t('raster: lines, rectangles and number glyphs land on the expected pixels', () => {
  const r = new Raster(20, 10);
  r.line(0, 0, 19, 9, COLORS.red);
  assert.equal(r.getPixel(0, 0), [...COLORS.red]);
  assert.equal(r.getPixel(19, 9), [...COLORS.red]);
  assert.equal(r.getPixel(19, 0), [...COLORS.white], 'off the line stays white');
  r.fillRect(2, 6, 3, 2, COLORS.blue);
  assert.equal(r.getPixel(3, 7), [...COLORS.blue]);
  const t1 = new Raster(12, 6);
  t1.text(0, 0, '1', COLORS.black, 1);
  assert.equal(t1.getPixel(1, 0), [0, 0, 0], 'the stem of a 1');
  assert.equal(t1.getPixel(0, 0), [255, 255, 255]);
  const png = decode(r.toPng());
  assert.is(png.width, 20);
  assert.equal([...png.data.subarray(0, 3)], [...COLORS.red]);
  assert.is(formatTick(0.000123), '1.2e-4');
  assert.is(formatTick(183.456), '183');
  assert.throws(() => new Raster(0, 5), (e: { code?: string }) => e.code === 'E_REPORT_SIZE');
});

t('charts: PNGs of the stated size; histogram counts every finite value; heatmap darkens with counts', () => {
  const lc = lineChart([{ label: 'a', values: [1, 2, 3, 2, 1], color: COLORS.blue }], { width: 300, height: 120 });
  const img = decode(lc.png);
  assert.is(img.width, 300);
  assert.is(img.height, 120);
  assert.ok(lc.y[0] < 1 && lc.y[1] > 3);
  let blue = 0;
  for (let i = 0; i < img.data.length; i += 4) if (img.data[i] === COLORS.blue[0] && img.data[i + 1] === COLORS.blue[1]) blue++;
  assert.ok(blue > 100, 'the series is drawn');
  const values = Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 0.02);
  const h = histogram([{ label: 'x', values: [...values, Number.NaN], color: COLORS.orange }], { bins: 20, clipQuantile: 0 });
  assert.is(h.counts[0]!.reduce((a, b) => a + b, 0), 1000);
  const hm = heatmap([[90, 5], [10, 0]], { cell: 40 });
  const px = decode(hm.png);
  const at = (x: number, y: number) => px.data[(y * px.width + x) * 4]!;
  assert.ok(at(3, 3) < at(43, 3) && at(43, 3) <= at(43, 43), 'cells darken with their count');
});

t('price report: HTML with accuracy and backtest tables and every chart file', () => {
  const d = loadPriceCsvRows([path.join(ROOT, 'data/prices/MSFT.csv')]);
  const samples = makeSupervised(d.rows, { horizon: 1, lookback: 5 }).slice(-300);
  const predictions = samples.map((s, i) => (i % 2 ? 0.001 : -0.001) + s.window[4]![0]! * 0.01);
  const evaluation = evaluatePriceSamples(samples, predictions, 5);
  const dir = tmp();
  const file = writePriceReport(dir, { meta: { title: 'MSFT test', model: { name: 'price', version: 3, task: 'price' }, data: 'MSFT.csv' }, evaluation, samples, predictions });
  const html = readFileSync(file, 'utf8');
  for (const png of ['predicted_vs_actual_0.png', 'equity.png', 'errors.png']) {
    assert.ok(html.includes(`src="${png}"`), `${png} referenced`);
    assert.ok(decode(readFileSync(path.join(dir, png))).width > 100, `${png} is a PNG`);
  }
  assert.match(html, /price@3/);
  assert.match(html, /baseline: persistence/);
  assert.match(html, /buy and hold/);
});

t('sentiment report: summary, per-class table, confusion heatmap', () => {
  const r = classificationReport([0, 1, 2, 1, 1, 0], [0, 1, 1, 1, 2, 0], ['negative', 'neutral', 'positive']);
  const dir = tmp();
  const file = writeSentimentReport(dir, { meta: { title: 'sentiment <test>', model: { name: 'sentiment', version: 1, task: 'sentiment' }, data: 'x.csv' }, report: r });
  const html = readFileSync(file, 'utf8');
  assert.ok(html.includes('sentiment &lt;test&gt;'), 'the title is escaped');
  assert.ok(existsSync(path.join(dir, 'confusion.png')) && existsSync(path.join(dir, 'per_class.png')));
  assert.is(decode(readFileSync(path.join(dir, 'confusion.png'))).width, 3 * 110 + 2);
});

t.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

t.run();
