import * as grpc from '@grpc/grpc-js';
import { SYMBOL_RE, type PricePrediction } from '@stock-mlops/contracts';
import { RpcError } from '@stock-mlops/platform';
import { MAX_SENTIMENT_TEXT_CHARS } from '@stock-mlops/ml/inference/sentiment';
import { PredictError, type PredictorCore, type PredictRequest } from '@stock-mlops/ml/inference/predictor_core';
import { authorize, STATUS_BY_CODE, toStatus, unary, type RpcContext } from './grpc_util.ts';
import type { ModelCatalog } from './model_loader.ts';
import { checkLabelItem, type LabelItemRequest } from './label_submit.ts';
import type { LabelPublisher } from '@stock-mlops/platform';

/**
 * stockmlops.v1.PredictionService handlers: validate, call the core, shape the answer.
 */
export const SERVICE_NAME = 'stockmlops.v1.PredictionService';

/** What GetModel/ListModels read (the registry-backed ModelCatalog in production). */
export type ModelDirectory = Pick<ModelCatalog, 'getModel' | 'listModels'>;

export interface DomainLimits {
  /** Most requests in one PredictBatch. */
  maxBatchRequests: number;
  /** Most texts in one AnalyzeSentiment. */
  maxTexts: number;
  /** Predictions a StreamPredictions client may have unsent before it is cut off. */
  maxStreamBacklog: number;
}

export function toProto(p: PricePrediction) {
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

/** A PredictBatch item's error: its code and message, and the status Predict would answer with. */
function itemError(err: PredictError): { code: string; message: string; status: string } {
  return { code: err.code, message: err.message, status: grpc.status[toStatus(err).code] };
}

function validSymbol(s: unknown): string {
  if (typeof s !== 'string' || s.length === 0) throw new PredictError('E_INVALID_ARGUMENT', 'symbol is required');
  if (!SYMBOL_RE.test(s)) throw new PredictError('E_INVALID_ARGUMENT', `symbol "${s.slice(0, 32)}" does not match ${SYMBOL_RE.source}`);
  return s;
}

function validRequest(r: { symbol?: string; features?: number[] } | undefined): PredictRequest {
  const features = Array.isArray(r?.features) ? r.features : [];
  if (features.length > 4096) throw new PredictError('E_INVALID_ARGUMENT', 'too many features');
  if (!features.every(Number.isFinite)) throw new PredictError('E_INVALID_ARGUMENT', 'features must be finite numbers');
  return { symbol: validSymbol(r?.symbol), features };
}

export function domainHandlers(ctx: RpcContext, core: PredictorCore, catalog: ModelDirectory, limits: DomainLimits, labels?: LabelPublisher): grpc.UntypedServiceImplementation {
  return {
    Predict: unary(ctx, 'Predict', async (req: { symbol?: string; features?: number[] }, opts) => {
      const [p] = await core.predict([validRequest(req)], opts);
      return { prediction: toProto(p!) };
    }),
    PredictBatch: unary(ctx, 'PredictBatch', async (req: { requests?: Array<{ symbol?: string; features?: number[] }> }, opts) => {
      const list = req.requests ?? [];
      if (list.length === 0) throw new PredictError('E_INVALID_ARGUMENT', 'requests must not be empty');
      if (list.length > limits.maxBatchRequests) throw new PredictError('E_INVALID_ARGUMENT', `at most ${limits.maxBatchRequests} requests per batch`);
      const out = await core.predictEach(list.map(validRequest), opts);
      return { responses: out.map((o) => ('prediction' in o ? { prediction: toProto(o.prediction) } : { error: itemError(o.error) })) };
    }),
    StreamPredictions: (call: grpc.ServerWritableStream<{ symbols?: string[] }, unknown>) => {
      let symbols: Set<string>;
      try {
        authorize(ctx, call.metadata);
        symbols = new Set((call.request.symbols ?? []).map(validSymbol));
      } catch (err) {
        call.emit('error', toStatus(err));
        return;
      }
      let done = false;
      const off = core.subscribe((p) => {
        if (done || (symbols.size > 0 && !symbols.has(p.symbol))) return;
        // A reader that falls this far behind is cut off rather than buffered without bound.
        if (call.writableLength >= limits.maxStreamBacklog) {
          finish();
          call.emit('error', toStatus(new RpcError('E_STREAM_BACKLOG', 'client is not reading fast enough')));
          return;
        }
        call.write(toProto(p));
      });
      const finish = () => {
        done = true;
        off();
      };
      call.on('cancelled', finish);
      call.on('close', finish);
      call.on('error', finish);
    },
    AnalyzeSentiment: unary(ctx, 'AnalyzeSentiment', async (req: { texts?: string[] }) => {
      const texts = req.texts ?? [];
      if (texts.length === 0) throw new PredictError('E_INVALID_ARGUMENT', 'texts must not be empty');
      if (texts.length > limits.maxTexts) throw new PredictError('E_INVALID_ARGUMENT', `at most ${limits.maxTexts} texts per request`);
      if (texts.some((t) => t.length > MAX_SENTIMENT_TEXT_CHARS)) throw new PredictError('E_INVALID_ARGUMENT', `texts are limited to ${MAX_SENTIMENT_TEXT_CHARS} characters`);
      const { model, results } = await core.analyzeSentiment(texts);
      return {
        results: results.map((r) => ({ label: r.label, negative: r.probs.negative, neutral: r.probs.neutral, positive: r.probs.positive, score: r.score })),
        modelName: model.ref.name,
        modelVersion: model.ref.version,
        featureSchemaHash: model.featureSchemaHash,
        latencyMs: results[0]?.latencyMs ?? 0,
      };
    }),
    GetModel: unary(ctx, 'GetModel', (req: { name?: string; version?: number }) => catalog.getModel(req.name ?? '', req.version ?? 0)),
    ListModels: unary(ctx, 'ListModels', async (req: { name?: string }) => ({ models: await catalog.listModels(req.name ?? '') })),
    SubmitSentimentLabels: unary(ctx, 'SubmitSentimentLabels', async (req: { items?: LabelItemRequest[] }) => {
      const items = req.items ?? [];
      if (items.length === 0) throw new PredictError('E_INVALID_ARGUMENT', 'items must not be empty');
      if (items.length > limits.maxTexts) throw new PredictError('E_INVALID_ARGUMENT', `at most ${limits.maxTexts} items per request`);
      if (!labels) throw new RpcError('E_LABELS_UNAVAILABLE', 'this predictor does not publish labels');
      const labelledAt = new Date().toISOString();
      const checks = items.map((item, i) => checkLabelItem(item, i, labelledAt));
      await labels(checks.flatMap((c) => (c.ok ? [c.record] : [])));
      return {
        results: checks.map((c) =>
          c.ok ? { accepted: true, textHash: c.textHash } : { accepted: false, error: { code: c.code, message: c.message, status: grpc.status[STATUS_BY_CODE[c.code]!] } },
        ),
      };
    }),
  };
}
