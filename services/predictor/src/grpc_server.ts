import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, type ServingStatusMap } from 'grpc-health-check';
import { SYMBOL_RE, type PricePrediction } from '@stock-mlops/contracts';
import { REPO_ROOT, type Logger } from '@stock-mlops/platform';
import { PredictError, type PredictorCore } from './core.ts';
import type { ModelCatalog } from './model_loader.ts';

export const PROTO_DIR = path.join(REPO_ROOT, 'proto');
export const DOMAIN_PROTO = path.join(PROTO_DIR, 'stockmlops/v1/predictor.proto');
export const SERVICE_NAME = 'stockmlops.v1.PredictionService';

const LOADER_OPTS: protoLoader.Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] };

export interface GrpcOptions {
  host: string;
  port: number;
  log: Logger;
  core: PredictorCore;
  catalog: ModelCatalog;
  maxBatch: number;
  maxMessageBytes: number;
}

export function toStatus(err: unknown): { code: grpc.status; details: string } {
  if (err instanceof PredictError) {
    const map: Record<PredictError['code'], grpc.status> = {
      E_NO_MODEL: grpc.status.UNAVAILABLE,
      E_UNKNOWN_SYMBOL: grpc.status.NOT_FOUND,
      E_INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
    };
    return { code: map[err.code], details: `${err.code}: ${err.message}` };
  }
  const code = (err as { code?: string }).code;
  if (code === 'E_MODEL_NOT_FOUND' || code === 'E_ALIAS_NOT_FOUND') return { code: grpc.status.NOT_FOUND, details: `${code}: ${(err as Error).message}` };
  return { code: grpc.status.INTERNAL, details: 'E_INTERNAL: internal error' };
}

function toProto(p: PricePrediction) {
  return {
    symbol: p.symbol,
    interval: p.interval,
    asOf: p.asOf,
    horizon: p.horizon,
    lastClose: p.lastClose,
    predictedReturn: p.predictedReturn,
    predictedPrice: p.predictedPrice,
    modelName: p.model.name,
    modelVersion: p.model.version,
    featureSchemaHash: p.featureSchemaHash,
    latencyMs: p.latencyMs,
  };
}

function validSymbol(s: unknown): string {
  if (typeof s !== 'string' || s.length === 0) throw new PredictError('E_INVALID_ARGUMENT', 'symbol is required');
  if (!SYMBOL_RE.test(s)) throw new PredictError('E_INVALID_ARGUMENT', `symbol "${s.slice(0, 32)}" does not match ${SYMBOL_RE.source}`);
  return s;
}

function validFeatures(f: unknown): number[] {
  const arr = Array.isArray(f) ? (f as number[]) : [];
  if (arr.length > 4096) throw new PredictError('E_INVALID_ARGUMENT', 'too many features');
  if (!arr.every(Number.isFinite)) throw new PredictError('E_INVALID_ARGUMENT', 'features must be finite numbers');
  return arr;
}

export async function startGrpcServer(opts: GrpcOptions): Promise<{ server: grpc.Server; port: number; health: HealthImplementation; close: () => Promise<void> }> {
  const def = protoLoader.loadSync(DOMAIN_PROTO, LOADER_OPTS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as { stockmlops: { v1: { PredictionService: grpc.ServiceClientConstructor } } };
  const server = new grpc.Server({
    'grpc.max_receive_message_length': opts.maxMessageBytes,
    'grpc.max_send_message_length': opts.maxMessageBytes,
  });
  const { core, catalog, log } = opts;

  const unary =
    <Req, Res>(name: string, fn: (req: Req) => Res | Promise<Res>) =>
    (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => {
      Promise.resolve()
        .then(() => fn(call.request))
        .then(
          (res) => cb(null, res),
          (err: unknown) => {
            const s = toStatus(err);
            if (s.code === grpc.status.INTERNAL) log.error({ err, rpc: name }, 'rpc failed');
            cb({ code: s.code, details: s.details });
          },
        );
    };

  server.addService(pkg.stockmlops.v1.PredictionService.service, {
    Predict: unary('Predict', (req: { symbol?: string; features?: number[] }) => ({
      prediction: toProto(core.predictSymbol(validSymbol(req.symbol), validFeatures(req.features))),
    })),
    PredictBatch: unary('PredictBatch', (req: { requests?: Array<{ symbol?: string; features?: number[] }> }) => {
      const list = req.requests ?? [];
      if (list.length === 0) throw new PredictError('E_INVALID_ARGUMENT', 'requests must not be empty');
      if (list.length > opts.maxBatch) throw new PredictError('E_INVALID_ARGUMENT', `at most ${opts.maxBatch} requests per batch`);
      return { responses: list.map((r) => ({ prediction: toProto(core.predictSymbol(validSymbol(r.symbol), validFeatures(r.features))) })) };
    }),
    StreamPredictions: (call: grpc.ServerWritableStream<{ symbols?: string[] }, unknown>) => {
      let symbols: Set<string>;
      try {
        symbols = new Set((call.request.symbols ?? []).map(validSymbol));
      } catch (err) {
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
        return;
      }
      const off = core.subscribe((p) => {
        if (symbols.size === 0 || symbols.has(p.symbol)) call.write(toProto(p));
      });
      const done = () => off();
      call.on('cancelled', done);
      call.on('close', done);
      call.on('error', done);
    },
    AnalyzeSentiment: unary('AnalyzeSentiment', () => {
      throw new PredictError('E_NO_MODEL', 'no sentiment model is served yet');
    }),
    GetModel: unary('GetModel', async (req: { name?: string; version?: number }) => catalog.getModel(req.name ?? '', req.version ?? 0)),
    ListModels: unary('ListModels', async (req: { name?: string }) => ({ models: await catalog.listModels(req.name ?? '') })),
  });

  const statusMap: ServingStatusMap = { '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' };
  const health = new HealthImplementation(statusMap);
  health.addToServer(server);
  const reflection = new ReflectionService(def);
  reflection.addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    server,
    port,
    health,
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
