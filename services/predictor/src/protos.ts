import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { loadProtoPackage, PROTO_DIR } from '@stock-mlops/platform';

/**
 * The predictor's protos, shared by the server and by clients (the load generator imports only
 * this, not the server and its dependencies).
 */
export const DOMAIN_PROTO = path.join(PROTO_DIR, 'stockmlops/v1/predictor.proto');
export const OIP_PROTO = path.join(PROTO_DIR, 'inference/grpc_predict_v2.proto');

export type Pkg = {
  stockmlops: { v1: { PredictionService: grpc.ServiceClientConstructor } };
  inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
};

export function loadProtos() {
  return loadProtoPackage<Pkg>([DOMAIN_PROTO, OIP_PROTO]);
}
