import { z } from 'zod';
import { SYMBOL_RE } from './primitives.ts';

/**
 * WebSocket protocol of the predictor's live stream (`ws://host:port/ws`), version 1.
 * Client → server frames are JSON objects validated here; anything else gets an error frame.
 */
export const WS_PROTOCOL_VERSION = 1;
export const WS_MAX_FRAME_BYTES = 16 * 1024;
/** Most individual symbols one connection may subscribe to ("*" covers all of them). */
export const WS_MAX_SUBSCRIPTIONS = 1_000;

/** `code` of the server's `error` frames. */
export const WS_ERROR = {
  json: 'E_JSON',
  badRequest: 'E_BAD_REQUEST',
  binary: 'E_BINARY',
  tooManySubscriptions: 'E_TOO_MANY_SUBSCRIPTIONS',
} as const;

const SymbolOrAll = z.string().refine((s) => s === '*' || SYMBOL_RE.test(s), 'symbol must match the symbol pattern or be "*"');

export const WsClientMessage = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('subscribe'), symbols: z.array(SymbolOrAll).min(1).max(500), id: z.string().max(64).optional() }),
  z.strictObject({ op: z.literal('unsubscribe'), symbols: z.array(SymbolOrAll).min(1).max(500), id: z.string().max(64).optional() }),
  z.strictObject({ op: z.literal('ping'), id: z.string().max(64).optional() }),
]);
export type WsClientMessage = z.infer<typeof WsClientMessage>;

export type WsServerMessage =
  | { type: 'welcome'; protocol: number; heartbeatMs: number }
  | { type: 'subscribed'; symbols: string[]; id?: string }
  | { type: 'unsubscribed'; symbols: string[]; id?: string }
  | { type: 'snapshot'; symbol: string; prediction: unknown | null }
  | { type: 'prediction'; data: unknown }
  | { type: 'heartbeat'; ts: string }
  | { type: 'pong'; id?: string }
  | { type: 'error'; code: string; message: string; id?: string };

/**
 * Close codes the server uses (4000–4999 are application codes). A refused handshake is an HTTP
 * answer instead: 401 (bad or missing token), 403 (origin not allowed), 503 (too many clients).
 */
export const WS_CLOSE = {
  slowConsumer: 4008,
  unauthorized: 4001,
  forbiddenOrigin: 4003,
  tooManyErrors: 4009,
  messageTooBig: 1009,
  goingAway: 1001,
} as const;

const WsRequestId = z.object({ id: z.string().max(64) });

/**
 * A frame that fails validation still gets its request `id` echoed in the error frame when it is
 * a JSON object with a string `id` of at most 64 characters (a frame that is not JSON has none).
 */
export function parseWsClientMessage(raw: string): { ok: true; msg: WsClientMessage } | { ok: false; code: string; message: string; id?: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, code: WS_ERROR.json, message: 'frame is not valid JSON' };
  }
  const r = WsClientMessage.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    const id = WsRequestId.safeParse(json);
    return { ok: false, code: WS_ERROR.badRequest, message: `${i?.path.join('.') || '(root)'}: ${i?.message ?? 'invalid'}`, ...(id.success ? { id: id.data.id } : {}) };
  }
  return { ok: true, msg: r.data };
}
