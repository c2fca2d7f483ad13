import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AppError, SYMBOL_RE } from '@stock-mlops/contracts';
import { computePipelineFeatures, parseYahooCsv, PIPELINE_SCHEMA, type Bar } from '@stock-mlops/transform';
import type { FeatureRow } from '../datasets/supervised.ts';
import type { RowsWithLineage } from './rows.ts';

/**
 * Training rows from daily OHLCV CSV files (Date,Open,High,Low,Close[,Adj Close],Volume), built
 * with the stream's own code: packages/transform's parseYahooCsv, then computePipelineFeatures —
 * the transformer's SymbolPipeline run in process (Cleaner → FeatureEngine → joins → rolling
 * z-scores) — so a file and the stream give identical vectors in the published schema
 * (PIPELINE_SCHEMA; a CSV carries no financial facts or news, so those joins hold their
 * "nothing known" values, as in the stream for a symbol without them). Lineage names each file
 * by its sha256.
 */
export const PRICE_FEATURE_SCHEMA = PIPELINE_SCHEMA;
export class PriceCsvError extends AppError<'E_CSV_SYMBOL' | 'E_CSV_EMPTY'> {
  constructor(code: 'E_CSV_SYMBOL' | 'E_CSV_EMPTY', message: string) {
    super(code, message);
    this.name = 'PriceCsvError';
  }
}

export interface PriceCsvFile {
  path: string;
  /** Default: the file name without extension, upper-cased (AAPL.csv → AAPL). */
  symbol?: string;
}

export interface CsvFileLineage {
  file: string;
  sha256: string;
  symbol: string;
  bars: number;
  rejectedLines: number;
  rejectedBars: number;
  featureRows: number;
  from: string;
  to: string;
}

export interface CsvRows extends RowsWithLineage {
  files: CsvFileLineage[];
}

export function symbolFromPath(file: string): string {
  const symbol = path.basename(file).replace(/\.(csv|txt)$/i, '').toUpperCase();
  if (!SYMBOL_RE.test(symbol)) throw new PriceCsvError('E_CSV_SYMBOL', `cannot derive a symbol from ${file}: "${symbol}" does not match ${SYMBOL_RE.source}`);
  return symbol;
}

/** Parse one CSV text into bars (ascending) and count what the parser rejected. */
export function parsePriceCsv(text: string, symbol: string): { bars: Bar[]; rejectedLines: number } {
  const { bars, rejected } = parseYahooCsv(text, symbol, 'yahoo-csv');
  return { bars, rejectedLines: rejected.length };
}

/** Bars → feature rows (PRICE_FEATURE_SCHEMA order) with the transformer's code path. */
export function featureRowsFromBars(bars: readonly Bar[]): { rows: FeatureRow[]; rejected: number } {
  const computed = computePipelineFeatures(bars);
  return {
    rows: computed.rows.map((r) => ({ symbol: r.symbol, ts: Date.parse(r.ts), close: r.close, vector: r.vector })),
    rejected: computed.rejected.length,
  };
}

/** Read CSV files (one symbol each) into training rows of the current feature schema, with lineage. */
export function loadPriceCsvRows(files: ReadonlyArray<string | PriceCsvFile>, opts: { symbols?: string[]; maxRowsPerSymbol?: number } = {}): CsvRows {
  const lineage: CsvFileLineage[] = [];
  const rows: FeatureRow[] = [];
  for (const f of files) {
    const file = typeof f === 'string' ? { path: f } : f;
    const symbol = file.symbol ?? symbolFromPath(file.path);
    if (opts.symbols && !opts.symbols.includes(symbol)) continue;
    const bytes = readFileSync(file.path);
    const { bars, rejectedLines } = parsePriceCsv(bytes.toString('utf8'), symbol);
    const computed = featureRowsFromBars(bars);
    let picked = computed.rows;
    if (opts.maxRowsPerSymbol && opts.maxRowsPerSymbol > 0) picked = picked.slice(-opts.maxRowsPerSymbol);
    if (picked.length === 0) throw new PriceCsvError('E_CSV_EMPTY', `${file.path}: no feature rows (${bars.length} bars parsed, ${rejectedLines} lines rejected)`);
    rows.push(...picked);
    lineage.push({
      file: path.resolve(file.path),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      symbol,
      bars: bars.length,
      rejectedLines,
      rejectedBars: computed.rejected,
      featureRows: picked.length,
      from: new Date(picked[0]!.ts).toISOString(),
      to: new Date(picked[picked.length - 1]!.ts).toISOString(),
    });
  }
  const symbols = [...new Set(rows.map((r) => r.symbol))].sort();
  const ids = rows.map((r) => `${r.symbol}|${new Date(r.ts).toISOString()}`);
  return {
    rows,
    schemaHash: PRICE_FEATURE_SCHEMA.hash,
    names: [...PRICE_FEATURE_SCHEMA.names],
    files: lineage,
    lineage: {
      rows: rows.length,
      eventIdsSha256: createHash('sha256').update([...ids].sort().join('\n')).digest('hex'),
      firstEventId: ids[0] ?? '',
      lastEventId: ids[ids.length - 1] ?? '',
      symbols,
      droppedOtherSchema: 0,
    },
  };
}
