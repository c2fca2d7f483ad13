import type * as grpc from '@grpc/grpc-js';
import {
  bytesRaw,
  checkShape,
  decodeTexts,
  fp32Raw,
  hasTypedContents,
  priceSignature,
  PRICE_MODEL_NAME,
  PRICE_OUTPUT,
  readBytes,
  readFp32,
  sentimentSignature,
  SENTIMENT_LABEL,
  SENTIMENT_MODEL_NAME,
  SENTIMENT_PROBS,
  TensorError,
  toWindows,
  type ModelSignature,
  type WireInput,
} from '@stock-mlops/ml/inference/oip';
import { PredictError, type CallOptions, type PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { unary, type RpcContext } from './grpc_util.ts';

/**
 * Open Inference Protocol v2 (`inference.GRPCInferenceService`) over the same core and the same
 * inference queue as the domain API. Responses mirror the request: raw inputs get
 * `raw_output_contents` (what tritonclient reads), typed inputs get typed `contents`.
 */
export const OIP_SERVICE_NAME = 'inference.GRPCInferenceService';
export const SERVER_NAME = 'stock-mlops-predictor';

interface InferRequest {
  modelName: string;
  modelVersion: string;
  id: string;
  inputs: WireInput[];
  outputs: Array<{ name: string }>;
  rawInputContents: Buffer[];
}

interface OutTensor {
  name: string;
  datatype: 'FP32' | 'BYTES';
  shape: number[];
  fp32?: Float32Array;
  bytes?: Uint8Array[];
}

export interface OipLimits {
  /** Most tensor elements in one input. */
  maxElements: number;
  /** Most texts in one sentiment request. */
  maxTexts: number;
}

const known = (name: string) => name === PRICE_MODEL_NAME || name === SENTIMENT_MODEL_NAME;

export function oipHandlers(ctx: RpcContext, core: PredictorCore, version: string, limits: OipLimits): grpc.UntypedServiceImplementation {
  const served = (name: string) => (name === PRICE_MODEL_NAME ? core.serving?.ref : core.sentiment?.ref);

  /** The signature of a served model, checking name and (optional) version. */
  const signature = (name: string, ver: string): { sig: ModelSignature; version: number } => {
    if (!known(name)) throw new PredictError('E_UNKNOWN_MODEL', `unknown model "${name.slice(0, 64)}" (have ${PRICE_MODEL_NAME}, ${SENTIMENT_MODEL_NAME})`);
    if (name === PRICE_MODEL_NAME) {
      const m = core.requireModel();
      checkVersion(name, ver, m.ref.version);
      return { sig: priceSignature(m.spec.lookback, m.spec.nFeatures), version: m.ref.version };
    }
    const s = core.requireSentiment();
    checkVersion(name, ver, s.ref.version);
    return { sig: sentimentSignature(s.labels.length), version: s.ref.version };
  };

  const infer = async (req: InferRequest, opts: CallOptions) => {
    const { sig, version: v } = signature(req.modelName, req.modelVersion);
    const meta = sig.inputs[0]!;
    if (req.inputs.length !== 1) throw new TensorError(`model "${sig.name}" takes exactly one input ("${meta.name}"), got ${req.inputs.length}`);
    const input = req.inputs[0]!;
    if (input.name !== meta.name) throw new TensorError(`unknown input "${input.name.slice(0, 64)}"; model "${sig.name}" takes "${meta.name}"`);
    const raw = req.rawInputContents.length > 0;
    if (raw && req.rawInputContents.length !== req.inputs.length) throw new TensorError('raw_input_contents must hold one entry per input');
    if (raw && hasTypedContents(input)) throw new TensorError('an input must not have contents when raw_input_contents is used');
    const wanted = req.outputs.map((o) => o.name);
    for (const w of wanted) if (!sig.outputs.some((o) => o.name === w)) throw new TensorError(`unknown output "${w.slice(0, 64)}"`);
    const shape = checkShape(input, meta, limits.maxElements);
    const rawIn = raw ? req.rawInputContents[0] : undefined;

    let outputs: OutTensor[];
    let servedVersion = v;
    if (sig.name === PRICE_MODEL_NAME) {
      const windows = toWindows(readFp32(input, shape, rawIn), shape);
      const { model, returns } = await core.inferWindows(windows, opts);
      servedVersion = model.ref.version;
      outputs = [{ name: PRICE_OUTPUT, datatype: 'FP32', shape: [returns.length, 1], fp32: Float32Array.from(returns) }];
    } else {
      const texts = decodeTexts(readBytes(input, shape, rawIn), meta.name);
      if (texts.length > limits.maxTexts) throw new TensorError(`at most ${limits.maxTexts} texts per request`);
      const { model, results } = await core.analyzeSentiment(texts);
      servedVersion = model.ref.version;
      const k = model.labels.length;
      const probs = new Float32Array(results.length * k);
      results.forEach((r, i) => model.labels.forEach((l, j) => (probs[i * k + j] = r.probs[l])));
      outputs = [
        { name: SENTIMENT_PROBS, datatype: 'FP32', shape: [results.length, k], fp32: probs },
        { name: SENTIMENT_LABEL, datatype: 'BYTES', shape: [results.length], bytes: results.map((r) => Buffer.from(r.label)) },
      ];
    }
    if (wanted.length > 0) outputs = outputs.filter((o) => wanted.includes(o.name));
    const tensor = (o: OutTensor) => ({ name: o.name, datatype: o.datatype, shape: o.shape, parameters: {} });
    return {
      modelName: sig.name,
      modelVersion: String(servedVersion),
      id: req.id,
      parameters: {},
      outputs: raw
        ? outputs.map(tensor)
        : outputs.map((o) => ({ ...tensor(o), contents: o.fp32 ? { fp32Contents: Array.from(o.fp32) } : { bytesContents: o.bytes ?? [] } })),
      rawOutputContents: raw ? outputs.map((o) => (o.fp32 ? fp32Raw(o.fp32) : bytesRaw(o.bytes ?? []))) : [],
    };
  };

  return {
    ServerLive: unary(ctx, 'ServerLive', () => ({ live: true })),
    ServerReady: unary(ctx, 'ServerReady', () => ({ ready: core.serving !== undefined })),
    ModelReady: unary(ctx, 'ModelReady', (req: { name: string; version: string }) => {
      if (!known(req.name)) throw new PredictError('E_UNKNOWN_MODEL', `unknown model "${req.name.slice(0, 64)}"`);
      const ref = served(req.name);
      return { ready: ref !== undefined && (req.version === '' || req.version === String(ref.version)) };
    }),
    ServerMetadata: unary(ctx, 'ServerMetadata', () => ({ name: SERVER_NAME, version, extensions: [] })),
    ModelMetadata: unary(ctx, 'ModelMetadata', (req: { name: string; version: string }) => {
      const { sig, version: v } = signature(req.name, req.version);
      return { name: sig.name, versions: [String(v)], platform: sig.platform, inputs: sig.inputs, outputs: sig.outputs };
    }),
    ModelInfer: unary(ctx, 'ModelInfer', (req: InferRequest, opts) => infer(req, opts)),
  };
}

function checkVersion(name: string, requested: string, served: number): void {
  if (requested !== '' && requested !== String(served)) {
    throw new PredictError('E_UNKNOWN_MODEL', `model "${name}" version "${requested.slice(0, 16)}" is not served (serving ${served})`);
  }
}
