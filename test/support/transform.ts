/** Shared fixtures for the transform tests: the real price files and small bar builders. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { mulberry32 } from '@stock-mlops/contracts';
import { fileURLToPath } from 'node:url';
import { type Bar, parseYahooCsv } from '@stock-mlops/transform';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDataDir = process.env.SHARED_DATA_DIR ?? path.resolve(repoRoot, '../shared/data');
export const pricesDir = path.join(sharedDataDir, 'prices');

/** Absolute paths of every shared daily price CSV, sorted. */
export function priceFiles(): string[] {
  return readdirSync(pricesDir)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => path.join(pricesDir, f));
}

export function symbolOf(file: string): string {
  return path.basename(file).replace(/\.csv$/, '');
}

export function loadBars(file: string): Bar[] {
  const { bars } = parseYahooCsv(readFileSync(file, 'utf8'), symbolOf(file), 'yahoo-csv');
  return bars;
}

/** A valid daily bar; override any field. */
export function makeBar(overrides: Partial<Bar> = {}): Bar {
  return {
    symbol: 'TEST',
    ts: '2020-01-02T00:00:00.000Z',
    interval: '1d',
    open: 10,
    high: 11,
    low: 9,
    close: 10.5,
    volume: 1000,
    source: 'unit',
    ...overrides,
  };
}

/** ISO ts of day `i` after 2020-01-01 (UTC midnight). */
export function day(i: number): string {
  return new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString();
}

/** Deterministic PRNG (mulberry32) for reproducible synthetic perturbations. */
export const prng = mulberry32;
