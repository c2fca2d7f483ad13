import { PNG } from 'pngjs';

/**
 * A tiny RGB rasterizer for report charts: pixels, rectangles, thick lines, and a 3×5 pixel font
 * for numbers (digits, sign, point, percent, e). Encodes to PNG with pngjs. No anti-aliasing.
 */
export type Rgb = readonly [number, number, number];

export const COLORS = {
  white: [255, 255, 255],
  black: [0, 0, 0],
  grid: [225, 225, 225],
  axis: [90, 90, 90],
  blue: [31, 119, 180],
  orange: [255, 127, 14],
  green: [44, 160, 44],
  red: [214, 39, 40],
  purple: [148, 103, 189],
  gray: [127, 127, 127],
} as const satisfies Record<string, Rgb>;

/** 3×5 glyphs, one string of 15 bits per glyph, row-major. */
const GLYPHS: Record<string, string> = {
  '0': '111101101101111',
  '1': '010110010010111',
  '2': '111001111100111',
  '3': '111001111001111',
  '4': '101101111001001',
  '5': '111100111001111',
  '6': '111100111101111',
  '7': '111001010010010',
  '8': '111101111101111',
  '9': '111101111001111',
  '-': '000000111000000',
  '+': '000010111010000',
  '.': '000000000000010',
  '%': '101001010100101',
  e: '000111101110011',
  ' ': '000000000000000',
};

export class Raster {
  readonly data: Buffer;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = COLORS.white,
  ) {
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && width * height <= 16_000_000)) {
      throw Object.assign(new Error(`bad raster size ${width}×${height}`), { code: 'E_REPORT_SIZE' });
    }
    this.data = Buffer.alloc(width * height * 4);
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x: number, y: number, c: Rgb, alpha = 1): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    const o = (yi * this.width + xi) * 4;
    for (let k = 0; k < 3; k++) this.data[o + k] = Math.round(alpha * c[k]! + (1 - alpha) * this.data[o + k]!);
    this.data[o + 3] = 255;
  }

  getPixel(x: number, y: number): [number, number, number] {
    const o = (y * this.width + x) * 4;
    return [this.data[o]!, this.data[o + 1]!, this.data[o + 2]!];
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb, alpha = 1): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.setPixel(xx, yy, c, alpha);
  }

  /** Bresenham line with a square brush of `thickness` pixels. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    let x = Math.round(x0);
    let y = Math.round(y0);
    const xe = Math.round(x1);
    const ye = Math.round(y1);
    const dx = Math.abs(xe - x);
    const dy = -Math.abs(ye - y);
    const sx = x < xe ? 1 : -1;
    const sy = y < ye ? 1 : -1;
    let err = dx + dy;
    const r = Math.floor((thickness - 1) / 2);
    for (;;) {
      if (thickness <= 1) this.setPixel(x, y, c);
      else this.fillRect(x - r, y - r, thickness, thickness, c);
      if (x === xe && y === ye) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y += sy;
      }
    }
  }

  polyline(points: ReadonlyArray<readonly [number, number]>, c: Rgb, thickness = 1): void {
    for (let i = 1; i < points.length; i++) {
      const a = points[i - 1]!;
      const b = points[i]!;
      this.line(a[0], a[1], b[0], b[1], c, thickness);
    }
  }

  /** Draw `text` (digits, - + . % e and spaces) with its top-left corner at (x, y); returns the width drawn. */
  text(x: number, y: number, text: string, c: Rgb, scale = 2): number {
    let cx = x;
    for (const ch of text) {
      const g = GLYPHS[ch] ?? GLYPHS[' ']!;
      for (let i = 0; i < 15; i++) if (g[i] === '1') this.fillRect(cx + (i % 3) * scale, y + Math.floor(i / 3) * scale, scale, scale, c);
      cx += 4 * scale;
    }
    return cx - x;
  }

  static textWidth(text: string, scale = 2): number {
    return text.length * 4 * scale;
  }

  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    this.data.copy(png.data);
    return PNG.sync.write(png);
  }
}

/** Compact number label for axes: 3 significant digits, exponent for very large/small values. */
export function formatTick(v: number): string {
  if (!Number.isFinite(v)) return '';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}
