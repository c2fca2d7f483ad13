/**
 * The predictor's WebSocket stream on loopback (server in this process, real sockets):
 * the protocol (welcome, subscribe/unsubscribe per symbol or "*", snapshots, heartbeats, pong,
 * error frames), authentication and origin checks, and under load: 1,000 subscribers receive
 * the stream while a deliberately slow reader is closed with 4008 and the server's memory stays
 * bounded although far more than that was published to the slow reader's symbol.
 */
import * as assert from 'uvu/assert';
import v8 from 'node:v8';
import vm from 'node:vm';
import pino from 'pino';
import WebSocket from 'ws';
import { WS_CLOSE, type PricePrediction } from '@stock-mlops/contracts';
import { suite } from '../harness/index.ts';
import { PredictorCore } from '@stock-mlops/ml/inference/predictor_core';
import { startWsServer, type WsHandle } from '../../services/predictor/src/ws_server.ts';
import { connectWs } from '../support/ws.ts';
import { minuteAt, SAMPLE_PREDICTION } from '../support/predictions.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const log = pino({ level: 'silent' });
const TOKEN = 'a-test-token-of-32-characters-xx';
const t = suite('predictor WebSocket stream', { timeoutMs: 90_000 });
const open: Array<{ close: () => Promise<void> }> = [];

const base = SAMPLE_PREDICTION;
const at = minuteAt;

async function server(opts: Partial<Parameters<typeof startWsServer>[0]> = {}): Promise<{ core: PredictorCore; ws: WsHandle; url: string }> {
  const core = new PredictorCore(async () => []);
  const ws = await startWsServer({ host: '127.0.0.1', port: 0, path: '/ws', log, core, heartbeatMs: 200, maxBufferedBytes: 256 * 1024, ...opts });
  open.push(ws);
  return { core, ws, url: `ws://127.0.0.1:${ws.port}/ws` };
}

const connect = connectWs;

t('protocol: welcome, snapshots, per-symbol and "*" subscriptions, unsubscribe, heartbeats, pong, error frames', async () => {
  const { core, url } = await server();
  core.onPrediction({ ...base, symbol: 'AAA' });
  const c = await connect(url);
  const welcome = await c.next((f) => f.type === 'welcome');
  assert.equal(welcome, { type: 'welcome', protocol: 1, heartbeatMs: 200 });
  c.ws.send(JSON.stringify({ op: 'subscribe', symbols: ['AAA', 'BBB'], id: 's1' }));
  await c.next((f) => f.type === 'subscribed' && f.id === 's1');
  const snapA = await c.next((f) => f.type === 'snapshot' && f.symbol === 'AAA');
  assert.is((snapA.prediction as PricePrediction).asOf, base.asOf, 'snapshot carries the latest prediction');
  assert.is((await c.next((f) => f.type === 'snapshot' && f.symbol === 'BBB')).prediction, null, 'no prediction yet → null snapshot');

  core.onPrediction({ ...base, symbol: 'BBB', asOf: at(1) });
  core.onPrediction({ ...base, symbol: 'CCC', asOf: at(1) });
  await c.next((f) => f.type === 'prediction' && (f.data as PricePrediction).symbol === 'BBB');
  c.ws.send(JSON.stringify({ op: 'unsubscribe', symbols: ['BBB'], id: 'u1' }));
  await c.next((f) => f.type === 'unsubscribed' && f.id === 'u1');
  core.onPrediction({ ...base, symbol: 'BBB', asOf: at(2) });
  c.ws.send(JSON.stringify({ op: 'ping', id: 'p1' }));
  await c.next((f) => f.type === 'pong' && f.id === 'p1');
  const preds = c.frames.filter((f) => f.type === 'prediction').map((f) => (f.data as PricePrediction).symbol);
  assert.equal(preds, ['BBB'], 'only subscribed symbols, nothing after unsubscribe');

  const star = await connect(url);
  star.ws.send(JSON.stringify({ op: 'subscribe', symbols: ['*'] }));
  await star.next((f) => f.type === 'snapshot' && f.symbol === 'CCC');
  core.onPrediction({ ...base, symbol: 'DDD', asOf: at(3) });
  await star.next((f) => f.type === 'prediction' && (f.data as PricePrediction).symbol === 'DDD');
  await c.next((f) => f.type === 'heartbeat', 2_000);

  c.ws.send('not json');
  c.ws.send(Buffer.from([1, 2, 3]));
  c.ws.send(JSON.stringify({ op: 'subscribe', symbols: ['bad symbol'], id: 'bad1' }));
  c.ws.send(JSON.stringify({ op: 'subscribe', symbols: Array.from({ length: 500 }, (_, i) => `X${i}`) }));
  c.ws.send(JSON.stringify({ op: 'subscribe', symbols: Array.from({ length: 499 }, (_, i) => `Y${i}`) })); // AAA + 500 + 499 = the limit
  c.ws.send(JSON.stringify({ op: 'subscribe', symbols: ['Z1', 'Z2'], id: 'over' }));
  const over = await c.next((f) => f.type === 'error' && f.id === 'over');
  assert.is(over.code, 'E_TOO_MANY_SUBSCRIPTIONS');
  const errors = c.frames.filter((f) => f.type === 'error');
  assert.equal(
    errors.map((f) => [f.code, f.id]),
    [
      ['E_JSON', undefined],
      ['E_BINARY', undefined],
      ['E_BAD_REQUEST', 'bad1'],
      ['E_TOO_MANY_SUBSCRIPTIONS', 'over'],
    ],
    'error frames echo the request id when the client sent one',
  );
  // Also when the frame fails validation for another reason (unknown op, extra field), and not for an id that is no valid id.
  c.ws.send(JSON.stringify({ op: 'fly', id: 'op1' }));
  assert.is((await c.next((f) => f.type === 'error' && f.id === 'op1')).code, 'E_BAD_REQUEST');
  c.ws.send(JSON.stringify({ op: 'ping', id: 'x'.repeat(65) }));
  c.ws.send(JSON.stringify({ op: 'ping', id: 'after' }));
  await c.next((f) => f.type === 'pong' && f.id === 'after');
  const tooLong = c.frames.filter((f) => f.type === 'error').at(-1)!;
  assert.is(tooLong.code, 'E_BAD_REQUEST');
  assert.not.ok('id' in tooLong, 'an id over 64 characters is not echoed');
  assert.is(c.ws.readyState, WebSocket.OPEN, 'bad requests do not close the connection');
  c.ws.close();
  star.ws.close();
});

t('authentication (bearer header or token parameter, constant-time compare) and origin check', async () => {
  const { url } = await server({ token: TOKEN, allowedOrigins: ['https://dash.example'] });
  const status = (u: string, o: WebSocket.ClientOptions) => connect(u, o).then((c) => (c.ws.close(), 101), (e: { status?: number }) => e.status ?? 0);
  const origin = 'https://dash.example';
  assert.is(await status(url, { origin }), 401, 'no token');
  assert.is(await status(url, { origin, headers: { authorization: 'Bearer wrong-token-of-32-characters-xxx' } }), 401, 'wrong token');
  assert.is(await status(url, { origin, headers: { authorization: `Bearer ${TOKEN}` } }), 101, 'bearer header');
  assert.is(await status(`${url}?token=${TOKEN}`, { origin }), 101, 'token parameter');
  assert.is(await status(`${url}?token=${TOKEN}`, { origin: 'https://evil.example' }), 403, 'foreign origin');
});

t('1,000 subscribers receive the stream; a slow reader is closed with 4008; server memory stays bounded', async () => {
  const SUBSCRIBERS = 1_000;
  const SYMBOLS = Array.from({ length: 10 }, (_, i) => `S${i}`);
  const { core, ws: srv, url } = await server({ maxBufferedBytes: 256 * 1024, closeGraceMs: 20_000, heartbeatMs: 60_000 });
  const counts = new Array<number>(SUBSCRIBERS).fill(0);
  const subs: WebSocket[] = [];
  for (let start = 0; start < SUBSCRIBERS; start += 100) {
    const batch = await Promise.all(
      Array.from({ length: 100 }, (_, k) => {
        const i = start + k;
        return new Promise<WebSocket>((resolve, reject) => {
          const w = new WebSocket(url, { perMessageDeflate: false });
          w.on('message', (d) => {
            if (d.toString().startsWith('{"type":"prediction"')) counts[i]!++;
            else if (d.toString().startsWith('{"type":"subscribed"')) resolve(w);
          });
          w.once('open', () => w.send(JSON.stringify({ op: 'subscribe', symbols: [SYMBOLS[i % 10], SYMBOLS[(i + 3) % 10]] })));
          w.once('error', reject);
        });
      }),
    );
    subs.push(...batch);
  }
  assert.is(srv.clients(), SUBSCRIBERS);

  // The slow reader: subscribes to a busy symbol, then stops reading its socket.
  const slow = await connect(url);
  slow.ws.send(JSON.stringify({ op: 'subscribe', symbols: ['FLOOD'], id: 'slow' }));
  await slow.next((f) => f.type === 'subscribed');
  const t0 = Date.now();
  const slowClosed = new Promise<{ code: number; reason: string }>((resolve) => slow.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const socket = (slow.ws as unknown as { _socket: { pause: () => void; resume: () => void } })._socket;
  socket.pause();

  gc();
  const before = process.memoryUsage();

  // The stream: 200 predictions over 10 symbols; each subscriber follows 2 symbols → 40 frames each.
  const PER_SYMBOL = 20;
  for (let i = 0; i < PER_SYMBOL; i++) for (const s of SYMBOLS) core.onPrediction({ ...base, symbol: s, asOf: at(i) });
  const deadline = Date.now() + 30_000;
  while (counts.some((c) => c < 2 * PER_SYMBOL) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.is(counts.filter((c) => c === 2 * PER_SYMBOL).length, SUBSCRIBERS, 'every subscriber got every prediction of its symbols, exactly once');

  // The flood: 800k frames (≈190 MB) on the slow reader's symbol, in slices so sockets can drain.
  const FLOOD = 800_000;
  let bytes = 0;
  for (let i = 0; i < FLOOD; i++) {
    const p = { ...base, symbol: 'FLOOD', asOf: at(100 + i) };
    if (i === 0) bytes = JSON.stringify({ type: 'prediction', data: p }).length * FLOOD;
    core.onPrediction(p);
    if (i % 5_000 === 0) await new Promise((r) => setImmediate(r));
  }
  console.log(`  stream + flood published in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.is(srv.stats().slowClosed, 1, 'the slow reader was closed');
  assert.is(srv.clients(), SUBSCRIBERS, 'and only it');

  gc();
  const after = process.memoryUsage();
  const mb = (x: number) => x / 2 ** 20;
  const heapGrowth = mb(after.heapUsed + after.external - before.heapUsed - before.external);
  const rssGrowth = mb(after.rss - before.rss);
  console.log(`  published ${mb(bytes).toFixed(0)} MB to the slow reader's symbol; heap+external grew ${heapGrowth.toFixed(1)} MB, rss ${rssGrowth.toFixed(1)} MB`);
  assert.ok(mb(bytes) > 150, 'the flood is far larger than the bounds below');
  assert.ok(heapGrowth < 48, `heap+external growth ${heapGrowth.toFixed(1)} MB stays under 48 MB`);
  assert.ok(rssGrowth < 128, `rss growth ${rssGrowth.toFixed(1)} MB stays under 128 MB`);

  // Once the slow reader reads again it drains its capped buffer and gets the close frame.
  socket.resume();
  const closed = await slowClosed;
  assert.is(closed.code, WS_CLOSE.slowConsumer);
  assert.match(closed.reason, /slow consumer/);

  // The others are unaffected.
  core.onPrediction({ ...base, symbol: 'S0', asOf: at(10_000_000) });
  const end = Date.now() + 10_000;
  const expectS0 = counts.map((c, i) => (i % 10 === 0 || (i + 3) % 10 === 0 ? c + 1 : c));
  while (counts.some((c, i) => c < expectS0[i]!) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.equal(counts, expectS0, 'the stream goes on for the fast subscribers');
  for (const w of subs) w.terminate();
});

t.after(async () => {
  for (const s of open) await s.close();
});

t.run();
