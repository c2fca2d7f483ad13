/**
 * Price-model inference in a worker thread (node:worker_threads), so that the forward pass and
 * the serving thread's request handling (gRPC, WebSocket, Kafka) run on different cores.
 *
 * The serving thread keeps everything but the forward pass: window cutting, validation and
 * normalization (`packWindows`), the micro-batching queue, the scaling of outputs. It hands each
 * batch to the worker as one normalized Float32Array (the buffer is transferred, not copied) and
 * gets the raw outputs back the same way. The worker loads models from the same registry
 * artifacts as an in-thread load (`PriceModel.deserialize`), so both answer with the same numbers.
 *
 * Hot swap: `loadPrice` loads a version in the worker and returns a `ServingPriceModel` whose
 * forward pass runs there; the caller warms it up (through the worker) before switching to it,
 * and retiring it frees it in the worker. A version that fails to load or warm up is never
 * switched in, so the previous one keeps serving.
 *
 * If the worker thread dies, every pending and later call fails with E_INFERENCE_WORKER and
 * `onExit` is told (the predictor treats it as fatal and restarts).
 */
import { Worker } from 'node:worker_threads';
import { AppError, type ModelRef } from '@stock-mlops/contracts';
import type { TfBackendName } from '../tf.ts';
import type { PriceModelMeta } from '../models/price_predictor.ts';
import { ServingPriceModel, type PriceRunner } from './predictor.ts';

export interface WorkerArtifacts {
  json: Record<string, unknown>;
  weights: Uint8Array;
}

/** Messages to the worker. */
export type WorkerRequest =
  | { op: 'init'; req: number }
  | { op: 'load'; req: number; id: number; artifacts: WorkerArtifacts }
  | { op: 'run'; req: number; id: number; x: Float32Array; n: number }
  | { op: 'dispose'; req: number; id: number };

/** Messages from the worker: one per request except `dispose`. */
export type WorkerReply =
  | { req: number; ok: true; out: Float32Array }
  | { req: number; ok: true; meta: PriceModelMeta }
  | { req: number; ok: true; backend: TfBackendName }
  | { req: number; ok: false; code: string; message: string };

type Ok = Extract<WorkerReply, { ok: true }>;

export class InferenceWorkerError extends AppError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'InferenceWorkerError';
  }
}

const ENTRY = new URL('./price_worker.ts', import.meta.url);

/**
 * The worker runs TypeScript like the rest of the code base: its bootstrap registers tsx's
 * loader in the worker (loader hooks of the parent thread do not apply there) and imports the entry.
 */
function bootstrap(): string {
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(ENTRY.href)}); });`;
}

export class InferenceWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: Ok) => void; reject: (e: Error) => void }>();
  private nextReq = 1;
  private nextModel = 1;
  private dead: InferenceWorkerError | undefined;
  private closing = false;
  /** Backend the worker initialised (known after `start`). */
  backend: TfBackendName | undefined;

  private constructor(private readonly onExit: (err: Error) => void) {
    this.worker = new Worker(bootstrap(), { eval: true, name: 'price-inference' });
    this.worker.on('message', (r: WorkerReply) => this.onReply(r));
    this.worker.on('error', (err) => this.die(new InferenceWorkerError('E_INFERENCE_WORKER', `inference worker failed: ${err.message}`)));
    this.worker.on('exit', (code) => this.die(new InferenceWorkerError('E_INFERENCE_WORKER', `inference worker exited (code ${code})`)));
  }

  /** Start the worker thread and wait until its TensorFlow.js backend is ready. */
  static async start(opts: { onExit?: (err: Error) => void } = {}): Promise<InferenceWorker> {
    const w = new InferenceWorker(opts.onExit ?? (() => {}));
    try {
      const r = await w.call({ op: 'init', req: 0 });
      w.backend = 'backend' in r ? r.backend : undefined;
    } catch (err) {
      await w.close();
      throw err;
    }
    return w;
  }

  /** Load a price model version in the worker. Not warmed up yet: the caller awaits `warmup()` before serving it. */
  async loadPrice(ref: ModelRef, artifacts: WorkerArtifacts): Promise<ServingPriceModel> {
    const id = this.nextModel++;
    const r = await this.call({ op: 'load', req: 0, id, artifacts: { json: artifacts.json, weights: artifacts.weights } });
    if (!('meta' in r)) throw new InferenceWorkerError('E_INFERENCE_WORKER', 'unexpected reply to load');
    return new ServingPriceModel(ref, new WorkerPriceModel(this, id, r.meta));
  }

  /** Forward pass of model `id` on a packed, normalized batch; `x`'s buffer is transferred. */
  async run(id: number, x: Float32Array, n: number): Promise<Float32Array> {
    const r = await this.call({ op: 'run', req: 0, id, x, n }, [x.buffer as ArrayBuffer]);
    if (!('out' in r)) throw new InferenceWorkerError('E_INFERENCE_WORKER', 'unexpected reply to run');
    return r.out;
  }

  dispose(id: number): void {
    if (this.dead || this.closing) return;
    this.worker.postMessage({ op: 'dispose', req: this.nextReq++, id } satisfies WorkerRequest);
  }

  /** Stop the worker; pending calls fail with E_INFERENCE_WORKER. */
  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }

  private call(msg: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<Ok> {
    if (this.dead) return Promise.reject(this.dead);
    const req = this.nextReq++;
    return new Promise<Ok>((resolve, reject) => {
      this.pending.set(req, { resolve, reject });
      this.worker.postMessage({ ...msg, req }, transfer);
    });
  }

  private onReply(r: WorkerReply): void {
    const p = this.pending.get(r.req);
    if (!p) return;
    this.pending.delete(r.req);
    if (r.ok) p.resolve(r);
    else p.reject(new InferenceWorkerError(r.code, r.message));
  }

  private die(err: InferenceWorkerError): void {
    if (this.dead) return;
    this.dead = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    if (!this.closing) this.onExit(err);
  }
}

/** A price model living in the inference worker, as seen from the serving thread. */
export class WorkerPriceModel implements PriceRunner {
  readonly remote = true;

  constructor(
    private readonly worker: InferenceWorker,
    readonly id: number,
    readonly meta: PriceModelMeta,
  ) {}

  forward(x: Float32Array, n: number): Promise<Float32Array> {
    return this.worker.run(this.id, x, n);
  }

  dispose(): void {
    this.worker.dispose(this.id);
  }
}
