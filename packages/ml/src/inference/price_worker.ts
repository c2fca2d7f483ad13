/**
 * Entry of the inference worker thread (started by `InferenceWorker`, inference/worker.ts).
 *
 * It initialises its own TensorFlow.js backend (`initTf`: tfjs state is per thread), holds the
 * price models it was asked to load, and runs forward passes on the normalized Float32Array
 * batches it is handed, answering with the raw outputs (buffers are transferred, not copied).
 * Messages are handled in arrival order; a failing load or run answers with an error and the
 * worker keeps going.
 */
import { parentPort } from 'node:worker_threads';
import { initTf } from '../tf.ts';
import { PriceModel } from '../models/price_predictor.ts';
import type { WorkerReply, WorkerRequest } from './worker.ts';

const port = parentPort;
if (!port) throw new Error('price_worker.ts runs only as a worker thread');

const models = new Map<number, PriceModel>();
const ready = initTf();

function fail(msg: WorkerRequest, err: unknown): void {
  const code = (err as { code?: unknown })?.code;
  const fallback = msg.op === 'load' ? 'E_MODEL_LOAD' : 'E_INFERENCE';
  port!.postMessage({ req: msg.req, ok: false, code: typeof code === 'string' ? code : fallback, message: (err as Error)?.message ?? String(err) } satisfies WorkerReply);
}

async function handle(msg: WorkerRequest): Promise<void> {
  const { tf } = await ready;
  switch (msg.op) {
    case 'run': {
      const model = models.get(msg.id);
      if (!model) throw Object.assign(new Error(`no model ${msg.id} in the inference worker`), { code: 'E_MODEL_DISPOSED' });
      const out = model.forward(msg.x, msg.n);
      port!.postMessage({ req: msg.req, ok: true, out } satisfies WorkerReply, [out.buffer as ArrayBuffer]);
      return;
    }
    case 'load': {
      const model = await PriceModel.deserialize(tf, msg.artifacts);
      models.set(msg.id, model);
      port!.postMessage({ req: msg.req, ok: true, meta: model.meta } satisfies WorkerReply);
      return;
    }
    case 'dispose': {
      models.get(msg.id)?.dispose();
      models.delete(msg.id);
      return;
    }
    case 'init': {
      const { backend } = await ready;
      port!.postMessage({ req: msg.req, ok: true, backend } satisfies WorkerReply);
      return;
    }
  }
}

port.on('message', (msg: WorkerRequest) => {
  handle(msg).catch((err: unknown) => fail(msg, err));
});
