/**
 * transformer: raw prices → clean prices + features, incrementally per symbol, with
 * point-in-time joins of financial facts and news sentiment; raw news and financial facts →
 * their clean topics. Invalid or late records go to the transform dead-letter topic with the
 * reason; duplicates are dropped and counted.
 *
 * Inputs that change per-symbol state: raw prices (bars), clean financial facts, clean news
 * (scored with the lexicon until a sentiment model exists) and sentiment predictions. All are
 * keyed by symbol; the co-partitioned assignment gives every symbol's partitions of all four
 * topics to one instance. Per-symbol state (cleaner, feature engine, joins, rolling z-scores and
 * the last input offset per source partition) is saved to MongoDB before offsets are committed
 * and reloaded after a restart or rebalance, so redelivered records are skipped: outputs are
 * neither lost nor produced twice. See docs/pipeline.md.
 *
 * No Kafka here: main.ts subscribes the consumer and calls `handle`, `onRebalancing` and
 * `onAssigned`.
 */
import client from 'prom-client';
import type { Db } from 'mongodb';
import { encode, makeEnvelope, type DataTopicKey, type Topics } from '@stock-mlops/contracts';
import { serialized, type BatchContext, type BatchingProducer, type Consumed, type Logger, type Metrics, type OutMessage } from '@stock-mlops/platform';
import { lexiconSentiment, SymbolPipeline, type PipelineOutput, type SentimentScore } from '@stock-mlops/transform';
import type { TransformerConfig } from './config.ts';
import { outputEncoder } from './outputs.ts';
import { SaveQueue } from './save_queue.ts';
import { capture, StateStore, type Held } from './state_store.ts';

export const SUBSCRIBE = ['rawPrices', 'rawNews', 'rawFinancials', 'cleanFinancials', 'cleanNews', 'sentimentPredictions'] as const satisfies readonly DataTopicKey[];
export type TransformKey = (typeof SUBSCRIBE)[number];

/** Bars per early hand-off to the producer: sending overlaps the computation of the rest of the batch. */
const SEND_EVERY = 250;

type StateKey = 'rawPrices' | 'cleanFinancials' | 'cleanNews' | 'sentimentPredictions';

export interface TransformStageDeps {
  db: Db;
  config: Pick<TransformerConfig, 'TRANSFORM_REORDER_WINDOW' | 'TRANSFORM_IDLE_FLUSH_MS'>;
  log: Logger;
  metrics: Metrics;
  producer: BatchingProducer;
  topics: Topics;
  isStopping: () => boolean;
}

export interface TransformStage {
  /** One consumed batch (the consumer commits after it resolves). */
  handle: (batch: Consumed<TransformKey>[], ctx: BatchContext) => Promise<void>;
  /** The group started rebalancing: idle flushes pause. */
  onRebalancing: () => void;
  /** Partitions assigned (topic name → partitions): cached state is dropped and pending symbols reloaded. */
  onAssigned: (assignment: Record<string, number[]>) => void;
  startIdleFlush: () => () => void;
}

export function createTransformStage({ db, config, log, metrics, producer, topics, isStopping }: TransformStageDeps): TransformStage {
  const store = new StateStore(db, log, isStopping);
  const duplicates = new client.Counter({
    name: 'stockmlops_duplicates_dropped_total',
    help: 'Records dropped as duplicates or redeliveries',
    labelNames: ['reason'] as const,
    registers: [metrics.registry],
  });
  const joined = new client.Counter({
    name: 'stockmlops_transform_join_inputs_total',
    help: 'Facts and sentiment scores applied to per-symbol join state',
    labelNames: ['kind', 'outcome'] as const,
    registers: [metrics.registry],
  });

  const held = new Map<string, Held>();
  const lastSeen = new Map<string, number>();
  let assignedPrices: number[] = [];
  let rebalancing = false;
  /** State saves in the order the batches were computed, each after its batch's outputs are acknowledged. */
  const saves = new SaveQueue();
  /** Serialize batch handling, idle flushes and reloads (they share per-symbol state). */
  const exclusive = serialized();

  const fresh = (symbol: string) => () => SymbolPipeline.create(symbol, { reorderWindow: config.TRANSFORM_REORDER_WINDOW });

  async function stateFor(symbol: string): Promise<Held> {
    let h = held.get(symbol);
    if (!h) {
      h = await store.load(symbol, fresh(symbol));
      held.set(symbol, h);
      // A reloaded symbol is not idle yet: its bars may be right behind in the backlog.
      if (!lastSeen.has(symbol)) lastSeen.set(symbol, Date.now());
    }
    return h;
  }

  /**
   * Call under exclusive(), right after computing: captures the symbols' state now and queues its
   * save behind the earlier saves and `sent` (this batch's sends). Await the result outside the lock.
   */
  function saveAfter(sent: Promise<unknown>, symbols: Iterable<string>): Promise<void> {
    const captured = [...new Set(symbols)].map((s) => capture(s, held.get(s)!));
    return saves.enqueue(sent, () => store.saveCaptured(captured));
  }

  async function publish(outs: Array<{ clean: OutMessage[]; features: OutMessage[] }>): Promise<void> {
    await Promise.all([producer.send(topics.cleanPrices, outs.flatMap((o) => o.clean)), producer.send(topics.features, outs.flatMap((o) => o.features))]);
  }

  /** One batch of a state-changing topic: apply each record once, publish, then save state (before the commit). */
  async function handleStateful(batch: Consumed<StateKey>[], ctx: BatchContext): Promise<void> {
    // Computing holds the lock; waiting for the acks and the save does not (the next batch computes meanwhile).
    const { saved } = await exclusive(() => computeStateful(batch, ctx));
    await saved;
  }

  /** Applies a batch, hands its outputs to the producer; returns the pending save of its state (wrapped: not awaited here). */
  async function computeStateful(batch: Consumed<StateKey>[], ctx: BatchContext): Promise<{ saved: Promise<void> }> {
    let outs: Array<{ clean: OutMessage[]; features: OutMessage[] }> = [];
    const sends: Promise<void>[] = [];
    const encoder = outputEncoder();
    const touched = new Set<string>();
    for (const m of batch) {
      if (outs.length >= SEND_EVERY) {
        // Produced in order per partition; all of them are awaited before the state is saved.
        sends.push(publish(outs));
        outs = [];
      }
      const symbol = m.envelope.data.symbol;
      const h = await stateFor(symbol);
      const position = { partitionKey: `${m.topic}:${m.partition}`, offset: m.offset };
      if (h.pipeline.seen(position.partitionKey, position.offset)) {
        duplicates.inc({ reason: 'redelivered' });
        continue;
      }
      touched.add(symbol);
      if (m.topicKey === 'rawPrices') {
        const d = (m as Consumed<'rawPrices'>).envelope.data;
        h.partition = m.partition;
        lastSeen.set(symbol, Date.now());
        const out = h.pipeline.push(
          {
            symbol,
            ts: new Date(d.ts).toISOString(),
            interval: d.interval,
            open: d.open,
            high: d.high,
            low: d.low,
            close: d.close,
            volume: d.volume,
            source: m.envelope.source,
            ...(d.adjClose !== undefined ? { adjClose: d.adjClose } : {}),
            ...(d.synthetic === true ? { synthetic: true as const } : {}),
          },
          position,
        );
        for (const r of out.rejected) {
          if (r.code === 'E_DUPLICATE') duplicates.inc({ reason: 'duplicate' });
          else ctx.deadLetter(m, r.code, r.reason);
        }
        const encoded = encoder.encode(out, m.traceId);
        outs.push(encoded);
        if (m.traceId) {
          log.debug({ traceId: m.traceId, symbol, ts: d.ts, clean: encoded.clean.length, features: encoded.features.length }, 'transformed');
        }
        continue;
      }
      const r =
        m.topicKey === 'cleanFinancials'
          ? h.pipeline.addFact((m as Consumed<'cleanFinancials'>).envelope.data, position)
          : h.pipeline.addSentiment(sentimentOf(m as Consumed<'cleanNews' | 'sentimentPredictions'>), position);
      const kind = m.topicKey === 'cleanFinancials' ? 'fact' : m.topicKey === 'cleanNews' ? 'lexicon' : 'model';
      joined.inc({ kind, outcome: r.ok ? (r.stored ? 'stored' : 'ignored') : 'rejected' });
      if (!r.ok) ctx.deadLetter(m, r.code, r.reason);
    }
    sends.push(publish(outs));
    return { saved: saveAfter(Promise.all(sends), touched) };
  }

  function sentimentOf(m: Consumed<'cleanNews' | 'sentimentPredictions'>): SentimentScore {
    if (m.topicKey === 'cleanNews') {
      const a = (m as Consumed<'cleanNews'>).envelope.data;
      return { articleId: a.id, symbol: a.symbol, publishedAt: a.publishedAt, score: lexiconSentiment(`${a.title}. ${a.summary}`), source: 'lexicon' };
    }
    const p = (m as Consumed<'sentimentPredictions'>).envelope.data;
    return { articleId: p.articleId, symbol: p.symbol, publishedAt: p.publishedAt, score: p.score, source: 'model' };
  }

  /** Stateless fan-out: raw news → one clean copy per ticker; raw facts → clean facts. Returns the send. */
  function handleRaw(batch: Consumed<'rawNews' | 'rawFinancials'>[]): Promise<void> {
    if (batch[0]!.topicKey === 'rawNews') {
      const out = (batch as Consumed<'rawNews'>[]).flatMap((m) =>
        m.envelope.data.tickers.map((symbol) =>
          encode('cleanNews', makeEnvelope('cleanNews', { data: { ...m.envelope.data, symbol }, source: m.envelope.source, idParts: [m.envelope.data.id, symbol], eventTime: m.envelope.data.publishedAt })),
        ),
      );
      return producer.send(topics.cleanNews, out);
    }
    const out = (batch as Consumed<'rawFinancials'>[]).map((m) =>
      encode('cleanFinancials', makeEnvelope('cleanFinancials', { data: m.envelope.data, source: m.envelope.source, eventId: m.envelope.eventId, eventTime: m.envelope.eventTime })),
    );
    return producer.send(topics.cleanFinancials, out);
  }

  /** Drop cached state after a failure (it may be ahead of what is stored) and reload what needs flushing. */
  function resetState(): void {
    held.clear();
    // Saves already queued fail (unless already writing): their state was computed on what is dropped now.
    saves.reset();
    void exclusive(reloadPending).catch((err) => log.error({ err }, 'reloading pending symbols failed'));
  }

  /** After a (re)assignment: reload the symbols of our raw-price partitions that hold bars for reordering, so the idle flush releases them. */
  async function reloadPending(): Promise<void> {
    await saves.settled();
    const symbols = await store.pendingOn(assignedPrices);
    for (const s of symbols) {
      await stateFor(s);
      lastSeen.set(s, Date.now());
    }
    if (symbols.length) log.info({ symbols }, 'reloaded symbols with bars held for reordering');
  }

  /** One consumed batch: stateless fan-out, or the stateful path (compute under the lock, then acks and save). */
  async function handleBatch(batch: Consumed<TransformKey>[], ctx: BatchContext): Promise<void> {
    const key = batch[0]!.topicKey;
    if (key === 'rawNews' || key === 'rawFinancials') {
      // Queued under the lock (the producer keeps the order), acknowledged outside it.
      const sent = await exclusive(async () => ({ sent: handleRaw(batch as Consumed<'rawNews' | 'rawFinancials'>[]) }));
      return sent.sent;
    }
    return handleStateful(batch as Consumed<StateKey>[], ctx).catch((err: unknown) => {
      // In-memory state may have run ahead of what is durable: reload it on the retry.
      resetState();
      throw err;
    });
  }

  function onRebalancing(): void {
    rebalancing = true;
  }

  function onAssigned(assignment: Record<string, number[]>): void {
    assignedPrices = assignment[topics.rawPrices] ?? [];
    log.info({ rawPrices: assignedPrices, assignment }, 'partitions assigned');
    // Symbols may have moved to or from another instance: forget cached state so it is reloaded.
    void exclusive(async () => {
      // Let the saves of batches computed before the rebalance land before state is reloaded.
      await saves.settled();
      held.clear();
      rebalancing = false;
      await reloadPending();
    }).catch((err) => log.error({ err }, 'reloading pending symbols failed'));
  }

  /** Idle flush: release bars held for reordering once a symbol has been quiet for a while. Returns the stop. */
  function startIdleFlush(): () => void {
    const idle = setInterval(() => {
      if (rebalancing) return;
      void exclusive(async () => {
        if (rebalancing) return;
        const now = Date.now();
        const touched: string[] = [];
        const outs: PipelineOutput[] = [];
        for (const [symbol, h] of held) {
          if (h.pipeline.pending === 0 || now - (lastSeen.get(symbol) ?? 0) < config.TRANSFORM_IDLE_FLUSH_MS) continue;
          outs.push(h.pipeline.flush());
          touched.push(symbol);
        }
        if (touched.length === 0) return;
        const encoder = outputEncoder();
        await saveAfter(publish(outs.map((o) => encoder.encode(o, undefined))), touched);
      }).catch((err) => {
        log.error({ err }, 'idle flush failed; state will be reloaded');
        resetState();
      });
    }, Math.max(250, Math.floor(config.TRANSFORM_IDLE_FLUSH_MS / 2)));
    return () => clearInterval(idle);
  }

  return { handle: handleBatch, onRebalancing, onAssigned, startIdleFlush };
}
