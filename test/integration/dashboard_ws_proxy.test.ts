/**
 * The dashboard's same-origin stream (`/ws`, services/dashboard/src/ws_proxy.ts) in front of the
 * real predictor WebSocket server, both in this process on loopback: a client of the dashboard
 * receives what the predictor publishes (frames unchanged, the synthetic mark included), the
 * dashboard token is required, the predictor's token stays on the server, an unreachable
 * predictor is a 502 handshake answer, both sides close together, and a client that stops
 * reading is closed with 4008 without growing the dashboard's memory.
 */
import * as assert from 'uvu/assert';
import pino from 'pino';
import WebSocket from 'ws';
import { WS_CLOSE, type PricePrediction } from '@stock-mlops/contracts';
import { suite } from '../harness/index.ts';
import { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { startWsServer, type WsHandle } from '../../services/predictor/src/ws_server.ts';
import { startDashboardServer } from '../../services/dashboard/src/server.ts';
import { streamSettings } from '../../services/dashboard/src/stream_config.ts';
import { connectWs } from '../support/ws.ts';
import { minuteAt, SAMPLE_PREDICTION } from '../support/predictions.ts';
import { freePort, waitFor } from '../support/stack.ts';

const log = pino({ level: 'silent' });
const PREDICTOR_TOKEN = 'predictor-token-of-32-characters';
const DASHBOARD_TOKEN = 'dashboard-token-0123456789abcdef';
const t = suite('dashboard: same-origin WebSocket proxy to the predictor', { timeoutMs: 60_000 });
const open: Array<{ close: () => Promise<void> }> = [];

const base = SAMPLE_PREDICTION;
const at = minuteAt;

async function predictor(port = 0): Promise<{ core: PredictorCore; ws: WsHandle; url: string }> {
  const core = new PredictorCore(async () => []);
  const ws = await startWsServer({ host: '127.0.0.1', port, path: '/ws', log, core, heartbeatMs: 60_000, maxBufferedBytes: 1024 * 1024, token: PREDICTOR_TOKEN });
  open.push(ws);
  return { core, ws, url: `ws://127.0.0.1:${ws.port}/ws` };
}

async function dashboard(upstreamUrl: string, opts: { upstreamToken?: string; maxBufferedBytes?: number } = {}) {
  const server = await startDashboardServer({
    host: '127.0.0.1',
    port: 0,
    log,
    api: async () => ({ status: 200, body: {} }),
    assets: new Map(),
    token: DASHBOARD_TOKEN,
    wsProxy: { path: '/ws', upstreamUrl, upstreamToken: opts.upstreamToken ?? PREDICTOR_TOKEN, maxBufferedBytes: opts.maxBufferedBytes ?? 256 * 1024, closeGraceMs: 30_000 },
  });
  open.push(server);
  return { server, url: `ws://127.0.0.1:${server.port}/ws` };
}

const status = (url: string, o: WebSocket.ClientOptions = {}) => connectWs(url, o).then((c) => (c.ws.close(), 101), (e: { status?: number }) => e.status ?? 0);

t('stream settings: same-origin proxy by default, direct when the URL has {host} or DASHBOARD_STREAM=direct; the predictor token reaches the page only in direct mode', () => {
  assert.equal(streamSettings({ PREDICTOR_WS_URL: 'ws://127.0.0.1:8081/ws', PREDICTOR_WS_TOKEN: PREDICTOR_TOKEN }), { mode: 'proxy', publicConfig: { wsUrl: '/ws' } });
  assert.equal(streamSettings({ PREDICTOR_WS_URL: 'ws://{host}:8081/ws', PREDICTOR_WS_TOKEN: PREDICTOR_TOKEN }), {
    mode: 'direct',
    publicConfig: { wsUrl: 'ws://{host}:8081/ws', wsToken: PREDICTOR_TOKEN },
  });
  assert.is(streamSettings({ DASHBOARD_STREAM: 'direct', PREDICTOR_WS_URL: 'ws://10.0.0.5:8081/ws' }).mode, 'direct');
  assert.throws(() => streamSettings({ DASHBOARD_STREAM: 'proxy', PREDICTOR_WS_URL: 'ws://{host}:8081/ws' }), /PREDICTOR_WS_URL: contains \{host\}/);
});

t('a client on the dashboard\'s /ws receives the predictions the predictor publishes, frames unchanged, synthetic mark included', async () => {
  const p = await predictor();
  const d = await dashboard(p.url);
  p.core.onPrediction({ ...base, symbol: 'AAA' });
  const c = await connectWs(`${d.url}?token=${DASHBOARD_TOKEN}`);
  assert.equal(await c.next((f) => f.type === 'welcome'), { type: 'welcome', protocol: 1, heartbeatMs: 60_000 });
  c.ws.send(JSON.stringify({ op: 'subscribe', symbols: ['*'], id: 'dashboard' }));
  await c.next((f) => f.type === 'subscribed' && f.id === 'dashboard');
  assert.is(((await c.next((f) => f.type === 'snapshot' && f.symbol === 'AAA')).prediction as PricePrediction).asOf, base.asOf);
  assert.is(p.ws.clients(), 1, 'one upstream connection per client');
  assert.is(d.server.streamClients(), 1);
  const published = [
    { ...base, symbol: 'AAA', asOf: at(1) },
    { ...base, symbol: 'SYN', asOf: at(1), synthetic: true as const },
    { ...base, symbol: 'BBB', asOf: at(2) },
  ];
  for (const x of published) p.core.onPrediction(x);
  await c.next((f) => f.type === 'prediction' && (f.data as PricePrediction).symbol === 'BBB');
  const got = c.frames.filter((f) => f.type === 'prediction').map((f) => f.data);
  assert.equal(got, published, 'every prediction, in order, unchanged');
  assert.is((got[1] as PricePrediction).synthetic, true);
  assert.ok(!('synthetic' in (got[0] as object)), 'market predictions stay without the field');
  // Client → predictor frames pass too (an error frame comes back from the predictor).
  c.ws.send(JSON.stringify({ op: 'nope', id: 'x1' }));
  assert.is((await c.next((f) => f.type === 'error' && f.id === 'x1')).code, 'E_BAD_REQUEST');
  // Closing the client closes its upstream connection.
  c.ws.close(1000, 'bye');
  await waitFor('the upstream connection to close', async () => p.ws.clients() === 0 && d.server.streamClients() === 0, 5_000, 20);
});

t('the dashboard token is required on /ws; other paths 404; an unreachable or refusing predictor is a 502 answer', async () => {
  const p = await predictor();
  const d = await dashboard(p.url);
  assert.is(await status(d.url), 401, 'no token');
  assert.is(await status(`${d.url}?token=wrong-token-0123456789abcdefgh`), 401, 'wrong token');
  assert.is(await status(d.url, { headers: { authorization: `Bearer ${DASHBOARD_TOKEN}` } }), 101, 'bearer header');
  assert.is(await status(`${d.url}?token=${DASHBOARD_TOKEN}`), 101, 'token parameter (browsers)');
  assert.is(await status(`${d.url}?token=${PREDICTOR_TOKEN}`), 401, 'the predictor token is not the dashboard token');
  assert.is(await status(`ws://127.0.0.1:${d.server.port}/other?token=${DASHBOARD_TOKEN}`), 404);
  const refusing = await dashboard(p.url, { upstreamToken: 'not-the-predictor-token-xxxxxxxx' });
  assert.is(await status(`${refusing.url}?token=${DASHBOARD_TOKEN}`), 502, 'the predictor refused the dashboard');
  const down = await dashboard(`ws://127.0.0.1:${await freePort()}/ws`);
  assert.is(await status(`${down.url}?token=${DASHBOARD_TOKEN}`), 502, 'nothing listening');
  assert.is(down.server.streamClients(), 0);
});

t('when the predictor goes away the client is closed with its code, and a new connection works once it is back', async () => {
  const port = await freePort();
  const p = await predictor(port);
  const d = await dashboard(p.url);
  const c = await connectWs(`${d.url}?token=${DASHBOARD_TOKEN}`);
  await c.next((f) => f.type === 'welcome');
  await p.ws.close();
  const closed = await c.closed;
  assert.is(closed.code, WS_CLOSE.goingAway, 'the predictor\'s close code reaches the client');
  await waitFor('the pair to be forgotten', async () => d.server.streamClients() === 0, 5_000, 20);
  assert.is(await status(`${d.url}?token=${DASHBOARD_TOKEN}`), 502, 'while it is down');
  const back = await predictor(port);
  const again = await connectWs(`${d.url}?token=${DASHBOARD_TOKEN}`);
  again.ws.send(JSON.stringify({ op: 'subscribe', symbols: ['AAA'] }));
  await again.next((f) => f.type === 'subscribed');
  back.core.onPrediction({ ...base, asOf: at(5) });
  assert.is(((await again.next((f) => f.type === 'prediction')).data as PricePrediction).asOf, at(5));
  again.ws.close();
});

t('a client that stops reading is closed with 4008 (buffer cap) and its upstream with it; the others keep streaming', async () => {
  const p = await predictor();
  const d = await dashboard(p.url, { maxBufferedBytes: 64 * 1024 });
  const slow = await connectWs(`${d.url}?token=${DASHBOARD_TOKEN}`);
  const fast = await connectWs(`${d.url}?token=${DASHBOARD_TOKEN}`);
  for (const c of [slow, fast]) {
    c.ws.send(JSON.stringify({ op: 'subscribe', symbols: ['FLOOD'], id: 's' }));
    await c.next((f) => f.type === 'subscribed');
  }
  const socket = (slow.ws as unknown as { _socket: { pause: () => void; resume: () => void } })._socket;
  socket.pause();
  let fastCount = 0;
  fast.ws.on('message', (m) => {
    if (m.toString().startsWith('{"type":"prediction"')) fastCount++;
  });
  const N = 40_000;
  for (let i = 0; i < N; i++) {
    p.core.onPrediction({ ...base, symbol: 'FLOOD', asOf: at(10 + i) });
    if (i % 2_000 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await waitFor('the fast client to get every prediction', async () => fastCount === N, 30_000, 50);
  await waitFor('the slow client\'s pair to be closed', async () => d.server.streamClients() === 1 && p.ws.clients() === 1, 10_000, 20);
  socket.resume();
  const closed = await slow.closed;
  assert.is(closed.code, WS_CLOSE.slowConsumer);
  assert.match(closed.reason, /slow consumer/);
  fast.ws.close();
});

t.after(async () => {
  for (const o of open.reverse()) await o.close().catch(() => undefined);
});

t.run();
