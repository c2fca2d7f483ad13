import { createHash } from 'node:crypto';
import { mulberry32 } from '@stock-mlops/contracts';
import { ExtractError } from '../errors.ts';
import type { FetchRequest, PriceFetchResult, PriceProvider } from '../provider.ts';
import { resolveRuntime, type Runtime } from '../runtime.ts';
import { checkIsoDate } from '../time.ts';
import { assertSymbol } from '../validate.ts';
import { finishBars, INTERVAL_MS, isDateKeyed, makeBar, type BarDraft, type IntervalName } from './common.ts';

/**
 * Seeded synthetic prices: a geometric random walk with valid OHLC, for demos and load tests
 * when no market data may be used. Every bar has `synthetic: true`; the provider's name (the
 * envelope `source`) is 'synthetic'.
 *
 * The series of a symbol depends only on (seed, symbol, start, interval, parameters): bar i is
 * the same whatever the cursor, the call pattern or the process. Daily bars fall on weekdays
 * (keyed by date); intraday bars run around the clock every `interval` from `start`. Bars are
 * produced up to `until` or the runtime clock, whichever is earlier.
 *
 * With `anchor`, a symbol's series instead continues its last real bar: it starts one interval
 * after the anchor's `ts` (the next weekday for daily bars; no holiday calendar), from the
 * anchor's close, with the anchor's mean volume, and keeps the anchor's `adjClose / close`
 * ratio on every bar (no new splits or dividends), so both the raw and the adjusted price levels
 * are continuous. The series then depends on (seed, symbol, anchor, interval, parameters).
 */
export interface SyntheticAnchor {
  /** The last real bar's start (ISO timestamp). */
  ts: string;
  close: number;
  adjClose?: number | undefined;
  volume?: number | undefined;
}

export interface SyntheticOptions {
  name?: string;
  seed: number | string;
  /** First bar: `YYYY-MM-DD` or an ISO timestamp. Required unless `anchor` is given. */
  start?: string;
  /** Continue each symbol from its last real bar (undefined for a symbol: E_CONFIG). */
  anchor?: (symbol: string) => Promise<SyntheticAnchor | undefined>;
  interval?: IntervalName;
  initialPrice?: number;
  /** Annualized drift and volatility of the log price. Defaults 0.05 and 0.25. */
  drift?: number;
  volatility?: number;
  /** Mean volume per bar. Default 1_000_000. */
  volume?: number;
  currency?: string;
  maxItems?: number;
  runtime?: Partial<Runtime>;
}

function seedOf(seed: number | string, symbol: string): number {
  return createHash('sha256').update(`${seed}\u001f${symbol}`).digest().readUInt32BE(0);
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
const TRADING_YEAR_MS = 252 * 6.5 * 3_600_000;

interface WalkState {
  rand: () => number;
  spare: number | undefined;
  close: number;
  t: number;
  meanVolume: number;
  /** adjClose / close, carried from the anchor. */
  adjRatio: number | undefined;
  bars: BarDraft[];
}

export function createSyntheticProvider(opts: SyntheticOptions): PriceProvider {
  const name = opts.name ?? 'synthetic';
  const interval = opts.interval ?? '1d';
  const daily = isDateKeyed(interval);
  const start = opts.start ?? '';
  const startMs = checkIsoDate(start) ? Date.parse(`${start}T00:00:00Z`) : Date.parse(start);
  if (Number.isNaN(startMs) && !opts.anchor) throw new ExtractError('E_CONFIG', `start "${start}" is not a date`, { provider: name });
  if (opts.seed === undefined || opts.seed === '') throw new ExtractError('E_CONFIG', 'missing required option: seed', { provider: name });
  const mu = opts.drift ?? 0.05;
  const sigma = opts.volatility ?? 0.25;
  const initial = opts.initialPrice ?? 100;
  if (!(initial > 0) || !(sigma >= 0)) throw new ExtractError('E_CONFIG', 'initialPrice must be > 0 and volatility >= 0', { provider: name });
  const meanVolume = opts.volume ?? 1_000_000;
  const step = INTERVAL_MS[interval];
  const dt = interval === '1d' ? 1 / 252 : interval === '1wk' ? 1 / 52 : step / TRADING_YEAR_MS;
  const rt = resolveRuntime(opts.runtime);
  const walks = new Map<string, Promise<WalkState>>();

  function gaussian(s: WalkState): number {
    if (s.spare !== undefined) {
      const v = s.spare;
      s.spare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = s.rand();
    const v = s.rand();
    const r = Math.sqrt(-2 * Math.log(u));
    s.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  function nextTime(t: number): number {
    let n = t + step;
    if (interval === '1d') while ([0, 6].includes(new Date(n).getUTCDay())) n += step;
    return n;
  }

  function extend(symbol: string, s: WalkState, upTo: number): void {
    const sd = sigma * Math.sqrt(dt);
    while (s.t <= upTo) {
      const open = s.close * Math.exp(0.1 * sd * gaussian(s));
      const close = open * Math.exp((mu - (sigma * sigma) / 2) * dt + sd * gaussian(s));
      const high = Math.max(open, close) * Math.exp(0.5 * sd * Math.abs(gaussian(s)));
      const low = Math.min(open, close) * Math.exp(-0.5 * sd * Math.abs(gaussian(s)));
      const volume = Math.round(s.meanVolume * Math.exp(0.3 * gaussian(s) - 0.045));
      const ts = new Date(s.t).toISOString();
      s.bars.push({
        where: `bar ${s.bars.length}`,
        bar: makeBar({
          symbol,
          interval,
          ts,
          open: round4(open),
          high: round4(high),
          low: round4(low),
          close: round4(close),
          adjClose: s.adjRatio === undefined ? undefined : round4(close * s.adjRatio),
          volume,
          currency: opts.currency,
          synthetic: true,
        }),
      });
      s.close = close;
      s.t = nextTime(s.t);
    }
  }

  let firstTs = startMs;
  if (interval === '1d') while ([0, 6].includes(new Date(firstTs).getUTCDay())) firstTs += step;
  if (daily) firstTs -= firstTs % 86_400_000;

  async function newWalk(symbol: string): Promise<WalkState> {
    if (!opts.anchor) {
      return { rand: mulberry32(seedOf(opts.seed, symbol)), spare: undefined, close: initial, t: firstTs, meanVolume, adjRatio: undefined, bars: [] };
    }
    const a = await opts.anchor(symbol);
    const at = a ? Date.parse(a.ts) : NaN;
    if (!a || Number.isNaN(at) || !(a.close > 0)) throw new ExtractError('E_CONFIG', 'no last bar to continue from', { provider: name, symbol });
    const anchorTs = daily ? at - (at % 86_400_000) : at;
    return {
      rand: mulberry32(seedOf(opts.seed, `${symbol}\u001f${new Date(anchorTs).toISOString()}`)),
      spare: undefined,
      close: a.close,
      t: nextTime(anchorTs),
      meanVolume: a.volume !== undefined && a.volume > 0 ? a.volume : meanVolume,
      adjRatio: a.adjClose !== undefined && a.adjClose > 0 ? a.adjClose / a.close : undefined,
      bars: [],
    };
  }

  return {
    name,
    kind: 'prices',
    async fetchSince(req: FetchRequest): Promise<PriceFetchResult> {
      assertSymbol(name, req.symbol);
      const horizon = Math.min(req.until?.getTime() ?? Infinity, rt.now());
      let pending = walks.get(req.symbol);
      if (!pending) {
        pending = newWalk(req.symbol);
        walks.set(req.symbol, pending);
        pending.catch(() => walks.delete(req.symbol));
      }
      const s = await pending;
      extend(req.symbol, s, horizon);
      return finishBars(s.bars, { ...req, until: new Date(horizon) }, {
        provider: name,
        onInvalid: 'error',
        warnings: [],
        maxItems: opts.maxItems ?? 1000,
      });
    },
  };
}
