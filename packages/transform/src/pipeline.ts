import type { Bar } from './bar.ts';
import { Cleaner, type CleanBar, type CleanerOptions, type CleanerSnapshot, type Rejection, validateBar } from './clean.ts';
import { TransformError } from './errors.ts';
import { FEATURE_SCHEMA, FeatureEngine, type FeatureEngineSnapshot } from './feature_engineering.ts';
import { checkSnapshot } from './features/state.ts';
import { type FactOutcome, type FinancialFact, FundamentalsJoin, type FundamentalsSnapshot } from './joins/fundamentals.ts';
import { NewsJoin, type NewsSnapshot, type ScoreOutcome, type SentimentScore } from './joins/news.ts';
import { dayNumber } from './joins/time.ts';
import { RollingZScore, type RollingZScoreSnapshot } from './normalize.ts';
import { PIPELINE_SCHEMA, ROLLING_Z_INPUTS, ROLLING_Z_WINDOW } from './pipeline_schema.ts';

/**
 * One symbol's streaming transform: Cleaner (dedupe, watermark, flags) → FeatureEngine →
 * point-in-time joins (financial facts, news sentiment) → rolling z-scores, emitting vectors in
 * PIPELINE_SCHEMA order.
 *
 * Pure and serializable: the service persists `snapshot()` (with the last input offset per
 * source partition it covers) before committing Kafka offsets and restores it after restarts or
 * rebalances, so a redelivered record is recognised and skipped instead of being applied twice.
 *
 * Ordering across inputs: facts and sentiment scores change the join state when they are added;
 * a bar's joined features are computed when the Cleaner releases the bar. So a fact or an
 * article affects exactly the bars released after it was added (and then only if it is
 * point-in-time visible to them: filed before the bar's day, published before the bar's start);
 * bars already emitted are never revised. The output is a deterministic function of the input
 * sequence.
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
  fundamentals: FundamentalsSnapshot;
  news: NewsSnapshot;
  zscore: RollingZScoreSnapshot;
  /** ts of the last bar released (the start of the next bar's "since the last bar" news window). */
  lastBarTs: string | null;
}

export type Position = { partitionKey: string; offset: string };

const ATR = FEATURE_SCHEMA.names.indexOf('atr_14');
const VOLATILITY = FEATURE_SCHEMA.names.indexOf('volatility_20');

export class SymbolPipeline {
  private offsets: Record<string, string> = {};
  private lastBarTs: string | undefined;

  private constructor(
    readonly symbol: string,
    private readonly cleaner: Cleaner,
    private readonly engine: FeatureEngine,
    private readonly fundamentals: FundamentalsJoin,
    private readonly news: NewsJoin,
    private readonly zscore: RollingZScore,
  ) {}

  static create(symbol: string, options: Omit<CleanerOptions, 'symbol'> = {}): SymbolPipeline {
    return new SymbolPipeline(
      symbol,
      new Cleaner({ ...options, symbol }),
      new FeatureEngine(symbol),
      new FundamentalsJoin(),
      new NewsJoin(),
      new RollingZScore(ROLLING_Z_WINDOW, ROLLING_Z_INPUTS.length),
    );
  }

  /**
   * Restore; returns undefined when the snapshot was taken under another feature schema (the
   * caller starts fresh). @throws TransformError E_BAD_SNAPSHOT when it is malformed.
   */
  static restore(s: PipelineSnapshot): SymbolPipeline | undefined {
    if (s?.kind !== 'SymbolPipeline' || s.schemaHash !== PIPELINE_SCHEMA.hash) return undefined;
    checkSnapshot(s.lastBarTs === null || typeof s.lastBarTs === 'string', 'SymbolPipeline.lastBarTs');
    checkSnapshot(typeof s.offsets === 'object' && s.offsets !== null && Object.values(s.offsets).every((o) => /^\d+$/.test(o)), 'SymbolPipeline.offsets');
    const p = new SymbolPipeline(
      s.symbol,
      Cleaner.restore(s.cleaner),
      FeatureEngine.restore(s.engine),
      FundamentalsJoin.restore(s.fundamentals),
      NewsJoin.restore(s.news),
      RollingZScore.restore(s.zscore),
    );
    checkSnapshot(p.cleaner.symbol === s.symbol && p.engine.symbol === s.symbol, 'SymbolPipeline.symbol');
    p.offsets = { ...s.offsets };
    p.lastBarTs = s.lastBarTs ?? undefined;
    return p;
  }

  /** True when the record at `offset` of `partitionKey` is already reflected in the state. */
  seen(partitionKey: string, offset: string): boolean {
    const last = this.offsets[partitionKey];
    return last !== undefined && BigInt(offset) <= BigInt(last);
  }

  push(bar: Bar, position?: Position): PipelineOutput {
    const r = this.cleaner.push(bar);
    this.advance(position);
    return { ...this.features(r.emitted), rejected: r.rejected };
  }

  /** Adds a financial fact for this symbol (affects bars released from now on). */
  addFact(fact: FinancialFact, position?: Position): FactOutcome {
    this.advance(position);
    if (fact.symbol !== this.symbol) return { ok: false, code: 'E_BAD_FACT', reason: `fact for ${fact.symbol} given to the ${this.symbol} pipeline` };
    return this.fundamentals.add(fact);
  }

  /** Adds a news sentiment score for this symbol (affects bars released from now on). */
  addSentiment(score: SentimentScore, position?: Position): ScoreOutcome {
    this.advance(position);
    if (score.symbol !== this.symbol) return { ok: false, code: 'E_BAD_SCORE', reason: `score for ${score.symbol} given to the ${this.symbol} pipeline` };
    return this.news.add(score);
  }

  /** Release every bar held for reordering (the symbol went idle). */
  flush(): PipelineOutput {
    return { ...this.features(this.cleaner.flush()), rejected: [] };
  }

  get pending(): number {
    return this.cleaner.pending;
  }

  /** Stored facts and articles (for metrics). */
  get joinSizes(): { facts: number; articles: number } {
    return { facts: this.fundamentals.size, articles: this.news.size };
  }

  private advance(position: Position | undefined): void {
    if (position) this.offsets[position.partitionKey] = position.offset;
  }

  private features(emitted: CleanBar[]): Omit<PipelineOutput, 'rejected'> {
    const features: PipelineOutput['features'] = [];
    for (const bar of emitted) {
      const u = this.engine.update(bar);
      const tsMs = Date.parse(bar.ts);
      const prevMs = this.lastBarTs === undefined ? undefined : Date.parse(this.lastBarTs);
      this.lastBarTs = bar.ts;
      if (u.ready) {
        const day = dayNumber(bar.ts);
        const fundamentals = this.fundamentals.features(day, bar.close / bar.adjFactor);
        const news = this.news.features(tsMs, prevMs);
        const z = this.zscore.update([u.vector[ATR] as number, u.vector[VOLATILITY] as number, Math.log1p(bar.volume)]);
        const vector = [...u.vector, ...fundamentals, ...news, ...(z.ready ? z.z : ROLLING_Z_INPUTS.map(() => 0)), z.ready ? 1 : 0];
        for (let i = 0; i < vector.length; i++) {
          if (!Number.isFinite(vector[i])) throw new TransformError('E_NOT_FINITE', `feature ${PIPELINE_SCHEMA.names[i]} is ${vector[i]} at ${bar.ts}`, { symbol: this.symbol });
        }
        features.push({ bar, vector });
      }
      this.fundamentals.prune(dayNumber(bar.ts));
      this.news.prune(tsMs);
    }
    return { clean: emitted, features };
  }

  snapshot(): PipelineSnapshot {
    return {
      kind: 'SymbolPipeline',
      schemaHash: PIPELINE_SCHEMA.hash,
      symbol: this.symbol,
      offsets: { ...this.offsets },
      cleaner: this.cleaner.snapshot(),
      engine: this.engine.snapshot(),
      fundamentals: this.fundamentals.snapshot(),
      news: this.news.snapshot(),
      zscore: this.zscore.snapshot(),
      lastBarTs: this.lastBarTs ?? null,
    };
  }
}

export interface PipelineRow {
  symbol: string;
  interval: string;
  ts: string;
  close: number;
  /** PIPELINE_SCHEMA.names order. */
  vector: number[];
}

/** One input of `computePipelineFeatures`, in arrival order. */
export type PipelineEvent = Bar | { fact: FinancialFact } | { sentiment: SentimentScore };

/**
 * Batch run of the streaming pipeline, in process: one SymbolPipeline per symbol, inputs in the
 * given order (bars, facts and sentiment scores interleaved as they would arrive), every symbol
 * flushed at the end. This is exactly what the transformer computes for the same input order
 * (tests compare MongoDB with it); rows are in emission order.
 */
export function computePipelineFeatures(
  events: readonly PipelineEvent[],
  options: Omit<CleanerOptions, 'symbol'> = {},
): { clean: CleanBar[]; rows: PipelineRow[]; rejected: Rejection[]; joinRejected: Array<{ code: string; reason: string }> } {
  const pipelines = new Map<string, SymbolPipeline>();
  const clean: CleanBar[] = [];
  const rows: PipelineRow[] = [];
  const rejected: Rejection[] = [];
  const joinRejected: Array<{ code: string; reason: string }> = [];
  const pipeline = (symbol: string): SymbolPipeline => {
    let p = pipelines.get(symbol);
    if (!p) {
      p = SymbolPipeline.create(symbol, options);
      pipelines.set(symbol, p);
    }
    return p;
  };
  const take = (out: PipelineOutput): void => {
    clean.push(...out.clean);
    for (const { bar, vector } of out.features) rows.push({ symbol: bar.symbol, interval: bar.interval, ts: bar.ts, close: bar.close, vector });
    rejected.push(...out.rejected);
  };
  for (const e of events) {
    if ('fact' in e) {
      const r = pipeline(e.fact.symbol).addFact(e.fact);
      if (!r.ok) joinRejected.push(r);
    } else if ('sentiment' in e) {
      const r = pipeline(e.sentiment.symbol).addSentiment(e.sentiment);
      if (!r.ok) joinRejected.push(r);
    } else {
      const v = validateBar(e);
      if (!v.ok) rejected.push({ bar: e, code: v.code, reason: v.reason });
      else take(pipeline(e.symbol).push(e));
    }
  }
  for (const p of pipelines.values()) take(p.flush());
  return { clean, rows, rejected, joinRejected };
}
