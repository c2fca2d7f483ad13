import { reflectionDescriptors, serveGrpc, type GrpcServing, type Logger } from '@stock-mlops/platform';
import type { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { domainHandlers, SERVICE_NAME, type DomainLimits, type ModelDirectory } from './grpc_domain.ts';
import { oipHandlers, OIP_SERVICE_NAME, type OipLimits } from './grpc_oip.ts';
import { DOMAIN_PROTO, loadProtos, OIP_PROTO } from './protos.ts';
import type { LabelPublisher } from '@stock-mlops/platform';

export { SERVICE_NAME } from './grpc_domain.ts';
export { OIP_SERVICE_NAME } from './grpc_oip.ts';
export { loadProtos } from './protos.ts';

export interface GrpcOptions {
  host: string;
  port: number;
  log: Logger;
  core: PredictorCore;
  catalog: ModelDirectory;
  maxMessageBytes: number;
  /** Bearer token required on every RPC except health and reflection. */
  token?: string | undefined;
  /** PEM certificate chain and key: serve TLS instead of plaintext. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  version: string;
  domain: DomainLimits;
  oip: OipLimits;
  /** Where SubmitSentimentLabels publishes (absent: the RPC answers UNAVAILABLE). */
  labels?: LabelPublisher | undefined;
}

export type GrpcHandle = GrpcServing;

/**
 * One gRPC server for the domain API (stockmlops.v1), the Open Inference Protocol (inference),
 * grpc.health.v1 and server reflection, with message size limits, optional TLS and bearer auth.
 */
export async function startGrpcServer(opts: GrpcOptions): Promise<GrpcHandle> {
  const { pkg } = loadProtos();
  const ctx = { log: opts.log, token: opts.token };
  return serveGrpc({
    host: opts.host,
    port: opts.port,
    services: [
      { definition: pkg.stockmlops.v1.PredictionService.service, handlers: domainHandlers(ctx, opts.core, opts.catalog, opts.domain, opts.labels) },
      { definition: pkg.inference.GRPCInferenceService.service, handlers: oipHandlers(ctx, opts.core, opts.version, opts.oip) },
    ],
    healthNames: [SERVICE_NAME, OIP_SERVICE_NAME],
    reflection: reflectionDescriptors([DOMAIN_PROTO, OIP_PROTO]),
    tls: opts.tls,
    serverOptions: {
      'grpc.max_receive_message_length': opts.maxMessageBytes,
      'grpc.max_send_message_length': opts.maxMessageBytes,
      // No channelz service is exposed; its per-call bookkeeping would be pure overhead.
      'grpc.enable_channelz': 0,
    },
  });
}
