import { CompressionTypes, Partitioners, type IHeaders, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';

export interface OutMessage {
  key: string;
  value: string | Buffer;
  headers?: IHeaders;
}

interface Pending {
  topic: string;
  messages: OutMessage[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface BatchingProducerOptions {
  /** Flush when this many messages are queued. */
  maxBatch?: number;
  /** Flush at the latest this long after the first queued message. */
  lingerMs?: number;
  /** Split a flush into requests of at most this many payload bytes (the broker caps a record batch at ~1 MB). */
  maxRequestBytes?: number;
  log: Logger;
  metrics?: Metrics;
}

/**
 * kafkajs does no batching of its own; this producer collects messages from concurrent callers
 * and sends them with one `sendBatch` (acks=all). `send` resolves once its messages are acknowledged.
 */
export class BatchingProducer {
  private readonly producer: Producer;
  private queue: Pending[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> = Promise.resolve();
  private readonly maxBatch: number;
  private readonly lingerMs: number;
  private readonly maxRequestBytes: number;

  constructor(
    kafka: Kafka,
    private readonly opts: BatchingProducerOptions,
  ) {
    this.producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    this.maxBatch = opts.maxBatch ?? 1000;
    this.lingerMs = opts.lingerMs ?? 5;
    this.maxRequestBytes = opts.maxRequestBytes ?? 512 * 1024;
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  send(topic: string, messages: OutMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic, messages, resolve, reject });
      this.queued += messages.length;
      if (this.queued >= this.maxBatch) this.flushSoon(0);
      else this.flushSoon(this.lingerMs);
    });
  }

  private flushSoon(delay: number): void {
    if (delay === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
  }

  /** Send everything queued so far; resolves when it is acknowledged. */
  flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.queued = 0;
    if (batch.length === 0) return this.inflight;
    const byTopic = new Map<string, OutMessage[]>();
    for (const p of batch) {
      const list = byTopic.get(p.topic) ?? [];
      for (const m of p.messages) list.push(m);
      byTopic.set(p.topic, list);
    }
    const run = this.inflight.then(async () => {
      try {
        for (const chunk of chunkByBytes(byTopic, this.maxRequestBytes)) {
          await this.producer.sendBatch({ acks: -1, compression: CompressionTypes.None, topicMessages: chunk });
        }
        for (const [topic, messages] of byTopic) this.opts.metrics?.produced.inc({ topic }, messages.length);
        for (const p of batch) p.resolve();
      } catch (err) {
        this.opts.log.error({ err }, 'produce failed');
        for (const p of batch) p.reject(err);
      }
    });
    this.inflight = run;
    return run;
  }

  async disconnect(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.flush();
    await this.producer.disconnect();
  }
}

function sizeOf(m: OutMessage): number {
  const v = typeof m.value === 'string' ? Buffer.byteLength(m.value) : m.value.length;
  return v + Buffer.byteLength(m.key) + 64;
}

/** Split per-topic messages into requests whose payload stays under `maxBytes` (order kept per topic). */
export function chunkByBytes(byTopic: Map<string, OutMessage[]>, maxBytes: number): Array<Array<{ topic: string; messages: OutMessage[] }>> {
  const out: Array<Array<{ topic: string; messages: OutMessage[] }>> = [];
  let cur: Array<{ topic: string; messages: OutMessage[] }> = [];
  let bytes = 0;
  for (const [topic, messages] of byTopic) {
    let entry: { topic: string; messages: OutMessage[] } | undefined;
    for (const m of messages) {
      const n = sizeOf(m);
      if (bytes + n > maxBytes && bytes > 0) {
        out.push(cur);
        cur = [];
        bytes = 0;
        entry = undefined;
      }
      if (!entry) {
        entry = { topic, messages: [] };
        cur.push(entry);
      }
      entry.messages.push(m);
      bytes += n;
    }
  }
  if (cur.length) out.push(cur);
  return out;
}
