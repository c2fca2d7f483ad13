/**
 * One place that picks and initialises the TensorFlow.js backend for the whole process.
 *
 * Order: `@tensorflow/tfjs-node` when it can be loaded (native, fastest; not installable in
 * every environment), else `@tensorflow/tfjs` with the WebAssembly backend (SIMD, no threads in
 * Node), else the pure-JS `cpu` backend. `TF_BACKEND=node|wasm|cpu` forces one; a forced
 * backend that cannot start is an error rather than a silent fallback.
 *
 * Idempotent: concurrent and repeated calls share one initialisation. Logs nothing: tfjs'
 * own console hints are silenced by the `PROD` flag, and the caller gets the backend name.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tfjs from '@tensorflow/tfjs';
import { AppError } from '@stock-mlops/contracts';

export type Tf = typeof tfjs;
export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface TfRuntime {
  tf: Tf;
  backend: TfBackendName;
}

export class TfInitError extends AppError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, { cause: options?.cause, retriable: false });
    this.name = 'TfInitError';
  }
}

const BACKEND_ENV = 'TF_BACKEND';
// Held in a variable so the type checker does not try to resolve a package that is optional.
const TFJS_NODE_SPECIFIER = ['@tensorflow', 'tfjs-node'].join('/');

let pending: Promise<TfRuntime> | undefined;

export function initTf(): Promise<TfRuntime> {
  pending ??= initialise(process.env[BACKEND_ENV]).catch((err: unknown) => {
    pending = undefined; // allow a retry after fixing the environment
    throw err;
  });
  return pending;
}

async function initialise(forced: string | undefined): Promise<TfRuntime> {
  const want = forced?.trim().toLowerCase() || undefined;
  if (want !== undefined && !['node', 'tensorflow', 'wasm', 'cpu'].includes(want)) {
    throw new TfInitError('E_TF_BACKEND_UNKNOWN', `${BACKEND_ENV}=${forced}: expected node, wasm or cpu`);
  }

  if (want === undefined || want === 'node' || want === 'tensorflow') {
    const nodeTf = await tryTfjsNode();
    if (nodeTf) return nodeTf;
    if (want !== undefined) {
      throw new TfInitError('E_TF_BACKEND_UNAVAILABLE', `${BACKEND_ENV}=${forced} but @tensorflow/tfjs-node cannot be loaded`);
    }
  }

  silence(tfjs);
  if (want === undefined || want === 'wasm') {
    try {
      await startWasm();
      return { tf: tfjs, backend: 'wasm' };
    } catch (err) {
      if (want === 'wasm') {
        throw new TfInitError('E_TF_BACKEND_UNAVAILABLE', `${BACKEND_ENV}=wasm but the wasm backend failed to start`, { cause: err });
      }
    }
  }
  if (!(await tfjs.setBackend('cpu'))) {
    throw new TfInitError('E_TF_BACKEND_UNAVAILABLE', 'the cpu backend failed to start');
  }
  await tfjs.ready();
  return { tf: tfjs, backend: 'cpu' };
}

async function tryTfjsNode(): Promise<TfRuntime | undefined> {
  try {
    const mod = (await import(TFJS_NODE_SPECIFIER)) as Tf & { default?: Tf };
    const tf = (mod.default ?? mod) as Tf;
    silence(tf);
    if (!(await tf.setBackend('tensorflow'))) return undefined;
    await tf.ready();
    return { tf, backend: 'tensorflow' };
  } catch {
    return undefined;
  }
}

async function startWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (tfjs.getBackend() !== 'wasm') {
    // In Node the emscripten loader reads the .wasm with fs, so a directory path works as prefix.
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    wasm.setWasmPaths(path.join(dir, 'dist') + path.sep);
  }
  if (!(await tfjs.setBackend('wasm'))) throw new Error('setBackend(wasm) returned false');
  await tfjs.ready();
}

function silence(tf: Tf): void {
  // PROD turns off tfjs' console hints ("install tfjs-node…") and deprecation warnings.
  tf.env().set('PROD', true);
}
