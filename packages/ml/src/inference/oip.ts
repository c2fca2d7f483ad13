/**
 * Open Inference Protocol (KServe v2 / Triton) tensor handling, transport-free: the served
 * models' signatures and the codecs between protocol tensors (typed `contents` or little-endian
 * `raw_*_contents`) and plain arrays. Every malformed tensor is an `E_INVALID_TENSOR` error.
 */
import { AppError } from '@stock-mlops/contracts';

export const PRICE_MODEL_NAME = 'price';
export const SENTIMENT_MODEL_NAME = 'sentiment';
export const OIP_PLATFORM = 'tensorflowjs';

export interface TensorMeta {
  name: string;
  datatype: 'FP32' | 'BYTES';
  /** -1 = variable dimension. */
  shape: number[];
}

export interface ModelSignature {
  name: string;
  platform: string;
  inputs: TensorMeta[];
  outputs: TensorMeta[];
}

export const PRICE_INPUT = 'features';
export const PRICE_OUTPUT = 'predicted_return';
export const SENTIMENT_INPUT = 'text';
export const SENTIMENT_PROBS = 'probabilities';
export const SENTIMENT_LABEL = 'label';

export function priceSignature(lookback: number, nFeatures: number): ModelSignature {
  return {
    name: PRICE_MODEL_NAME,
    platform: OIP_PLATFORM,
    inputs: [{ name: PRICE_INPUT, datatype: 'FP32', shape: [-1, lookback, nFeatures] }],
    outputs: [{ name: PRICE_OUTPUT, datatype: 'FP32', shape: [-1, 1] }],
  };
}

export function sentimentSignature(nLabels: number): ModelSignature {
  return {
    name: SENTIMENT_MODEL_NAME,
    platform: OIP_PLATFORM,
    inputs: [{ name: SENTIMENT_INPUT, datatype: 'BYTES', shape: [-1] }],
    outputs: [
      { name: SENTIMENT_PROBS, datatype: 'FP32', shape: [-1, nLabels] },
      { name: SENTIMENT_LABEL, datatype: 'BYTES', shape: [-1] },
    ],
  };
}

export class TensorError extends AppError<'E_INVALID_TENSOR'> {
  constructor(message: string) {
    super('E_INVALID_TENSOR', message);
    this.name = 'TensorError';
  }
}

/** The parts of a protocol input tensor this module reads (proto-loader camelCase, longs as numbers). */
export interface WireInput {
  name: string;
  datatype: string;
  shape: Array<number | string>;
  contents?: { fp32Contents?: number[]; bytesContents?: Uint8Array[] } & Record<string, unknown[] | undefined> | null;
}

/** Check a request tensor against the signature: same datatype, rank, fixed dimensions; returns the concrete shape. */
export function checkShape(input: WireInput, meta: TensorMeta, maxElements: number): number[] {
  if (input.datatype !== meta.datatype) throw new TensorError(`input "${meta.name}": datatype ${input.datatype || '(none)'}, expected ${meta.datatype}`);
  const shape = input.shape.map(Number);
  if (shape.length !== meta.shape.length) throw new TensorError(`input "${meta.name}": shape [${shape.join(',')}] has rank ${shape.length}, expected [${meta.shape.join(',')}]`);
  shape.forEach((d, i) => {
    const want = meta.shape[i]!;
    if (!Number.isSafeInteger(d) || d < 0 || (want >= 0 && d !== want)) {
      throw new TensorError(`input "${meta.name}": shape [${shape.join(',')}] does not match [${meta.shape.join(',')}]`);
    }
  });
  if (shape[0] === 0) throw new TensorError(`input "${meta.name}": batch dimension must be at least 1`);
  if (elementCount(shape) > maxElements) throw new TensorError(`input "${meta.name}": more than ${maxElements} elements`);
  return shape;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** True when any typed-contents field holds data. */
export function hasTypedContents(input: WireInput): boolean {
  const c = input.contents;
  return !!c && Object.values(c).some((v) => Array.isArray(v) && v.length > 0);
}

/** FP32 tensor values from raw little-endian bytes or from `fp32_contents`. */
export function readFp32(input: WireInput, shape: readonly number[], raw: Uint8Array | undefined): Float32Array {
  const n = elementCount(shape);
  if (raw) {
    if (raw.byteLength !== n * 4) throw new TensorError(`input "${input.name}": raw content is ${raw.byteLength} bytes, expected ${n * 4} for shape [${shape.join(',')}] FP32`);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
    return out;
  }
  const vals = input.contents?.fp32Contents ?? [];
  if (vals.length !== n) throw new TensorError(`input "${input.name}": fp32_contents has ${vals.length} values, expected ${n}`);
  return Float32Array.from(vals);
}

/** BYTES tensor elements: raw = each element as a 4-byte little-endian length then the bytes. */
export function readBytes(input: WireInput, shape: readonly number[], raw: Uint8Array | undefined): Uint8Array[] {
  const n = elementCount(shape);
  if (!raw) {
    const vals = input.contents?.bytesContents ?? [];
    if (vals.length !== n) throw new TensorError(`input "${input.name}": bytes_contents has ${vals.length} elements, expected ${n}`);
    return vals;
  }
  const out: Uint8Array[] = [];
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let off = 0;
  while (off < raw.byteLength) {
    if (off + 4 > raw.byteLength) throw new TensorError(`input "${input.name}": truncated BYTES length prefix`);
    const len = dv.getUint32(off, true);
    off += 4;
    if (off + len > raw.byteLength) throw new TensorError(`input "${input.name}": BYTES element overruns the raw content`);
    out.push(raw.subarray(off, off + len));
    off += len;
  }
  if (out.length !== n) throw new TensorError(`input "${input.name}": raw content holds ${out.length} BYTES elements, expected ${n}`);
  return out;
}

export function fp32Raw(values: ArrayLike<number>): Buffer {
  const buf = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i]!, i * 4);
  return buf;
}

export function bytesRaw(items: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const it of items) {
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32LE(it.byteLength, 0);
    parts.push(len, Buffer.from(it.buffer, it.byteOffset, it.byteLength));
  }
  return Buffer.concat(parts);
}

/** Row-major flat values → [n][lookback][nFeatures] windows. */
export function toWindows(flat: Float32Array, shape: readonly number[]): number[][][] {
  const [n, lookback, nf] = shape as [number, number, number];
  const out: number[][][] = [];
  let o = 0;
  for (let i = 0; i < n; i++) {
    const w: number[][] = [];
    for (let s = 0; s < lookback; s++) {
      w.push(Array.from(flat.subarray(o, o + nf)));
      o += nf;
    }
    out.push(w);
  }
  return out;
}

/** Decode UTF-8 text elements; invalid UTF-8 is a tensor error. */
export function decodeTexts(items: readonly Uint8Array[], name: string): string[] {
  const dec = new TextDecoder('utf-8', { fatal: true });
  return items.map((b, i) => {
    try {
      return dec.decode(b);
    } catch {
      throw new TensorError(`input "${name}": element ${i} is not valid UTF-8`);
    }
  });
}
