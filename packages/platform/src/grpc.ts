/**
 * gRPC scaffolding shared by the predictor and the monitor: loading the repository's protos with
 * one set of options, errors to statuses, unary handlers that answer with those statuses, and a
 * server with grpc.health.v1 and reflection that binds and closes the same way everywhere.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as HEALTH_PROTO, type ServingStatusMap } from 'grpc-health-check';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { IDescriptorProto } from 'protobufjs/ext/descriptor/index.js';
import { AppError, errorCode } from './errors.ts';
import type { Logger } from './logger.ts';

export const PROTO_DIR = path.resolve(import.meta.dirname, '..', '..', '..', 'proto');

/** How servers and clients load the protos: camelCase fields, int64 as number, enums as names. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] };

/** Load .proto files (paths absolute or relative to PROTO_DIR) as a package definition and a gRPC package object. */
export function loadProtoPackage<Pkg>(files: string | string[]): { def: protoLoader.PackageDefinition; pkg: Pkg } {
  const def = protoLoader.loadSync(files, PROTO_LOADER_OPTIONS);
  return { def, pkg: grpc.loadPackageDefinition(def) as unknown as Pkg };
}

/**
 * What server reflection should publish for `files`: the files as written (snake_case field
 * names) plus grpc.health.v1, so grpcurl can call everything without .proto files.
 */
export function reflectionDescriptors(files: string[]): protoLoader.PackageDefinition {
  return withCanonicalMapEntries(protoLoader.loadSync([...files, HEALTH_PROTO], { ...PROTO_LOADER_OPTIONS, keepCase: true }));
}

/**
 * protobufjs (used by proto-loader) names the implicit entry message of a `map<K, V> foo` field
 * "Foo" instead of "FooEntry". Strict reflection clients (grpcurl, Go's protodesc) reject such
 * descriptors ("invalid map: incorrect implicit map entry name"), so the descriptors handed to
 * the reflection service are rewritten with the canonical names.
 */
function withCanonicalMapEntries(def: protoLoader.PackageDefinition): protoLoader.PackageDefinition {
  const cache = new Map<Buffer, Buffer>();
  const fix = (bin: Buffer): Buffer => {
    let out = cache.get(bin);
    if (!out) {
      const file = descriptor.FileDescriptorProto.decode(bin) as unknown as { messageType: IDescriptorProto[] };
      for (const m of file.messageType) fixMapEntries(m);
      out = Buffer.from(descriptor.FileDescriptorProto.encode(file).finish());
      cache.set(bin, out);
    }
    return out;
  };
  const patched: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(def)) {
    const v = value as { fileDescriptorProtos?: Buffer[] };
    patched[name] = Array.isArray(v.fileDescriptorProtos) ? { ...v, fileDescriptorProtos: v.fileDescriptorProtos.map(fix) } : value;
  }
  return patched as protoLoader.PackageDefinition;
}

function mapEntryName(fieldName: string): string {
  const camel = fieldName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return `${camel.charAt(0).toUpperCase()}${camel.slice(1)}Entry`;
}

function fixMapEntries(m: IDescriptorProto): void {
  const nested = m.nestedType ?? [];
  for (const f of m.field ?? []) {
    const entry = nested.find((n) => n.options?.mapEntry && n.name === f.typeName);
    if (!entry || !f.name) continue;
    entry.name = mapEntryName(f.name);
    f.typeName = entry.name;
  }
  for (const n of nested) fixMapEntries(n);
}

/** An error a handler raises on purpose; its code picks the status (see toGrpcStatus). */
export class RpcError extends AppError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'RpcError';
  }
}

export interface GrpcStatus {
  code: grpc.status;
  details: string;
}

/** Error code → gRPC status: the codes a service lets its clients see. */
export type StatusTable = Readonly<Record<string, grpc.status>>;

/** What an unexpected error answers with: nothing of its message reaches the client. */
export const INTERNAL_STATUS: Readonly<GrpcStatus> = { code: grpc.status.INTERNAL, details: 'E_INTERNAL: internal error' };

/** Whether the error's code is one of the table's (an expected failure, not a fault). */
export function isListedError(err: unknown, table: StatusTable): boolean {
  return Object.hasOwn(table, errorCode(err));
}

/**
 * The status a failed call answers with: a listed code gets its status and
 * `details: "<code>: <message>"`; anything else gets `fallback`.
 */
export function toGrpcStatus(err: unknown, table: StatusTable, fallback: Readonly<GrpcStatus> = INTERNAL_STATUS): GrpcStatus {
  if (!isListedError(err, table)) return { ...fallback };
  const code = errorCode(err);
  return { code: table[code]!, details: `${code}: ${(err as Error).message}` };
}

export interface StatusPolicy {
  statuses: StatusTable;
  /** For errors not in `statuses`; INTERNAL_STATUS when omitted. */
  fallback?: Readonly<GrpcStatus>;
}

/**
 * A unary handler from a function of the call: its result is the response, a thrown error the
 * status from the policy. Errors outside the table are logged (they are faults, and the client
 * sees only the fallback).
 */
export function unaryHandler<Req, Res>(
  log: Logger,
  rpc: string,
  policy: StatusPolicy,
  fn: (call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, cb) => {
    Promise.resolve()
      .then(() => fn(call))
      .then(
        (res) => cb(null, res),
        (err: unknown) => {
          if (!isListedError(err, policy.statuses)) log.error({ err, rpc }, 'rpc failed');
          cb(toGrpcStatus(err, policy.statuses, policy.fallback));
        },
      );
  };
}

export interface GrpcServerOptions {
  host: string;
  port: number;
  /** Each service's definition and handlers. */
  services: Array<{ definition: grpc.ServiceDefinition; handlers: grpc.UntypedServiceImplementation }>;
  /** Names reported by grpc.health.v1 besides the overall '' status; all start NOT_SERVING. */
  healthNames: string[];
  /** The descriptors server reflection publishes. */
  reflection: protoLoader.PackageDefinition;
  /** PEM certificate chain and key: serve TLS instead of plaintext. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** grpc-js server options (message size limits, …). */
  serverOptions?: grpc.ServerOptions;
}

export interface GrpcServing {
  server: grpc.Server;
  /** The bound port (the chosen one when `port` was 0). */
  port: number;
  health: HealthImplementation;
  /** Mark every health name (and '') SERVING or NOT_SERVING. */
  setServing: (serving: boolean) => void;
  /** Finish calls in flight, at most `graceMs`; see closeGrpcServer. */
  close: () => Promise<void>;
}

/** Bind to host:port (0 = any free port) and resolve with the bound port. */
export function bindGrpcServer(server: grpc.Server, host: string, port: number, creds = grpc.ServerCredentials.createInsecure()): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(`${host}:${port}`, creds, (err, p) => (err ? reject(err) : resolve(p))));
}

/** Stop taking calls, let those in flight finish, and cut off what is still open after `graceMs`. */
export function closeGrpcServer(server: grpc.Server, graceMs = 5_000): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** A server with the given services, grpc.health.v1 (all NOT_SERVING) and reflection, bound and listening. */
export async function serveGrpc(opts: GrpcServerOptions): Promise<GrpcServing> {
  const server = new grpc.Server(opts.serverOptions);
  for (const s of opts.services) server.addService(s.definition, s.handlers);
  const names = ['', ...opts.healthNames];
  const statusMap: ServingStatusMap = Object.fromEntries(names.map((n) => [n, 'NOT_SERVING']));
  const health = new HealthImplementation(statusMap);
  health.addToServer(server);
  new ReflectionService(opts.reflection).addToServer(server);
  const creds = opts.tls ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: opts.tls.cert, private_key: opts.tls.key }], false) : grpc.ServerCredentials.createInsecure();
  const port = await bindGrpcServer(server, opts.host, opts.port, creds);
  return {
    server,
    port,
    health,
    setServing: (serving) => {
      for (const n of names) health.setStatus(n, serving ? 'SERVING' : 'NOT_SERVING');
    },
    close: () => closeGrpcServer(server),
  };
}
