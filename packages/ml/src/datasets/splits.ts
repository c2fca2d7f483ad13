/**
 * Walk-forward (time-ordered) splits with an embargo.
 *
 * The timeline is the sorted list of distinct as-of timestamps: pooled across symbols
 * (`by: 'time'`, the default: every split covers one calendar period for all symbols) or per
 * symbol (`by: 'symbol'`: each symbol's history is split by its own fractions, so one symbol's
 * test period may overlap another's training period in calendar time).
 *
 * Between consecutive splits `embargo` timeline periods are dropped. With embargo >= horizon
 * (enforced), the label window (t+1 … t+h) of the last sample of a split ends before the as-of
 * time of the first sample of the next split. Calendars that differ between symbols can still
 * stretch a label window across the gap in pooled mode; such samples are purged from the
 * earlier split and counted in `purged`. To keep whole input windows of the next split clear of
 * earlier labels too, use embargo >= horizon + lookback − 1.
 */
import { ML_ERROR_CODES, MlError } from '../evaluation/errors.ts';
import { labelReachesNextSplit, nextSplitStart, type SplitBy } from './leakage.ts';
import { compareByTime, type SampleTiming } from './supervised.ts';

export type { SplitBy } from './leakage.ts';

export interface WalkForwardSplitOptions {
  trainFrac: number;
  valFrac: number;
  testFrac: number;
  /** Timeline periods dropped between consecutive splits (>= the samples' horizon). */
  embargo: number;
  by?: SplitBy;
}

export interface WalkForwardSplit<S> {
  train: S[];
  val: S[];
  test: S[];
  /** Samples removed from an earlier split because their label window reached the next one. */
  purged: number;
}

export interface WalkForwardFoldsOptions {
  /** Number of expanding-window folds (>= 1). */
  folds: number;
  embargo: number;
  /** Share of the timeline always in training, before the first test block; default 1/(folds+1). */
  minTrainFrac?: number;
  by?: SplitBy;
}

export interface WalkForwardFold<S> {
  fold: number;
  train: S[];
  test: S[];
  purged: number;
}

/** Half-open [start, end) index ranges into a timeline, one per output group. */
type Ranges = Array<readonly [number, number]>;

function datasetError(message: string, details?: Record<string, unknown>): MlError {
  return new MlError(ML_ERROR_CODES.DATASET_INPUT, message, details);
}

function assertEmbargo<S extends SampleTiming>(samples: readonly S[], embargo: number): void {
  if (!Number.isInteger(embargo) || embargo < 0) throw datasetError(`embargo must be an integer >= 0, got ${embargo}`);
  const horizon = samples.reduce((h, s) => Math.max(h, s.horizon), 0);
  if (embargo < horizon) {
    throw datasetError(`embargo (${embargo}) must be >= the label horizon (${horizon}) so labels never reach the next split`, {
      embargo,
      horizon,
    });
  }
}

/** Places each sample in the range holding its timeline index; samples outside every range are dropped. */
function partition<S extends SampleTiming>(samples: readonly S[], by: SplitBy, rangesFor: (length: number, symbol?: string) => Ranges): S[][] {
  const groupsOf = new Map<string, S[]>();
  for (const s of samples) {
    const key = by === 'symbol' ? s.symbol : '';
    const group = groupsOf.get(key);
    if (group) group.push(s);
    else groupsOf.set(key, [s]);
  }
  let out: S[][] | undefined;
  for (const [key, group] of groupsOf) {
    const timeline = [...new Set(group.map((s) => s.ts))].sort((a, b) => a - b);
    const position = new Map(timeline.map((ts, i) => [ts, i]));
    const ranges = rangesFor(timeline.length, by === 'symbol' ? key : undefined);
    out ??= ranges.map(() => []);
    for (const s of group) {
      const i = position.get(s.ts) as number;
      const r = ranges.findIndex(([start, end]) => i >= start && i < end);
      if (r >= 0) (out[r] as S[]).push(s);
    }
  }
  return (out ?? []).map((g) => g.sort(compareByTime));
}

/** Drops samples of `earlier` whose label window reaches the first as-of time of `later`. */
function purge<S extends SampleTiming>(earlier: S[], later: readonly S[], by: SplitBy): { kept: S[]; purged: number } {
  const start = nextSplitStart(later, by);
  const kept = earlier.filter((s) => !labelReachesNextSplit(s, start, by));
  return { kept, purged: earlier.length - kept.length };
}

function tooShort(length: number, needed: number, symbol?: string): MlError {
  const where = symbol === undefined ? 'the pooled timeline' : `symbol ${symbol}`;
  return datasetError(`${where} has ${length} periods, too few for the requested splits (needs >= ${needed})`, { length, symbol });
}

/** Train/validation/test split in time order with `embargo` periods dropped between splits. */
export function walkForwardSplit<S extends SampleTiming>(samples: readonly S[], options: WalkForwardSplitOptions): WalkForwardSplit<S> {
  const { trainFrac, valFrac, testFrac, embargo, by = 'time' } = options;
  const fracs = [trainFrac, valFrac, testFrac];
  if (!fracs.every((f) => Number.isFinite(f) && f >= 0) || !(trainFrac > 0) || Math.abs(trainFrac + valFrac + testFrac - 1) > 1e-9) {
    throw datasetError(`trainFrac, valFrac, testFrac must be >= 0 with trainFrac > 0 and sum 1, got ${fracs.join(', ')}`);
  }
  assertEmbargo(samples, embargo);
  const active = fracs.map((f, i) => (f > 0 ? i : -1)).filter((i) => i >= 0);
  const groups = partition(samples, by, (length, symbol) => {
    const usable = length - embargo * (active.length - 1);
    const ranges: Array<[number, number]> = [
      [0, 0],
      [0, 0],
      [0, 0],
    ];
    let cursor = 0;
    let cumulative = 0;
    let allocated = 0;
    active.forEach((split, k) => {
      cumulative += fracs[split] as number;
      const end = k === active.length - 1 ? usable : Math.round(usable * cumulative);
      const count = end - allocated;
      if (count < 1) throw tooShort(length, active.length + embargo * (active.length - 1), symbol);
      ranges[split] = [cursor, cursor + count];
      cursor += count + embargo;
      allocated = end;
    });
    return ranges;
  });
  const [train = [], val = [], test = []] = groups;
  const order = active.map((i) => [train, val, test][i] as S[]);
  let purged = 0;
  for (let k = 0; k + 1 < order.length; k++) {
    const result = purge(order[k] as S[], order[k + 1] as S[], by);
    order[k] = result.kept;
    purged += result.purged;
  }
  const pick = (i: number): S[] => {
    const k = active.indexOf(i);
    return k >= 0 ? (order[k] as S[]) : [];
  };
  return { train: pick(0), val: pick(1), test: pick(2), purged };
}

/**
 * Expanding-window walk-forward folds: the timeline after an initial training block is cut
 * into `folds` consecutive test blocks; fold i trains on everything before its test block
 * except the last `embargo` periods, and tests on block i.
 */
export function walkForwardFolds<S extends SampleTiming>(samples: readonly S[], options: WalkForwardFoldsOptions): WalkForwardFold<S>[] {
  const { folds, embargo, by = 'time' } = options;
  if (!Number.isInteger(folds) || folds < 1) throw datasetError(`folds must be an integer >= 1, got ${folds}`);
  const minTrainFrac = options.minTrainFrac ?? 1 / (folds + 1);
  if (!(minTrainFrac > 0 && minTrainFrac < 1)) throw datasetError(`minTrainFrac must be in (0, 1), got ${minTrainFrac}`);
  assertEmbargo(samples, embargo);
  return Array.from({ length: folds }, (_, fold) => {
    const [train = [], test = []] = partition(samples, by, (length, symbol) => {
      const initial = Math.round(length * minTrainFrac);
      const rest = length - initial;
      const testStart = initial + Math.round((rest * fold) / folds);
      const testEnd = initial + Math.round((rest * (fold + 1)) / folds);
      const trainEnd = testStart - embargo;
      if (trainEnd < 1 || testEnd <= testStart) throw tooShort(length, folds + embargo + 1, symbol);
      return [
        [0, trainEnd],
        [testStart, testEnd],
      ];
    });
    const { kept, purged } = purge(train, test, by);
    return { fold, train: kept, test, purged };
  });
}
