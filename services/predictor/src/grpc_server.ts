import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as HEALTH_PROTO, type ServingStatusMap } from 'grpc-health-check';
import type { Logger } from '@stock-mlops/platform';
import type { PredictorCore } from './core.ts';
import { domainHandlers, SERVICE_NAME, type DomainLimits } from './grpc_domain.ts';
import { oipHandlers, OIP_SERVICE_NAME, type OipLimits } from './grpc_oip.ts';
import type { ModelDirectory } from './grpc_domain.ts';
import { withCanonicalMapEntries } from './reflection.ts';
import { DOMAIN_PROTO, LOADER_OPTS, loadProtos, OIP_PROTO } from './protos.ts';

export { SERVICE_NAME } from './grpc_domain.ts';
export { OIP_SERVICE_NAME } from './grpc_oip.ts';

export { DOMAIN_PROTO, LOADER_OPTS, loadProtos, OIP_PROTO, PROTO_DIR } from './protos.ts';

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
}

export interface GrpcHandle {
  server: grpc.Server;
  port: number;
  health: HealthImplementation;
  /** Mark the services SERVING / NOT_SERVING in grpc.health.v1. */
  setServing: (serving: boolean) => void;
  close: () => Promise<void>;
}

/**
 * One gRPC server for the domain API (stockmlops.v1), the Open Inference Protocol (inference),
 * grpc.health.v1 and server reflection, with message size limits, optional TLS and bearer auth.
 */
export async function startGrpcServer(opts: GrpcOptions): Promise<GrpcHandle> {
  const { pkg } = loadProtos();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': opts.maxMessageBytes,
    'grpc.max_send_message_length': opts.maxMessageBytes,
    // No channelz service is exposed; its per-call bookkeeping would be pure overhead.
    'grpc.enable_channelz': 0,
  });
  const ctx = { log: opts.log, token: opts.token };
  server.addService(pkg.stockmlops.v1.PredictionService.service, domainHandlers(ctx, opts.core, opts.catalog, opts.domain));
  server.addService(pkg.inference.GRPCInferenceService.service, oipHandlers(ctx, opts.core, opts.version, opts.oip));

  const names = ['', SERVICE_NAME, OIP_SERVICE_NAME];
  const statusMap: ServingStatusMap = Object.fromEntries(names.map((n) => [n, 'NOT_SERVING']));
  const health = new HealthImplementation(statusMap);
  health.addToServer(server);
  // Reflection publishes the files as written (snake_case field names) and describes the health
  // service too, so grpcurl can call everything without .proto files.
  const described = protoLoader.loadSync([DOMAIN_PROTO, OIP_PROTO, HEALTH_PROTO], { ...LOADER_OPTS, keepCase: true });
  new ReflectionService(withCanonicalMapEntries(described)).addToServer(server);

  const creds = opts.tls ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: opts.tls.cert, private_key: opts.tls.key }], false) : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    server,
    port,
    health,
    setServing: (serving) => {
      for (const n of names) health.setStatus(n, serving ? 'SERVING' : 'NOT_SERVING');
    },
    close: () =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 5_000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      }),
  };
}
