import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * The predictor's protos and how they are loaded, shared by the server and by clients (the load
 * generator imports only this, not the server and its dependencies).
 */
export const PROTO_DIR = path.resolve(import.meta.dirname, '..', '..', '..', 'proto');
export const DOMAIN_PROTO = path.join(PROTO_DIR, 'stockmlops/v1/predictor.proto');
export const OIP_PROTO = path.join(PROTO_DIR, 'inference/grpc_predict_v2.proto');
export const LOADER_OPTS: protoLoader.Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] };

export type Pkg = {
  stockmlops: { v1: { PredictionService: grpc.ServiceClientConstructor } };
  inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
};

export function loadProtos(): { def: protoLoader.PackageDefinition; pkg: Pkg } {
  const def = protoLoader.loadSync([DOMAIN_PROTO, OIP_PROTO], LOADER_OPTS);
  return { def, pkg: grpc.loadPackageDefinition(def) as unknown as Pkg };
}
