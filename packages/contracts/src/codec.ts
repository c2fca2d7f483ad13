import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import {
  cachedEnvelopeSchema,
  MESSAGE_DEFS,
  messageKey,
  type DataInputOf,
  type DataOf,
  type DataTopicKey,
  type EnvelopeOf,
} from './envelope.ts';
import { deterministicId } from './ids.ts';
import { AppError } from './errors.ts';

/** Largest accepted message value, in bytes (external producers included). */
export const MAX_MESSAGE_BYTES = 256 * 1024;

export type DecodeErrorCode = 'E_EMPTY' | 'E_TOO_LARGE' | 'E_JSON' | 'E_SCHEMA_VERSION' | 'E_TYPE' | 'E_SCHEMA';

export type DecodeResult<K extends DataTopicKey> =
  | { ok: true; envelope: EnvelopeOf<K> }
  | { ok: false; code: DecodeErrorCode; reason: string };

export class ContractError extends AppError<DecodeErrorCode> {
  constructor(code: DecodeErrorCode, message: string) {
    super(code, message);
    this.name = 'ContractError';
  }
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Validate and parse one message value from `topic`. Never throws. */
export function decode<K extends DataTopicKey>(key: K, value: Buffer | string | null | undefined): DecodeResult<K> {
  if (value === null || value === undefined || value.length === 0) {
    return { ok: false, code: 'E_EMPTY', reason: 'empty message value' };
  }
  const size = typeof value === 'string' ? Buffer.byteLength(value) : value.length;
  if (size > MAX_MESSAGE_BYTES) {
    return { ok: false, code: 'E_TOO_LARGE', reason: `message is ${size} bytes, limit is ${MAX_MESSAGE_BYTES}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(value.toString());
  } catch (err) {
    return { ok: false, code: 'E_JSON', reason: `invalid JSON: ${(err as Error).message}` };
  }
  const def = MESSAGE_DEFS[key];
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const o = json as Record<string, unknown>;
    if (o.type !== undefined && o.type !== def.type) {
      return { ok: false, code: 'E_TYPE', reason: `type "${String(o.type)}" is not "${def.type}"` };
    }
    if (o.schemaVersion !== undefined && o.schemaVersion !== def.schemaVersion) {
      return {
        ok: false,
        code: 'E_SCHEMA_VERSION',
        reason: `schemaVersion ${String(o.schemaVersion)} is not supported (expected ${def.schemaVersion})`,
      };
    }
  }
  const parsed = cachedEnvelopeSchema(key).safeParse(json);
  if (!parsed.success) return { ok: false, code: 'E_SCHEMA', reason: describeIssues(parsed.error.issues) };
  return { ok: true, envelope: parsed.data as EnvelopeOf<K> };
}

export interface EnvelopeInit<K extends DataTopicKey> {
  data: DataInputOf<K>;
  source: string;
  /** Natural key parts: the event id is derived from them, so replays are idempotent. */
  idParts?: Array<string | number>;
  eventId?: string;
  eventTime?: string;
  traceId?: string;
}

export function newTraceId(): string {
  return randomBytes(8).toString('hex');
}

/** Build and validate an envelope; throws ContractError when the data does not match the topic schema. */
export function makeEnvelope<K extends DataTopicKey>(key: K, init: EnvelopeInit<K>): EnvelopeOf<K> {
  const def = MESSAGE_DEFS[key];
  const eventId =
    init.eventId ?? (init.idParts ? deterministicId(def.type, ...init.idParts) : randomBytes(16).toString('hex'));
  const candidate = {
    eventId,
    type: def.type,
    schemaVersion: def.schemaVersion,
    eventTime: init.eventTime ?? new Date().toISOString(),
    source: init.source,
    ...(init.traceId ? { traceId: init.traceId } : {}),
    data: init.data,
  };
  const parsed = cachedEnvelopeSchema(key).safeParse(candidate);
  if (!parsed.success) {
    throw new ContractError('E_SCHEMA', `${String(key)}: ${describeIssues(parsed.error.issues)}`);
  }
  return parsed.data as EnvelopeOf<K>;
}

export interface EncodedMessage {
  key: string;
  value: string;
}

export function encode<K extends DataTopicKey>(key: K, envelope: EnvelopeOf<K>): EncodedMessage {
  return { key: messageKey(key, envelope.data as DataOf<K>), value: JSON.stringify(envelope) };
}
