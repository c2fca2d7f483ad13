import client from 'prom-client';
import { MicroBatcher, type BatcherOptions, type Outcome, type SubmitOptions } from './batcher.ts';
import { runPriceJobs, type PriceJob } from './predictor.ts';

/**
 * The one inference queue of the process: gRPC Predict/PredictBatch, Open Inference Protocol
 * ModelInfer and the Kafka stream path all submit price windows here, so they batch together.
 * Each job holds its model until its batch has run (a hot swap frees the old model afterwards).
 */
export type RunPriceJobs = (jobs: PriceJob[], opts?: SubmitOptions) => Promise<Outcome<number>[]>;
/** Runs a task only while the inference queue is idle, so that it never delays production work by more than the task itself (MicroBatcher.whenIdle). */
export type WhenIdle = <T>(task: () => T | Promise<T>) => Promise<T>;

export interface PriceInference {
  run: RunPriceJobs;
  /** The queue's idle lane: shadow scoring runs there, after every production batch. */
  whenIdle: WhenIdle;
  depth: () => number;
  close: () => void;
}

export function createPriceInference(options: BatcherOptions, registry?: client.Registry): PriceInference {
  const registers = registry ? [registry] : [];
  const batchSize = new client.Histogram({
    name: 'stockmlops_predict_batch_size',
    help: 'Items per model call of the shared inference queue',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers,
  });
  const queueWait = new client.Histogram({
    name: 'stockmlops_predict_queue_wait_seconds',
    help: 'Time the oldest item of a batch waited in the inference queue',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers,
  });
  const dropped = new client.Counter({
    name: 'stockmlops_predict_dropped_total',
    help: 'Queued inference items dropped because their deadline passed or their caller went away',
    registers,
  });
  const batcher = new MicroBatcher<PriceJob, number>(options, runPriceJobs, undefined, (s) => {
    if (s.size > 0) {
      batchSize.observe(s.size);
      queueWait.observe(s.oldestWaitMs / 1000);
    }
    if (s.dropped) dropped.inc(s.dropped);
  });
  new client.Gauge({ name: 'stockmlops_predict_queue_depth', help: 'Items waiting in the inference queue', registers, collect() {
    this.set(batcher.depth);
  } });
  return {
    async run(jobs, opts) {
      for (const j of jobs) j.model.retain();
      try {
        return await batcher.submitMany(jobs, opts);
      } finally {
        for (const j of jobs) j.model.release();
      }
    },
    whenIdle: (task) => batcher.whenIdle(task),
    depth: () => batcher.depth,
    close: () => batcher.close(),
  };
}
