import * as assert from 'uvu/assert';
import type { PriceProvider, ProviderItem } from '@stock-mlops/extract/provider';
import type { RawPriceBar } from '@stock-mlops/contracts';
import { suite } from '../../harness/index.ts';
import {
  extractOnce,
  extractTask,
  type ExtractTask,
  type LogPosition,
  type PublishResult,
  type RawSink,
  type TaskState,
  type TaskStateStore,
} from '@stock-mlops/extract/extract_loop';

const t = suite('extractor/extract_loop: fetch → publish → cursor');

const DAY = 86_400_000;
const bars = (n: number, start = '2020-01-01'): Array<ProviderItem<RawPriceBar>> =>
  Array.from({ length: n }, (_, i) => {
    const ts = new Date(Date.parse(`${start}T00:00:00Z`) + i * DAY).toISOString();
    return { idParts: ['X', '1d', ts], eventTime: ts, data: { symbol: 'X', interval: '1d', ts, open: 1, high: 1, low: 1, close: 1, volume: 1 } };
  });

/** A provider over a fixed series: items strictly after the cursor, not after `until`, `page` at a time. */
function seriesProvider(items: Array<ProviderItem<RawPriceBar>>, page = 10): PriceProvider & { calls: number } {
  const p = {
    name: 'series',
    kind: 'prices' as const,
    calls: 0,
    async fetchSince(req: { cursor?: string | undefined; until?: Date | undefined }) {
      p.calls++;
      const after = req.cursor ? Date.parse(req.cursor) : -Infinity;
      const until = req.until?.getTime() ?? Infinity;
      const out = items.filter((i) => Date.parse(i.eventTime) > after && Date.parse(i.eventTime) <= until).slice(0, page);
      return { items: out, actions: [], nextCursor: out.length ? out[out.length - 1]!.eventTime : req.cursor, warnings: [] };
    },
  };
  return p;
}

function memoryStore(): TaskStateStore & { states: Map<string, TaskState>; writes: TaskState[] } {
  const states = new Map<string, TaskState>();
  const writes: TaskState[] = [];
  return {
    states,
    writes,
    async get(p, s) {
      return states.get(`${p}|${s}`);
    },
    async set(p, s, state) {
      writes.push(state);
      states.set(`${p}|${s}`, { ...state });
    },
  };
}

/** A one-partition log; `failAt` makes the n-th publish throw before writing. */
function memorySink(opts: { failAt?: number; skip?: Set<string>; settled?: boolean } = {}): RawSink & { log: string[]; heads: number } {
  const log: string[] = [];
  let n = 0;
  const sink = {
    log,
    heads: 0,
    async head(): Promise<LogPosition[]> {
      sink.heads++;
      return [{ partition: 0, offset: String(log.length) }];
    },
    async publish(_task: ExtractTask, _topic: string, items: ProviderItem<unknown>[]): Promise<PublishResult> {
      if (++n === opts.failAt) throw Object.assign(new Error('broker unavailable'), { code: 'E_PUBLISH' });
      let skipped = 0;
      for (const it of items) {
        if (opts.skip?.delete(it.eventTime)) skipped++;
        else log.push(it.eventTime);
      }
      const published = items.length - skipped;
      return { published, skipped, positions: published ? [{ partition: 0, offset: String(log.length) }] : [], settled: opts.settled ?? true };
    },
  };
  return sink;
}

t('drain: every page is published, then the cursor moves; the position is recorded before the first publish', async () => {
  const provider = seriesProvider(bars(25));
  const store = memoryStore();
  const sink = memorySink();
  const r = await extractTask({ provider, symbol: 'X' }, { store, sink }, { drain: true });
  assert.is(r.error, undefined);
  assert.is(r.published, 25);
  assert.is(r.pages, 4, '10 + 10 + 5 + an empty page');
  assert.is(sink.log.length, 25);
  assert.equal(store.writes[0], { positions: [{ partition: 0, offset: '0' }] }, 'first write: where the topic ended, no cursor yet');
  assert.equal(store.states.get('series|X'), { cursor: bars(25)[24]!.eventTime, positions: [{ partition: 0, offset: '25' }] });
  const again = await extractTask({ provider, symbol: 'X' }, { store, sink }, { drain: true });
  assert.is(again.published, 0, 'a re-run publishes nothing');
  assert.is(sink.heads, 1);
});

t('without drain one page per call (the service schedules the rest)', async () => {
  const provider = seriesProvider(bars(25));
  const s = await extractOnce([{ provider, symbol: 'X' }], { store: memoryStore(), sink: memorySink() });
  assert.is(s.published, 10);
  assert.is(provider.calls, 1);
});

t('from/until: a backfill starts at --from unless the cursor is past it, and skips tasks already at --to', async () => {
  const series = bars(40); // 2020-01-01 … 2020-02-09
  const provider = seriesProvider(series, 100);
  const store = memoryStore();
  const sink = memorySink();
  const from = new Date('2020-01-11T00:00:00Z');
  const until = new Date('2020-01-20T23:59:59.999Z');
  const r = await extractTask({ provider, symbol: 'X' }, { store, sink }, { drain: true, from, until });
  assert.is(r.published, 10);
  assert.equal([sink.log[0], sink.log[9]], ['2020-01-11T00:00:00.000Z', '2020-01-20T00:00:00.000Z']);
  const calls = provider.calls;
  const done = await extractTask({ provider, symbol: 'X' }, { store, sink }, { drain: true, from, until: new Date('2020-01-20T00:00:00Z') });
  assert.ok(done.upToDate);
  assert.is(provider.calls, calls, 'nothing fetched');
  const more = await extractTask({ provider, symbol: 'X' }, { store, sink }, { drain: true, from: new Date('2020-01-01T00:00:00Z'), until: new Date('2020-01-25T23:59:59Z') });
  assert.is(more.published, 5, 'an earlier --from does not re-fetch what the cursor covers');
});

t('a failed publish leaves the cursor where it was and says which phase failed', async () => {
  const provider = seriesProvider(bars(25));
  const store = memoryStore();
  const r = await extractTask({ provider, symbol: 'X' }, { store, sink: memorySink({ failAt: 2 }) }, { drain: true });
  assert.is(r.phase, 'publish');
  assert.is((r.error as { code?: string }).code, 'E_PUBLISH');
  assert.is(store.states.get('series|X')?.cursor, bars(25)[9]!.eventTime, 'cursor after the first page only');
});

t('a crash after the ack and before the cursor write (afterPublish) leaves events beyond the cursor, bounded by the saved position', async () => {
  const provider = seriesProvider(bars(25));
  const store = memoryStore();
  const sink = memorySink();
  let n = 0;
  const r = await extractTask({ provider, symbol: 'X' }, { store, sink }, {
    drain: true,
    afterPublish: () => {
      if (++n === 2) throw new Error('killed');
    },
  });
  assert.ok(r.error);
  assert.is(sink.log.length, 20, 'two pages on the topic');
  assert.equal(store.states.get('series|X'), { cursor: bars(25)[9]!.eventTime, positions: [{ partition: 0, offset: '10' }] }, 'cursor covers page 1; page 2 lies at or after offset 10');
});

t('the saved position moves only when no recovered event is left to skip', async () => {
  const series = bars(25);
  const provider = seriesProvider(series);
  const store = memoryStore();
  store.states.set('series|X', { cursor: series[4]!.eventTime, positions: [{ partition: 0, offset: '5' }] });
  // Recovery found items 5..14 on the topic; the first page (5..14) consumes all but none left → settled.
  const skip = new Set(series.slice(5, 15).map((b) => b.eventTime));
  const sink = memorySink({ skip });
  await extractTask({ provider, symbol: 'X' }, { store, sink }, {});
  assert.equal(store.states.get('series|X')?.positions, [{ partition: 0, offset: '0' }], 'all skipped and settled: position = current head');
  // Not settled: the position stays put even though something was published.
  store.states.set('series|X', { cursor: series[14]!.eventTime, positions: [{ partition: 0, offset: '5' }] });
  await extractTask({ provider, symbol: 'X' }, { store, sink: memorySink({ settled: false }) }, {});
  assert.equal(store.states.get('series|X'), { cursor: series[24]!.eventTime, positions: [{ partition: 0, offset: '5' }] });
});

t.run();
