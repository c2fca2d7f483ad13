import { AppError, type FeatureVector } from '@stock-mlops/contracts';

/**
 * Turns the feature stream into model inputs. `FeatureHistory` keeps the last `capacity`
 * feature vectors per symbol in event-time order, independent of the model being served, so a
 * hot-swapped model can predict at once. `windowFor` cuts the window a model needs and refuses
 * vectors of another feature schema (E_SCHEMA_MISMATCH): a model never sees features it was not
 * trained on.
 */
export class PreprocessError extends AppError<'E_SCHEMA_MISMATCH' | 'E_INPUT_SHAPE' | 'E_INPUT_VALUE'> {
  constructor(code: 'E_SCHEMA_MISMATCH' | 'E_INPUT_SHAPE' | 'E_INPUT_VALUE', message: string) {
    super(code, message);
    this.name = 'PreprocessError';
  }
}

export interface InputSpec {
  lookback: number;
  schemaHash: string;
  nFeatures: number;
}

export function checkVector(spec: InputSpec, values: readonly number[], schemaHash: string): void {
  if (schemaHash !== spec.schemaHash) {
    throw new PreprocessError('E_SCHEMA_MISMATCH', `feature schema ${schemaHash.slice(0, 12)} does not match the model's ${spec.schemaHash.slice(0, 12)}`);
  }
  if (values.length !== spec.nFeatures) {
    throw new PreprocessError('E_INPUT_SHAPE', `expected ${spec.nFeatures} features, got ${values.length}`);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new PreprocessError('E_INPUT_VALUE', `feature ${i} is not a finite number`);
  }
}

export class FeatureHistory {
  private readonly bySymbol = new Map<string, FeatureVector[]>();

  constructor(readonly capacity = 128) {}

  /** Add a vector; returns false when it is older than (or equal to) the newest one kept. */
  push(fv: FeatureVector): boolean {
    let list = this.bySymbol.get(fv.symbol);
    if (!list) {
      list = [];
      this.bySymbol.set(fv.symbol, list);
    }
    const last = list[list.length - 1];
    if (last && fv.ts <= last.ts) return false;
    list.push(fv);
    if (list.length > this.capacity) list.shift();
    return true;
  }

  /** Replace a symbol's history with these vectors (ascending by ts; the newest `capacity` are kept). */
  replace(symbol: string, vectors: readonly FeatureVector[]): void {
    const list: FeatureVector[] = [];
    for (const fv of vectors) if (list.length === 0 || fv.ts > list[list.length - 1]!.ts) list.push(fv);
    this.bySymbol.set(symbol, list.slice(-this.capacity));
  }

  /** The newest `n` vectors of a symbol, ascending. */
  /** Forget a symbol (its partition moved to another replica: this history would go stale). */
  drop(symbol: string): void {
    this.bySymbol.delete(symbol);
  }

  tail(symbol: string, n: number): FeatureVector[] {
    return (this.bySymbol.get(symbol) ?? []).slice(-n);
  }

  latest(symbol: string): FeatureVector | undefined {
    const list = this.bySymbol.get(symbol);
    return list?.[list.length - 1];
  }

  has(symbol: string): boolean {
    return this.bySymbol.has(symbol);
  }

  symbols(): string[] {
    return [...this.bySymbol.keys()];
  }

  /** The last `lookback` vectors ending at `endTs` (default: the newest), or undefined while warming up. */
  windowFor(symbol: string, spec: InputSpec, endTs?: string): number[][] | undefined {
    const list = this.bySymbol.get(symbol);
    if (!list) return undefined;
    let end = list.length;
    if (endTs !== undefined) {
      while (end > 0 && list[end - 1]!.ts > endTs) end--;
    }
    if (end < spec.lookback) return undefined;
    const rows = list.slice(end - spec.lookback, end);
    for (const r of rows) checkVector(spec, r.values, r.schemaHash);
    return rows.map((r) => [...r.values]);
  }

  /** Window whose newest step is `values` (explicit features), preceded by the symbol's history. */
  windowWithExplicit(symbol: string, spec: InputSpec, values: number[]): number[][] | undefined {
    checkVector(spec, values, spec.schemaHash);
    if (spec.lookback === 1) return [values];
    const list = this.bySymbol.get(symbol);
    if (!list || list.length < spec.lookback - 1) return undefined;
    const rows = list.slice(-(spec.lookback - 1));
    for (const r of rows) checkVector(spec, r.values, r.schemaHash);
    return [...rows.map((r) => [...r.values]), values];
  }
}
