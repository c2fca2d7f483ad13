/**
 * Leakage guards. A sample leaks when any of its inputs is observed at or after the first
 * timestamp of its label window; a split leaks when a label window of an earlier split reaches
 * the as-of time of a sample in the next split (its labels would be computed from prices the
 * next split is evaluated on).
 */
import { ML_ERROR_CODES, MlError } from '../evaluation/errors.ts';
import type { SampleTiming } from './supervised.ts';

/** 'time': one timeline pooled across symbols; 'symbol': each symbol on its own timeline. */
export type SplitBy = 'time' | 'symbol';

type Timing = Pick<SampleTiming, 'symbol' | 'ts' | 'labelEnd'>;

function leakage(message: string, details: Record<string, unknown>): MlError {
  return new MlError(ML_ERROR_CODES.DATA_LEAKAGE, message, details);
}

/** Throws E_DATA_LEAKAGE if any input timestamp (or the as-of time) is >= the sample's labelStart. */
export function assertNoLeakage(samples: readonly SampleTiming[]): void {
  samples.forEach((s, i) => {
    const details = { index: i, symbol: s.symbol, ts: s.ts, labelStart: s.labelStart, labelEnd: s.labelEnd };
    if (!(s.ts < s.labelStart)) throw leakage(`sample ${i} (${s.symbol} @ ${s.ts}): as-of time is not before labelStart`, details);
    if (!(s.labelStart <= s.labelEnd)) throw leakage(`sample ${i} (${s.symbol} @ ${s.ts}): labelStart is after labelEnd`, details);
    const late = s.inputTs.findIndex((t) => !(t < s.labelStart));
    if (late >= 0) {
      throw leakage(`sample ${i} (${s.symbol} @ ${s.ts}): input ${late} at ${String(s.inputTs[late])} is not before labelStart`, {
        ...details,
        inputIndex: late,
      });
    }
  });
}

/**
 * Earliest as-of time of `later`, per symbol ('symbol') or overall under the key '' ('time').
 * Samples of an earlier split must have labelEnd strictly before it.
 */
export function nextSplitStart(later: readonly Timing[], by: SplitBy): Map<string, number> {
  const start = new Map<string, number>();
  for (const s of later) {
    const key = by === 'symbol' ? s.symbol : '';
    start.set(key, Math.min(start.get(key) ?? Number.POSITIVE_INFINITY, s.ts));
  }
  return start;
}

export function labelReachesNextSplit(sample: Timing, start: ReadonlyMap<string, number>, by: SplitBy): boolean {
  const cutoff = start.get(by === 'symbol' ? sample.symbol : '');
  return cutoff !== undefined && sample.labelEnd >= cutoff;
}

/** Throws E_DATA_LEAKAGE if a label window of a split reaches the as-of time of the next split. */
export function assertSplitsEmbargoed(splits: readonly (readonly Timing[])[], by: SplitBy = 'time'): void {
  for (let k = 0; k + 1 < splits.length; k++) {
    const start = nextSplitStart(splits[k + 1] as readonly Timing[], by);
    const bad = (splits[k] as readonly Timing[]).find((s) => labelReachesNextSplit(s, start, by));
    if (bad) {
      throw leakage(`split ${k} sample (${bad.symbol} @ ${bad.ts}) has labelEnd ${bad.labelEnd} at or after the start of split ${k + 1}`, {
        split: k,
        symbol: bad.symbol,
        ts: bad.ts,
        labelEnd: bad.labelEnd,
      });
    }
  }
}
