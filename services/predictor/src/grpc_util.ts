import * as grpc from '@grpc/grpc-js';
import { RpcError, sameSecret, toGrpcStatus, unaryHandler, type GrpcStatus, type Logger } from '@stock-mlops/platform';
import type { CallOptions } from '@stock-mlops/ml/inference/predictor_core';

/**
 * What every RPC handler shares: bearer-token check (constant time), error → status mapping
 * (unexpected errors are logged and hidden behind E_INTERNAL), and the call's deadline and
 * cancellation turned into options for the inference queue.
 */

/** Constant-time secret comparison (shared with the WebSocket server and the ops port). */
export const constantTimeEqual = sameSecret;

/**
 * Error codes the predictor raises (and the libraries it calls), by gRPC status: the only codes a
 * client sees besides E_INTERNAL (every one is listed in docs/api.md; a unit test checks).
 */
export const STATUS_BY_CODE: Readonly<Record<string, grpc.status>> = {
  E_INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  E_INVALID_TENSOR: grpc.status.INVALID_ARGUMENT,
  E_INPUT_SHAPE: grpc.status.INVALID_ARGUMENT,
  E_INPUT_VALUE: grpc.status.INVALID_ARGUMENT,
  E_SCHEMA_MISMATCH: grpc.status.INVALID_ARGUMENT,
  E_SENTIMENT_BAD_INPUT: grpc.status.INVALID_ARGUMENT,
  E_UNKNOWN_SYMBOL: grpc.status.NOT_FOUND,
  E_SYMBOL_NOT_READY: grpc.status.NOT_FOUND,
  E_UNKNOWN_MODEL: grpc.status.NOT_FOUND,
  E_MODEL_NOT_FOUND: grpc.status.NOT_FOUND,
  E_ALIAS_NOT_FOUND: grpc.status.NOT_FOUND,
  E_NO_MODEL: grpc.status.UNAVAILABLE,
  E_BATCHER_CLOSED: grpc.status.UNAVAILABLE,
  E_LABELS_UNAVAILABLE: grpc.status.UNAVAILABLE,
  E_QUEUE_FULL: grpc.status.RESOURCE_EXHAUSTED,
  E_STREAM_BACKLOG: grpc.status.RESOURCE_EXHAUSTED,
  E_DEADLINE_EXCEEDED: grpc.status.DEADLINE_EXCEEDED,
  E_CANCELLED: grpc.status.CANCELLED,
  E_UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
};

export function toStatus(err: unknown): GrpcStatus {
  return toGrpcStatus(err, STATUS_BY_CODE);
}

export interface RpcContext {
  log: Logger;
  /** Required bearer token (GRPC_TOKEN); undefined = no authentication. */
  token: string | undefined;
}

export function authorize(ctx: RpcContext, metadata: grpc.Metadata): void {
  if (!ctx.token) return;
  const h = metadata.get('authorization')[0];
  const value = typeof h === 'string' ? h : h?.toString() ?? '';
  const given = value.startsWith('Bearer ') ? value.slice(7) : '';
  if (!given || !constantTimeEqual(given, ctx.token)) throw new RpcError('E_UNAUTHENTICATED', 'missing or invalid bearer token');
}

type AnyCall = { getDeadline(): grpc.Deadline; cancelled: boolean };

/** The call's deadline (performance clock) and cancellation, for the inference queue. */
export function callOptions(call: AnyCall): CallOptions {
  const d = call.getDeadline();
  const at = d instanceof Date ? d.getTime() : d;
  const opts: CallOptions = { cancelled: () => call.cancelled };
  if (Number.isFinite(at)) opts.deadline = performance.now() + (at - Date.now());
  return opts;
}

export type Handler<Req, Res> = (req: Req, opts: CallOptions, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>;

export function unary<Req, Res>(ctx: RpcContext, name: string, fn: Handler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return unaryHandler(ctx.log, name, { statuses: STATUS_BY_CODE }, (call) => {
    authorize(ctx, call.metadata);
    return fn(call.request, callOptions(call), call);
  });
}
