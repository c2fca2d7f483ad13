import { createHash } from 'node:crypto';
import type { FeatureVector } from '@stock-mlops/contracts';
import type { FeatureRow } from '../datasets/supervised.ts';

/**
 * Feature vectors (from MongoDB or computed in process from CSV files) → training rows, all of
 * one feature schema, with lineage: the event ids that went in, summarized by a checksum.
 */
export interface RowsWithLineage {
  rows: FeatureRow[];
  schemaHash: string;
  names: string[];
  lineage: { rows: number; eventIdsSha256: string; firstEventId: string; lastEventId: string; symbols: string[]; droppedOtherSchema: number };
}

export function featureRows(docs: ReadonlyArray<FeatureVector & { eventId?: string }>, opts: { maxRowsPerSymbol?: number; symbols?: string[] } = {}): RowsWithLineage {
  const counts = new Map<string, number>();
  for (const d of docs) counts.set(d.schemaHash, (counts.get(d.schemaHash) ?? 0) + 1);
  // Train on the newest schema present (the one the newest vector carries).
  const newest = [...docs].sort((a, b) => (a.ts < b.ts ? 1 : -1))[0];
  const schemaHash = newest?.schemaHash ?? '';
  const names = newest?.names ?? [];
  let picked = docs.filter((d) => d.schemaHash === schemaHash && (!opts.symbols || opts.symbols.includes(d.symbol)));
  if (opts.maxRowsPerSymbol && opts.maxRowsPerSymbol > 0) {
    const by = new Map<string, Array<(typeof picked)[number]>>();
    for (const d of picked) by.set(d.symbol, [...(by.get(d.symbol) ?? []), d]);
    picked = [...by.values()].flatMap((list) => list.sort((a, b) => (a.ts < b.ts ? -1 : 1)).slice(-opts.maxRowsPerSymbol!));
  }
  picked.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.ts < b.ts ? -1 : 1));
  const ids = picked.map((d) => d.eventId ?? `${d.symbol}|${d.ts}`);
  return {
    rows: picked.map((d) => ({ symbol: d.symbol, ts: Date.parse(d.ts), close: d.close, vector: d.values })),
    schemaHash,
    names,
    lineage: {
      rows: picked.length,
      eventIdsSha256: createHash('sha256').update([...ids].sort().join('\n')).digest('hex'),
      firstEventId: ids[0] ?? '',
      lastEventId: ids[ids.length - 1] ?? '',
      symbols: [...new Set(picked.map((d) => d.symbol))].sort(),
      droppedOtherSchema: docs.length - docs.filter((d) => d.schemaHash === schemaHash).length,
    },
  };
}
