import { COLORS, formatTick, Raster, type Rgb } from './raster.ts';

/**
 * Simple PNG charts for the evaluation report: line chart, overlaid histogram, grouped bars and
 * a confusion-matrix heatmap. Each returns the PNG and the ranges it drew, so the HTML around
 * the image can state them.
 */
export interface LineSeries {
  label: string;
  values: readonly number[];
  color: Rgb;
}

export interface Chart {
  png: Buffer;
  width: number;
  height: number;
  /** Value ranges of the axes, for captions. */
  x: [number, number];
  y: [number, number];
}

interface Frame {
  r: Raster;
  left: number;
  top: number;
  plotW: number;
  plotH: number;
  yMin: number;
  yMax: number;
  sx: (i: number) => number;
  sy: (v: number) => number;
}

function finiteRange(values: Iterable<number>): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Number.POSITIVE_INFINITY) return [0, 1];
  if (lo === hi) return [lo - (Math.abs(lo) || 1) * 0.05, hi + (Math.abs(hi) || 1) * 0.05];
  const pad = (hi - lo) * 0.04;
  return [lo - pad, hi + pad];
}

/** White canvas, light grid, axes and y tick labels; returns scales for x in [0, xMax] and y in [yMin, yMax]. */
function frame(width: number, height: number, xMax: number, yMin: number, yMax: number): Frame {
  const r = new Raster(width, height);
  const left = 78;
  const top = 12;
  const plotW = width - left - 14;
  const plotH = height - top - 26;
  const sx = (i: number) => left + (xMax <= 0 ? 0 : (i / xMax) * plotW);
  const sy = (v: number) => top + plotH - ((v - yMin) / (yMax - yMin)) * plotH;
  for (let k = 0; k <= 4; k++) {
    const v = yMin + ((yMax - yMin) * k) / 4;
    const y = sy(v);
    r.line(left, y, left + plotW, y, COLORS.grid);
    const label = formatTick(v);
    r.text(left - 6 - Raster.textWidth(label), Math.round(y) - 5, label, COLORS.axis);
  }
  if (yMin < 0 && yMax > 0) r.line(left, sy(0), left + plotW, sy(0), COLORS.gray);
  r.line(left, top, left, top + plotH, COLORS.axis);
  r.line(left, top + plotH, left + plotW, top + plotH, COLORS.axis);
  return { r, left, top, plotW, plotH, yMin, yMax, sx, sy };
}

/** Lines over a shared index axis (0 … n−1). */
export function lineChart(series: readonly LineSeries[], opts: { width?: number; height?: number } = {}): Chart {
  const width = opts.width ?? 900;
  const height = opts.height ?? 320;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const [yMin, yMax] = finiteRange(series.flatMap((s) => s.values));
  const f = frame(width, height, n - 1, yMin, yMax);
  for (const s of series) {
    const pts: Array<[number, number]> = [];
    s.values.forEach((v, i) => {
      if (Number.isFinite(v)) pts.push([f.sx(i), f.sy(v)]);
    });
    f.r.polyline(pts, s.color, 2);
  }
  return { png: f.r.toPng(), width, height, x: [0, n - 1], y: [yMin, yMax] };
}

/** Overlaid histograms of several value sets on shared bins (translucent bars). */
export function histogram(groups: ReadonlyArray<{ label: string; values: readonly number[]; color: Rgb }>, opts: { bins?: number; width?: number; height?: number; clipQuantile?: number } = {}): Chart & { edges: number[]; counts: number[][] } {
  const width = opts.width ?? 900;
  const height = opts.height ?? 300;
  const bins = opts.bins ?? 50;
  // Clip the range to central quantiles so one outlier does not squash the picture.
  const all = groups.flatMap((g) => g.values.filter(Number.isFinite)).sort((a, b) => a - b);
  const q = opts.clipQuantile ?? 0.005;
  const lo = all.length ? all[Math.floor(q * (all.length - 1))]! : 0;
  const hi = all.length ? all[Math.ceil((1 - q) * (all.length - 1))]! : 1;
  const [x0, x1] = lo === hi ? [lo - 1, hi + 1] : [lo, hi];
  const edges = Array.from({ length: bins + 1 }, (_, i) => x0 + ((x1 - x0) * i) / bins);
  const counts = groups.map((g) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of g.values) {
      if (!Number.isFinite(v)) continue;
      const b = Math.min(bins - 1, Math.max(0, Math.floor(((v - x0) / (x1 - x0)) * bins)));
      c[b]!++;
    }
    return c;
  });
  const yMax = Math.max(1, ...counts.flat());
  const f = frame(width, height, bins, 0, yMax * 1.05);
  counts.forEach((c, gi) => {
    c.forEach((count, b) => {
      const xa = f.sx(b);
      const xb = f.sx(b + 1);
      const y = f.sy(count);
      f.r.fillRect(xa + 1, y, Math.max(1, xb - xa - 1), f.top + f.plotH - y, groups[gi]!.color, 0.45);
    });
  });
  const zero = x0 < 0 && x1 > 0 ? f.sx(((0 - x0) / (x1 - x0)) * bins) : undefined;
  if (zero !== undefined) f.r.line(zero, f.top, zero, f.top + f.plotH, COLORS.black);
  return { png: f.r.toPng(), width, height, x: [x0, x1], y: [0, yMax], edges, counts };
}

/** Grouped vertical bars: one group per category, one bar per series, values in [0, 1] typically. */
export function groupedBars(categories: readonly string[], series: ReadonlyArray<{ label: string; values: readonly number[]; color: Rgb }>, opts: { width?: number; height?: number; yMax?: number } = {}): Chart {
  const width = opts.width ?? 600;
  const height = opts.height ?? 280;
  const yMax = opts.yMax ?? Math.max(1e-9, ...series.flatMap((s) => s.values));
  const f = frame(width, height, categories.length, 0, yMax);
  const groupW = f.plotW / Math.max(1, categories.length);
  const barW = (groupW * 0.8) / Math.max(1, series.length);
  categories.forEach((_, ci) => {
    series.forEach((s, si) => {
      const v = s.values[ci] ?? 0;
      const x = f.left + ci * groupW + groupW * 0.1 + si * barW;
      const y = f.sy(v);
      f.r.fillRect(x, y, barW - 2, f.top + f.plotH - y, s.color);
    });
  });
  return { png: f.r.toPng(), width, height, x: [0, categories.length], y: [0, yMax] };
}

/** Confusion matrix as a heatmap (rows = true class, columns = predicted), each cell labelled with its count. */
export function heatmap(matrix: readonly (readonly number[])[], opts: { cell?: number } = {}): Chart {
  const cell = opts.cell ?? 110;
  const n = matrix.length;
  const width = n * cell + 2;
  const height = n * cell + 2;
  const r = new Raster(width, height);
  const max = Math.max(1, ...matrix.flat());
  matrix.forEach((row, i) =>
    row.forEach((v, j) => {
      const t = v / max;
      const color: Rgb = [Math.round(255 - t * (255 - 8)), Math.round(255 - t * (255 - 69)), Math.round(255 - t * (255 - 148))];
      r.fillRect(1 + j * cell, 1 + i * cell, cell - 1, cell - 1, color);
      const label = String(v);
      const scale = 3;
      r.text(1 + j * cell + (cell - Raster.textWidth(label, scale)) / 2, 1 + i * cell + (cell - 5 * scale) / 2, label, t > 0.5 ? COLORS.white : COLORS.black, scale);
    }),
  );
  return { png: r.toPng(), width, height, x: [0, n], y: [0, max] };
}
