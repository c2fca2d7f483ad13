import { Cleaner, type CleanBar, type CleanerOptions, type CleanerSnapshot, type Rejection } from './clean.ts';
import { FEATURE_SCHEMA, FeatureEngine, type FeatureEngineSnapshot } from './feature_engineering.ts';
import type { Bar } from './bar.ts';

/**
 * One symbol's streaming transform: Cleaner (dedupe, watermark, flags) → FeatureEngine.
 * Pure and serializable: the service persists `snapshot()` (with the last input offset it
 * covers) before committing Kafka offsets, and restores it after restarts or rebalances, so a
 * redelivered record is recognised and skipped instead of being processed twice.
 */
export interface PipelineOutput {
  clean: CleanBar[];
  features: Array<{ bar: CleanBar; vector: number[] }>;
  rejected: Rejection[];
}

export interface PipelineSnapshot {
  kind: 'SymbolPipeline';
  schemaHash: string;
  symbol: string;
  /** Highest input offset (per source partition) already reflected in this state. */
  offsets: Record<string, string>;
  cleaner: CleanerSnapshot;
  engine: FeatureEngineSnapshot;
}

export class SymbolPipeline {
  private offsets: Record<string, string> = {};

  private constructor(
    readonly symbol: string,
    private readonly cleaner: Cleaner,
    private readonly engine: FeatureEngine,
  ) {}

  static create(symbol: string, options: Omit<CleanerOptions, 'symbol'> = {}): SymbolPipeline {
    return new SymbolPipeline(symbol, new Cleaner({ ...options, symbol }), new FeatureEngine(symbol));
  }

  /** Restore; returns undefined when the snapshot was taken under another feature schema. */
  static restore(s: PipelineSnapshot): SymbolPipeline | undefined {
    if (s.kind !== 'SymbolPipeline' || s.schemaHash !== FEATURE_SCHEMA.hash) return undefined;
    const p = new SymbolPipeline(s.symbol, Cleaner.restore(s.cleaner), FeatureEngine.restore(s.engine));
    p.offsets = { ...s.offsets };
    return p;
  }

  /** True when the record at `offset` of `partitionKey` is already reflected in the state. */
  seen(partitionKey: string, offset: string): boolean {
    const last = this.offsets[partitionKey];
    return last !== undefined && BigInt(offset) <= BigInt(last);
  }

  push(bar: Bar, position?: { partitionKey: string; offset: string }): PipelineOutput {
    const r = this.cleaner.push(bar);
    if (position) this.offsets[position.partitionKey] = position.offset;
    return { ...this.features(r.emitted), rejected: r.rejected };
  }

  /** Release every bar held for reordering (the symbol went idle). */
  flush(): PipelineOutput {
    return { ...this.features(this.cleaner.flush()), rejected: [] };
  }

  get pending(): number {
    return this.cleaner.pending;
  }

  private features(emitted: CleanBar[]): Omit<PipelineOutput, 'rejected'> {
    const features: PipelineOutput['features'] = [];
    for (const bar of emitted) {
      const u = this.engine.update(bar);
      if (u.ready) features.push({ bar, vector: u.vector });
    }
    return { clean: emitted, features };
  }

  snapshot(): PipelineSnapshot {
    return {
      kind: 'SymbolPipeline',
      schemaHash: FEATURE_SCHEMA.hash,
      symbol: this.symbol,
      offsets: { ...this.offsets },
      cleaner: this.cleaner.snapshot(),
      engine: this.engine.snapshot(),
    };
  }
}
