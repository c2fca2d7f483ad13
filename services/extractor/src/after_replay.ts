/**
 * What keeps the price stream flowing once the CSV replay of a symbol has ended
 * (`EXTRACT_AFTER_REPLAY`), transport-free:
 *
 * | mode                | after the last replayed bar of a symbol                                   |
 * |---------------------|---------------------------------------------------------------------------|
 * | `stop` (default)    | nothing (tests and the chaos verifier count exact replays)                |
 * | `synthetic`         | a seeded synthetic continuation from that bar, source `synthetic`          |
 * | `live`              | the real provider (Yahoo chart) polled for the symbol, source `yahoo-chart` |
 * | `live-or-synthetic` | live when a probe request to the provider succeeds at start-up, else synthetic |
 *
 * The synthetic continuation starts the business day after the symbol's last replayed bar, from
 * its close (see the `anchor` option of the synthetic provider), and releases one bar per symbol
 * per `paceMs`, never past the present. It is a pure function of (seed, symbol, last bar), and
 * its cursors are the usual `synthetic|SYMBOL` ones: a restart continues where the stream
 * stopped, with the exactly-once read-back of every other task.
 *
 * A symbol's choice is sticky: once it has a `synthetic` (or `yahoo-chart`) cursor it stays with
 * that source, so live and synthetic bars of a symbol never interleave (the later one would be
 * dead-lettered as E_LATE or E_CONFLICT). A continuation task does nothing until the replay task
 * of its symbol has reached the file's last bar (the gate), so its bars never precede replayed ones.
 */
import type { Logger } from 'pino';
import { cursorTime, type TaskStateStore } from '@stock-mlops/extract/extract_loop';
import type { AfterReplaySettings, PlannedTask } from '@stock-mlops/extract/provider_settings';
import { createProviderRegistry, type RegistryDeps } from '@stock-mlops/extract/registry';
import type { CsvReplayProvider } from '@stock-mlops/extract/prices/csv_replay';
import { createSyntheticProvider } from '@stock-mlops/extract/prices/synthetic';
import type { PriceProvider } from '@stock-mlops/extract/provider';

export interface ContinuationTask extends PlannedTask {
  /** One page per run, then the interval (the synthetic stream is paced). */
  paced: boolean;
  /** True once the symbol's replay has ended (until then the task does nothing). */
  ready: () => Promise<boolean>;
}

export interface ContinuationDeps {
  settings: AfterReplaySettings;
  replay: CsvReplayProvider;
  /** The replayed symbols (the replay's tasks). */
  symbols: readonly string[];
  store: TaskStateStore;
  log: Logger;
  registryDeps?: RegistryDeps;
  /** Longest wait for the live probe. Default 5 s. */
  probeTimeoutMs?: number;
}

export const SYNTHETIC_SOURCE = 'synthetic';

/** The continuation tasks for the replayed symbols; empty in mode `stop`. */
export async function planContinuation(deps: ContinuationDeps): Promise<ContinuationTask[]> {
  const { settings, replay, store, log } = deps;
  if (settings.mode === 'stop' || deps.symbols.length === 0) return [];

  const synthetic = createSyntheticProvider({
    name: SYNTHETIC_SOURCE,
    seed: settings.seed,
    interval: '1d',
    maxItems: 1,
    anchor: async (symbol) => {
      const bar = await replay.lastBar(symbol);
      return bar && { ts: bar.ts, close: bar.close, adjClose: bar.adjClose, volume: bar.volume };
    },
    ...(deps.registryDeps?.runtime && { runtime: deps.registryDeps.runtime }),
  });
  const live = createProviderRegistry({ providers: { 'yahoo-chart': settings.live }, routes: {} }, deps.registryDeps ?? {}).get('yahoo-chart') as PriceProvider;

  let online: Promise<boolean> | undefined;
  const probe = (symbol: string) =>
    (online ??= live.fetchSince({ symbol, signal: AbortSignal.timeout(deps.probeTimeoutMs ?? 5_000) }).then(
      () => true,
      (err: unknown) => {
        log.warn({ provider: live.name, symbol, code: (err as { code?: string }).code, err: (err as Error).message }, 'live provider unreachable: the replay continues with synthetic bars');
        return false;
      },
    ));

  async function choose(symbol: string): Promise<PriceProvider> {
    if (settings.mode === 'synthetic') return synthetic;
    if (settings.mode === 'live') return live;
    if ((await store.get(synthetic.name, symbol))?.cursor !== undefined) return synthetic;
    if ((await store.get(live.name, symbol))?.cursor !== undefined) return live;
    return (await probe(symbol)) ? live : synthetic;
  }

  const tasks: ContinuationTask[] = [];
  for (const symbol of deps.symbols) {
    const provider = await choose(symbol);
    let done = false;
    const ready = async () => {
      if (done) return true;
      const last = await replay.lastBar(symbol);
      const at = cursorTime((await store.get(replay.name, symbol))?.cursor);
      done = last !== undefined && at !== undefined && at >= Date.parse(last.ts);
      return done;
    };
    const paced = provider === synthetic;
    tasks.push({ provider, symbol, intervalMs: paced ? settings.paceMs : settings.livePollMs, paced, ready });
  }
  const by = (p: PriceProvider) => tasks.filter((t) => t.provider === p).map((t) => t.symbol);
  log.info({ mode: settings.mode, synthetic: by(synthetic), live: by(live), paceMs: settings.paceMs }, 'after the replay, the stream continues');
  return tasks;
}
