/** Promise wrappers over the predictor's gRPC services (domain API and Open Inference Protocol) for tests and benchmarks. */
import * as grpc from '@grpc/grpc-js';
import { loadProtos } from '../../../services/predictor/src/grpc_server.ts';

export type Rpc = <Res = Record<string, unknown>>(method: string, req: unknown, opts?: { metadata?: grpc.Metadata; deadlineMs?: number }) => Promise<Res>;

export interface Clients {
  domain: Rpc;
  oip: Rpc;
  health: Rpc;
  raw: { domain: grpc.Client; oip: grpc.Client };
  close: () => void;
}

export function rpcOf(c: grpc.Client): Rpc {
  return (method, req, opts = {}) =>
    new Promise((resolve, reject) => {
      const fn = (c as unknown as Record<string, (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void>)[method];
      if (!fn) throw new Error(`no method ${method}`);
      const o: grpc.CallOptions = opts.deadlineMs ? { deadline: Date.now() + opts.deadlineMs } : {};
      fn.call(c, req, opts.metadata ?? new grpc.Metadata(), o, (err, res) => (err ? reject(err) : resolve(res as never)));
    });
}

export function clients(port: number, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): Clients {
  const { pkg } = loadProtos();
  const addr = `127.0.0.1:${port}`;
  const domain = new pkg.stockmlops.v1.PredictionService(addr, creds, options);
  const oip = new pkg.inference.GRPCInferenceService(addr, creds, options);
  const HealthClient = grpc.makeGenericClientConstructor(
    {
      Check: {
        path: '/grpc.health.v1.Health/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (r: { service: string }) => encodeHealthRequest(r.service),
        requestDeserialize: () => ({}),
        responseSerialize: () => Buffer.alloc(0),
        responseDeserialize: (b: Buffer) => ({ status: b.length >= 2 ? b[1] : 0 }),
      },
    },
    'Health',
  );
  const health = new HealthClient(addr, creds, options);
  return {
    domain: rpcOf(domain),
    oip: rpcOf(oip),
    health: rpcOf(health),
    raw: { domain, oip },
    close: () => {
      domain.close();
      oip.close();
      health.close();
    },
  };
}

/** grpc.health.v1.HealthCheckRequest { string service = 1; } on the wire. */
function encodeHealthRequest(service: string): Buffer {
  const s = Buffer.from(service);
  return s.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, s.length]), s]);
}

export function bearer(token: string): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set('authorization', `Bearer ${token}`);
  return m;
}

export async function statusOf(p: Promise<unknown>): Promise<grpc.status | 'OK'> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    return (err as grpc.ServiceError).code;
  }
}
