/**
 * predictor: serves the production price and sentiment models.
 * - features (shared consumer group: replicas split the work) → price predictions topic;
 * - clean news (shared group) → sentiment predictions topic, once a sentiment model exists;
 * - the price prediction stream in broadcast (one group per replica) → gRPC StreamPredictions
 *   and WebSocket subscribers of every replica;
 * - model events (one group per replica) and registry polling → hot swaps;
 * - a registry challenger, if any, scores the same features in the inference queue's idle lane
 *   (production first; dropped, counted, under saturation) → shadow topic.
 * gRPC (domain API + Open Inference Protocol + health + reflection) and WebSocket on their ports;
 * SubmitSentimentLabels publishes human labels to the labels topic;
 * every price inference goes through one micro-batching queue.
 */
import { startService } from '@stock-mlops/platform';
import { PredictorEnv, PREDICTOR_VERSION, readTls, wsOptions } from './config.ts';
import { startGrpcServer } from './grpc_server.ts';
import { createLabelPublisher } from '@stock-mlops/platform';
import { PRICE_MODEL_NAME } from './model_loader.ts';
import { startServing } from './serving.ts';
import { startShadow } from './shadow.ts';
import { startStreams } from './streams.ts';
import { startWsServer } from './ws_server.ts';

const svc = await startService({ name: 'predictor', env: PredictorEnv, mongo: true, instanceIdAliases: ['PREDICTOR_INSTANCE_ID'] });
const { config, log, shutdown } = svc;
const { core, whenIdle, catalog, checkpoint } = await startServing(svc);

const grpc = await startGrpcServer({
  host: config.GRPC_HOST,
  port: config.GRPC_PORT,
  log,
  core,
  catalog,
  maxMessageBytes: config.GRPC_MAX_MESSAGE_BYTES,
  token: config.GRPC_TOKEN,
  tls: readTls(config),
  version: PREDICTOR_VERSION,
  domain: { maxBatchRequests: config.PREDICT_BATCH_REQUESTS_MAX, maxTexts: config.SENTIMENT_MAX_TEXTS, maxStreamBacklog: config.GRPC_STREAM_BACKLOG_MAX },
  oip: { maxElements: config.OIP_MAX_ELEMENTS, maxTexts: config.SENTIMENT_MAX_TEXTS },
  labels: createLabelPublisher(svc.producer, svc.topics, 'predictor-grpc'),
});
shutdown.add('grpc', grpc.close);
const ws = await startWsServer({ ...wsOptions(config), log, core });
shutdown.add('websocket', ws.close);
log.info({ grpc: `${config.GRPC_HOST}:${grpc.port}`, tls: !!config.GRPC_TLS_CERT, ws: `ws://${config.WS_HOST}:${ws.port}${config.WS_PATH}` }, 'predictor listening');

const onServing = () => {
  svc.setReady('model', true);
  grpc.setServing(true);
};
const shadow = startShadow({ svc, core, catalog, whenIdle });
const streams = await startStreams({ svc, core, catalog, checkpoint, onServing, shadow });
shutdown.add('poll', streams.stopPolling);
// Runs early in shutdown (hooks run last-in first-out): load balancers and health probes stop sending.
shutdown.add('mark-not-serving', () => {
  svc.setReady('model', false);
  grpc.setServing(false);
});
svc.setReady('kafka', true);
log.info({ price: core.serving?.ref.version ?? null, sentiment: core.sentiment?.ref.version ?? null, model: PRICE_MODEL_NAME }, 'predictor started');
