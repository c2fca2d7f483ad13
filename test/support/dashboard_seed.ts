/** Seed data of the dashboard's browser tests: daily bars from the bundled CSVs in the loader's form, and price predictions. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** A price prediction as the predictor publishes it (and the loader stores it, plus `_id` and `eventId`). */
export function prediction(symbol: string, asOf: string, lastClose: number, r: number, version = 2) {
  return {
    symbol,
    interval: '1d',
    asOf,
    horizon: 1,
    lastClose,
    predictedReturn: r,
    predictedPrice: +(lastClose * (1 + r)).toFixed(4),
    model: { name: 'price', version },
    featureSchemaHash: 'abcdef0123456789',
    latencyMs: 3.5,
  };
}

/** The newest `n` daily bars of a bundled symbol (data/prices), as documents of the `bars` collection. */
export function csvBars(symbol: string, n: number) {
  const lines = readFileSync(path.join(ROOT, 'data/prices', `${symbol}.csv`), 'utf8').trim().split('\n').slice(1).slice(-n);
  return lines.map((l) => {
    const [date, open, high, low, close, , volume] = l.split(',');
    const ts = `${date}T00:00:00.000Z`;
    return { _id: `${symbol}|1d|${ts}`, symbol, interval: '1d', ts, open: +open!, high: +high!, low: +low!, close: +close!, volume: +volume!, adjFactor: 1, zeroVolume: false, outlier: false, eventId: `e-${symbol}-${date}` };
  });
}
