/**
 * Start-up: does a service's start-up grow with the database?
 *
 * 1. Each of the seven services started alone as its own process, time from spawn to the first
 *    200 on its ops port's /readyz, against an empty database and against one that already holds
 *    STARTUP_BENCH_DOCS feature vectors and as many clean bars (in the loader's document shapes,
 *    of symbols and dates no service asks for). Runs alternate empty / full per service; median
 *    of `repeats`. Target: full ≤ 1.5 × empty for every service.
 * 2. `npm start` from launch to the first live WebSocket prediction, on a fresh database and
 *    topic prefix against the running infrastructure (STARTUP_BENCH_NPM_RUNS times), then once
 *    more on the last run's database and prefix (a warm restart).
 *
 * STARTUP_BENCH_DOCS (default 500,000 per collection), STARTUP_BENCH_FULL_DB (reuse a database
 * seeded by an earlier run: seeded up to the size, kept afterwards), STARTUP_BENCH_SECTIONS
 * (`services,npm-start`), STARTUP_BENCH_NPM_RUNS (default 3), STARTUP_BENCH_TIMEOUT_MS (per
 * service start, default 300 s), STARTUP_BENCH_NPM_TIMEOUT_MS (per npm start, default 20 min).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient, type Db } from 'mongodb';
import WebSocket from 'ws';
import { resolveTopics } from '@stock-mlops/contracts';
import { ensureTopics } from '@stock-mlops/platform';
import { barKey, COLLECTIONS, Database } from '@stock-mlops/load';
import { ModelStore } from '@stock-mlops/ml/registry/model_store';
import { PIPELINE_SCHEMA } from '@stock-mlops/transform';
import { SERVICES, type ServiceName } from '../scripts/lib/supervisor.ts';
import { promote, randomPriceModel } from '@stock-mlops/ml/synthetic';
import { dropRun, fmt, freePort, median, type Bench, type BenchContext, type BenchSection } from './lib.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const DOCS = Number(process.env.STARTUP_BENCH_DOCS ?? 500_000);
const SEED_BATCH = 5_000;
const DATES_PER_SYMBOL = 1_000;
const START_TIMEOUT_MS = Number(process.env.STARTUP_BENCH_TIMEOUT_MS ?? 300_000);
const NPM_RUNS = Number(process.env.STARTUP_BENCH_NPM_RUNS ?? 3);
const NPM_TIMEOUT_MS = Number(process.env.STARTUP_BENCH_NPM_TIMEOUT_MS ?? 20 * 60_000);
const SECTIONS = (process.env.STARTUP_BENCH_SECTIONS ?? 'services,npm-start').split(',');
const TARGET_RATIO = 1.5;
/** Collection in the full database recording how it was seeded. */
const SEED_META = 'startup_bench_seed';

const runId = () => `sb${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ── seeding ────────────────────────────────────────────────────────────────────────────────────

/** The i-th seeded bar and feature vector: symbols `ZSEED<n>` and dates from 1970 on, which no service here asks for. */
function seedDocs(i: number): { bar: Record<string, unknown>; feature: Record<string, unknown> } {
  const symbol = `ZSEED${String(Math.floor(i / DATES_PER_SYMBOL)).padStart(4, '0')}`;
  const ts = new Date(Date.UTC(1970, 0, 1) + (i % DATES_PER_SYMBOL) * 86_400_000).toISOString();
  const key = { symbol, interval: '1d', ts };
  const close = 100 + (i % 97);
  const bar = { _id: barKey(key), ...key, open: close, high: close + 1, low: close - 1, close, volume: 1_000 + i, adjFactor: 1, zeroVolume: false, outlier: false, eventId: `seed-bar-${i}` };
  const values = PIPELINE_SCHEMA.names.map((_, j) => ((i * 31 + j * 7) % 1000) / 1000);
  const feature = { _id: barKey(key), ...key, close, schemaVersion: PIPELINE_SCHEMA.version, schemaHash: PIPELINE_SCHEMA.hash, names: [...PIPELINE_SCHEMA.names], values, eventId: `seed-feature-${i}` };
  return { bar, feature };
}

/** Unordered insertMany that survives a server restart mid-seed (documents already there are duplicates, which is fine). */
async function insertRetrying(db: Db, collection: string, docs: Array<Record<string, unknown>>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await db.collection(collection).insertMany(docs as never[], { ordered: false });
      return;
    } catch (err) {
      const writeErrors = (err as { writeErrors?: Array<{ code?: number }> }).writeErrors ?? [];
      if (writeErrors.length > 0 && writeErrors.every((w) => w.code === 11000)) return;
      if (attempt >= 5) throw err;
      await sleep(2_000 * attempt);
    }
  }
}

/** Seeds documents [from, to) of both collections with unordered insertMany; returns documents/s (both collections). */
async function seed(db: Db, from: number, to: number, log: (m: string) => void): Promise<number> {
  const t0 = performance.now();
  let lastLog = t0;
  for (let i = from; i < to; i += SEED_BATCH) {
    const docs = Array.from({ length: Math.min(SEED_BATCH, to - i) }, (_, k) => seedDocs(i + k));
    await Promise.all([
      insertRetrying(db, COLLECTIONS.bars, docs.map((d) => d.bar)),
      insertRetrying(db, COLLECTIONS.features, docs.map((d) => d.feature)),
    ]);
    if (performance.now() - lastLog > 30_000) {
      lastLog = performance.now();
      log(`seeded ${i + docs.length - from}/${to - from} per collection (${fmt(((i + docs.length - from) * 2 * 1000) / (lastLog - t0), 0)} docs/s)`);
    }
  }
  return ((to - from) * 2 * 1000) / (performance.now() - t0);
}

/** Delete a run's topics and (unless kept) its database; best effort. */
async function dropTopicsAndDb(kafka: Kafka, ctx: BenchContext, prefix: string, db: string | undefined): Promise<void> {
  const topics = resolveTopics(prefix) as unknown as Record<string, string>;
  if (db) await dropRun(kafka, topics, ctx.env.MONGO_URL, db).catch(() => undefined);
  else {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
  }
}

// ── one service start ──────────────────────────────────────────────────────────────────────────

interface Target {
  db: string;
  prefix: string;
}

async function serviceEnv(svc: ServiceName): Promise<NodeJS.ProcessEnv> {
  switch (svc) {
    case 'trainer':
      return { TRAIN_ON_START: 'false', TRAIN_SENTIMENT_ON_START: 'false' };
    case 'predictor':
      return { GRPC_PORT: String(await freePort()), WS_PORT: String(await freePort()) };
    case 'monitor':
      return { MONITOR_GRPC_PORT: String(await freePort()) };
    case 'dashboard':
      return { DASHBOARD_PORT: String(await freePort()), PREDICTOR_WS_URL: `ws://127.0.0.1:${await freePort()}/ws` };
    case 'extractor':
      // The bundled CSV replay, as by default; readiness does not wait for it.
      return {};
    default:
      return {};
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** Milliseconds from spawn to the first 200 on /readyz; Infinity when not ready within START_TIMEOUT_MS, NaN when it exited (reason logged). */
async function timeToReady(svc: ServiceName, target: Target, ctx: BenchContext): Promise<number> {
  const port = await freePort();
  const env = { ...process.env, ...ctx.env, MONGO_DB: target.db, KAFKA_TOPIC_PREFIX: target.prefix, HTTP_PORT: String(port), LOG_LEVEL: 'warn', ...(await serviceEnv(svc)) };
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'services', svc, 'src', 'main.ts')], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const tail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => tail.push(l) > 5 && tail.shift());
  try {
    while (performance.now() - t0 < START_TIMEOUT_MS) {
      if (child.exitCode !== null) break;
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
      if (ok) return performance.now() - t0;
      await sleep(20);
    }
    ctx.log(`${svc} not ready (exit ${child.exitCode}) after ${fmt((performance.now() - t0) / 1000, 0)} s: ${tail.join(' | ').slice(0, 400)}`);
    return child.exitCode === null ? Number.POSITIVE_INFINITY : Number.NaN;
  } finally {
    await stopChild(child);
  }
}

async function servicesSection(ctx: BenchContext, kafka: Kafka, mongo: MongoClient): Promise<string> {
  const fullDb = process.env.STARTUP_BENCH_FULL_DB ?? `${runId()}_full`;
  const keepFull = process.env.STARTUP_BENCH_FULL_DB !== undefined;
  const model = await randomPriceModel(1, { lookback: 10, nFeatures: PIPELINE_SCHEMA.names.length, hidden: 16, schemaHash: PIPELINE_SCHEMA.hash, zeroMean: true, scale: 0.2 });
  const artifacts = await model.serialize();
  /**
   * A fresh topic prefix per run (no backlog from the run before); its topics exist up front and
   * the database has a production price model, so neither is part of the time.
   */
  const target = async (db: string, withModel: boolean): Promise<Target> => {
    const t = { db, prefix: `${runId()}.` };
    targets.push(t);
    await ensureTopics(kafka, t.prefix);
    if (withModel) await promote(new ModelStore(mongo.db(db)), 'price', artifacts, PIPELINE_SCHEMA.hash);
    return t;
  };
  // How far an earlier run got (the seeded ids are dense: a count by _id prefix is not needed).
  // What is seeded is recorded beside the documents (size and rate), so a run that reuses the
  // database knows both without counting: a count scans the collection on FerretDB.
  const meta = mongo.db(fullDb).collection<{ _id: string; docs: number; rate: number; loadAverage?: number }>(SEED_META);
  const before = keepFull ? await meta.findOne({ _id: 'seed' }) : null;
  const seedFrom = Math.min(DOCS, before?.docs ?? 0);
  if (seedFrom < DOCS) {
    ctx.log(`seeding ${fullDb}: documents ${seedFrom}..${DOCS} of each collection`);
    const loadAtSeed = os.loadavg()[0]!;
    const rate = await seed(mongo.db(fullDb), seedFrom, DOCS, ctx.log);
    await meta.replaceOne({ _id: 'seed' }, { docs: DOCS, rate, loadAverage: loadAtSeed }, { upsert: true });
  }
  const seeded = (await meta.findOne({ _id: 'seed' }))!;
  const nFeatures = seeded.docs;
  const nBars = seeded.docs;
  // A database the loader filled has the loader's indexes: build them here, untimed, not in the first loader run.
  const tIndex = performance.now();
  await new Database(mongo.db(fullDb)).ensureIndexes();
  ctx.log(`indexes of ${fullDb} in ${fmt((performance.now() - tIndex) / 1000, 1)} s`);
  const loadAverage = os.loadavg()[0]!;
  const targets: Target[] = [];
  const runs = new Map<ServiceName, { empty: number[]; full: number[] }>(SERVICES.map((s) => [s, { empty: [], full: [] }]));
  try {
    let fullHasModel = false;
    for (let rep = 0; rep < ctx.repeats; rep++) {
      for (const svc of SERVICES) {
        const r = runs.get(svc)!;
        r.empty.push(await timeToReady(svc, await target(`${runId()}_empty`, true), ctx));
        r.full.push(await timeToReady(svc, await target(fullDb, !fullHasModel), ctx));
        fullHasModel = true;
        ctx.log(`${svc} #${rep + 1}: empty ${fmt(r.empty.at(-1)!, 0)} ms, full ${fmt(r.full.at(-1)!, 0)} ms`);
      }
    }
  } finally {
    for (const t of targets) await dropTopicsAndDb(kafka, ctx, t.prefix, t.db === fullDb && keepFull ? undefined : t.db);
  }
  const misses: string[] = [];
  const rows = SERVICES.map((svc) => {
    const r = runs.get(svc)!;
    const e = median(r.empty);
    const f = median(r.full);
    const ratio = f / e;
    if (!(ratio <= TARGET_RATIO)) misses.push(svc);
    const timedOut = f === Number.POSITIVE_INFINITY;
    const ms = (x: number) => (x === Number.POSITIVE_INFINITY ? `> ${fmt(START_TIMEOUT_MS, 0)}` : fmt(x, 0));
    return `| ${svc} | ${ms(e)} | ${ms(f)} | ${timedOut ? `> ${fmt(START_TIMEOUT_MS / e, 0)}` : fmt(ratio, 2)}× | ${ratio <= TARGET_RATIO ? 'yes' : '**no**'} | ${r.empty.map(ms).join(' / ')} · ${r.full.map(ms).join(' / ')} |`;
  });
  return [
    `Each service started alone as its own process (\`node --import tsx services/<name>/src/main.ts\`, LOG_LEVEL=warn), time from spawn to the first 200 on its ops port's \`/readyz\` (polled every 20 ms); median of ${ctx.repeats} runs, empty and full alternating per service.`,
    `Empty: a fresh database per run. Full: one database holding ${fmt(nFeatures, 0)} feature vectors and ${fmt(nBars, 0)} clean bars (the loader's document shapes, \`_id\`s and indexes, ${PIPELINE_SCHEMA.names.length} values + names per vector; ${fmt(Math.ceil(nFeatures / DATES_PER_SYMBOL), 0)} symbols \`ZSEED…\` × ${DATES_PER_SYMBOL} daily dates from 1970: symbols and dates no service asks for).`,
    'In both, the run\'s topics exist and a production price model is registered before the spawn; the trainer runs with TRAIN_ON_START=false and TRAIN_SENTIMENT_ON_START=false; the extractor with its defaults (CSV replay, which readiness does not wait for).',
    `Seeding (unordered insertMany, ${fmt(SEED_BATCH, 0)} documents per call, both collections in parallel): ${fmt(seeded.rate, 0)} documents/s${seeded.loadAverage !== undefined ? ` (load average ${fmt(seeded.loadAverage, 1)} when it began)` : ''}${seedFrom >= DOCS ? ', in an earlier run (STARTUP_BENCH_FULL_DB)' : ''}. Server: whatever MONGO_URL points at (FerretDB 1.24 on SQLite here).`,
    '',
    `| service | empty ms | full ms | full / empty | ≤ ${TARGET_RATIO}× | runs (empty · full) |`,
    '| --- | ---: | ---: | ---: | --- | --- |',
    ...rows,
    '',
    misses.length ? `Over the target: ${misses.join(', ')}.` : `Every service within ${TARGET_RATIO}×.`,
    `A start not ready within ${fmt(START_TIMEOUT_MS / 1000, 0)} s (STARTUP_BENCH_TIMEOUT_MS) is stopped and shown as \`> ${fmt(START_TIMEOUT_MS, 0)}\`.`,
    `Machine load average (1 min) after seeding: ${fmt(loadAverage, 1)} (2 cores shared with other work: figures swing between runs, see the runs column).`,
  ].join('\n');
}

// ── npm start ──────────────────────────────────────────────────────────────────────────────────

interface StartRun {
  label: string;
  /** ms from launch to the `  WebSocket:` line, and to the first live `prediction` frame. */
  urls: number;
  firstPrediction: number;
  provisioning: string;
}

/** `npm start` on this database and prefix until the first live WebSocket prediction, then Ctrl-C. */
async function npmStart(label: string, target: Target, ctx: BenchContext): Promise<StartRun> {
  const [grpcPort, wsPort, dashPort] = [await freePort(), await freePort(), await freePort()];
  const env = { ...process.env, ...ctx.env, MONGO_DB: target.db, KAFKA_TOPIC_PREFIX: target.prefix, GRPC_PORT: String(grpcPort), WS_PORT: String(wsPort), DASHBOARD_PORT: String(dashPort), START_OPS_PORT_BASE: '0' };
  const t0 = performance.now();
  const child = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let urls = Number.NaN;
  const tail: string[] = [];
  const onLine = (l: string) => {
    if (Number.isNaN(urls) && l.startsWith('  WebSocket:')) urls = performance.now() - t0;
    if (tail.push(l) > 8) tail.shift();
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  let firstPrediction = Number.NaN;
  try {
    while (performance.now() - t0 < NPM_TIMEOUT_MS && child.exitCode === null) {
      const got = await firstLivePrediction(`ws://127.0.0.1:${wsPort}/ws`, NPM_TIMEOUT_MS - (performance.now() - t0));
      if (got) {
        firstPrediction = performance.now() - t0;
        break;
      }
      await sleep(500);
    }
    if (Number.isNaN(firstPrediction)) ctx.log(`npm start (${label}): no prediction (exit ${child.exitCode}): ${tail.join(' | ').slice(0, 600)}`);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null) {
      process.kill(-child.pid!, 'SIGINT');
      const t = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    }
  }
  return { label, urls, firstPrediction, provisioning: 'N/A (external infrastructure, already provisioned)' };
}

/** Connects (false when refused) and waits for the first live `prediction` frame (snapshots of stored ones do not count). */
function firstLivePrediction(url: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const done = (v: boolean) => {
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), ms);
    ws.once('open', () => ws.send(JSON.stringify({ op: 'subscribe', symbols: ['*'] })));
    ws.on('message', (d) => {
      if ((JSON.parse(d.toString()) as { type?: string }).type === 'prediction') done(true);
    });
    ws.once('error', () => done(false));
    ws.once('close', () => done(false));
  });
}

async function npmStartSection(ctx: BenchContext, kafka: Kafka): Promise<string> {
  const runs: StartRun[] = [];
  const targets: Target[] = [];
  try {
    for (let i = 0; i < NPM_RUNS; i++) {
      const id = runId();
      targets.push({ db: `${id}_start`, prefix: `${id}.` });
      runs.push(await npmStart(`fresh #${i + 1}`, targets.at(-1)!, ctx));
      ctx.log(`npm start ${runs.at(-1)!.label}: URLs ${fmt(runs.at(-1)!.urls / 1000, 1)} s, first prediction ${fmt(runs.at(-1)!.firstPrediction / 1000, 1)} s`);
    }
    if (targets.length > 0) {
      runs.push(await npmStart('warm restart (last run\'s database and prefix)', targets.at(-1)!, ctx));
      ctx.log(`npm start warm: URLs ${fmt(runs.at(-1)!.urls / 1000, 1)} s, first prediction ${fmt(runs.at(-1)!.firstPrediction / 1000, 1)} s`);
    }
  } finally {
    for (const t of targets) await dropTopicsAndDb(kafka, ctx, t.prefix, t.db);
  }
  const fresh = runs.filter((r) => r.label.startsWith('fresh'));
  return [
    '`npm start` (scripts/start.ts) as a user runs it, with KAFKA_BROKERS and MONGO_URL pointing at the running infrastructure, a fresh MONGO_DB and KAFKA_TOPIC_PREFIX per fresh run, non-default GRPC_PORT / WS_PORT / DASHBOARD_PORT and START_OPS_PORT_BASE=0 (ops ports: any free).',
    'Times from launch: to the `  WebSocket:` URL line, and to the first live `prediction` frame on a WebSocket subscribed with `{"op":"subscribe","symbols":["*"]}` (connection retried every 0.5 s until the port answers; snapshots of stored predictions do not count). Then Ctrl-C (SIGINT to the process group).',
    'Provisioning is not part of these times: the infrastructure was running and cached (a cold machine adds the Kafka download and the FerretDB build, see scripts/infra/README.md).',
    '',
    '| run | provisioning | URLs printed s | first WebSocket prediction s | ≤ 3 min |',
    '| --- | --- | ---: | ---: | --- |',
    ...runs.map((r) => `| ${r.label} | ${r.provisioning} | ${fmt(r.urls / 1000, 1)} | ${fmt(r.firstPrediction / 1000, 1)} | ${r.firstPrediction <= 180_000 ? 'yes' : '**no**'} |`),
    '',
    `Median of the fresh runs: first prediction ${fmt(median(fresh.map((r) => r.firstPrediction)) / 1000, 1)} s (target ≤ 180 s). Machine load average (1 min) at the end: ${fmt(os.loadavg()[0]!, 1)}.`,
  ].join('\n');
}

const bench: Bench = async (ctx) => {
  const kafka = new Kafka({ clientId: 'bench-startup', brokers: ctx.env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const mongo = new MongoClient(ctx.env.MONGO_URL);
  await mongo.connect();
  const sections: BenchSection[] = [];
  try {
    if (SECTIONS.includes('services')) sections.push({ title: 'Start-up: each service\'s time to ready, empty vs full database', markdown: await servicesSection(ctx, kafka, mongo) });
    if (SECTIONS.includes('npm-start')) sections.push({ title: 'Start-up: `npm start` from launch to the first WebSocket prediction', markdown: await npmStartSection(ctx, kafka) });
  } finally {
    await mongo.close();
  }
  return sections;
};

export default bench;
