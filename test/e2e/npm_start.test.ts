/**
 * `npm start` as a user runs it (against the test run's Kafka and database, passed in
 * KAFKA_BROKERS / MONGO_URL so it does not provision its own): it brings every service up,
 * prints where to connect, streams predictions on the printed WebSocket URL, and SIGINT stops
 * everything, leaving no process behind.
 */
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { suite } from '../harness/index.ts';
import { checkDashboard } from '../support/dashboard_checks.ts';
import { freePort, requireInfra, uniqueId, waitFor } from '../support/stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const t = suite('npm start', { timeoutMs: 900_000 });

/** PIDs of processes whose environment carries `marker` (Linux /proc). */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`, 'latin1').includes(marker)) out.push(Number(d));
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

t('starts everything, prints the URLs, streams predictions, and SIGINT leaves no process behind', async () => {
  const infra = requireInfra();
  const marker = uniqueId('start');
  const [grpcPort, wsPort, dashPort] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/start.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...infra,
      STOCK_MLOPS_TEST_MARKER: marker,
      KAFKA_TOPIC_PREFIX: `${marker}.`,
      MONGO_DB: marker,
      GRPC_PORT: String(grpcPort),
      WS_PORT: String(wsPort),
      DASHBOARD_PORT: String(dashPort),
      // Any free ops ports (the defaults 9101… may be taken on a test machine).
      START_OPS_PORT_BASE: '0',
      // Everything else as a user runs it: all bundled files, the default training configs. The
      // continuation after the replay is pinned to the synthetic one (no network probe in tests).
      EXTRACT_AFTER_REPLAY: 'synthetic',
      EXTRACT_AFTER_REPLAY_INTERVAL: '500ms',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await waitFor('the serving banner', () => (out.includes('✔ stock-mlops is serving') ? true : undefined), 600_000, 500);
    const wsUrl = /WebSocket:\s+(ws:\/\/\S+)/.exec(out)?.[1];
    assert.is(wsUrl, `ws://127.0.0.1:${wsPort}/ws`, 'the printed WebSocket URL');
    assert.match(out, new RegExp(`gRPC:\\s+127\\.0\\.0\\.1:${grpcPort}`), 'the printed gRPC address');
    const frame = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const ws = new WebSocket(wsUrl!);
      const timer = setTimeout(() => reject(new Error('no prediction frame within 60 s')), 60_000);
      ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', symbols: ['*'] })));
      ws.on('message', (d) => {
        const f = JSON.parse(d.toString()) as Record<string, unknown>;
        if (f.type === 'prediction' || (f.type === 'snapshot' && f.prediction)) {
          clearTimeout(timer);
          ws.close();
          resolve(f);
        }
      });
      ws.on('error', reject);
    });
    assert.ok(frame.type === 'prediction' || frame.type === 'snapshot');
    // The dashboard shows what the stream carries (test/support/dashboard_checks.ts).
    const dashboardUrl = /Dashboard:\s+(http:\/\/\S+)/.exec(out)?.[1];
    assert.ok(dashboardUrl, 'the printed dashboard URL');
    console.log(`  dashboard: ${dashboardUrl}`);
    const seen = await checkDashboard({ dashboardUrl, wsUrl: wsUrl!, minFrames: 10, timeoutMs: 90_000 });
    console.log(`  dashboard checks: ${JSON.stringify(seen)}`);
    // The bundled dated headlines are replayed by default and scored by the served sentiment model.
    const scored = await waitFor(
      'a replayed headline with its sentiment on the dashboard',
      async () => {
        const body = (await (await fetch(new URL('api/news?limit=50', dashboardUrl))).json()) as { news: Array<{ title: string; sentiment: { label: string } | null }> };
        return body.news.find((n) => n.sentiment !== null);
      },
      180_000,
      2_000,
    );
    assert.ok(['negative', 'neutral', 'positive'].includes(scored.sentiment!.label), 'a sentiment label');
    console.log(`  news: "${scored.title.slice(0, 60)}" → ${scored.sentiment!.label}`);
    assert.ok(processesWith(marker).length >= 5, 'the services run as separate processes');
  } catch (err) {
    console.error(out.split('\n').slice(-60).join('\n'));
    throw err;
  } finally {
    child.kill('SIGINT');
  }
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000))]);
  assert.is(code, 0, 'npm start exits 0 after SIGINT');
  assert.match(out, /✔ stopped/);
  await waitFor('no process left behind', () => (processesWith(marker).length === 0 ? true : undefined), 10_000);
});

t.run();
