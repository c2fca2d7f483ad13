/**
 * Dockerfile and .dockerignore without a Docker engine: hadolint, the structure the runtime
 * contract depends on, and the two pieces of shell/JS the image runs (the ENTRYPOINT that picks
 * the service, the HEALTHCHECK) executed here for real.
 */
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { suite } from '../../harness/index.ts';
import { composeAppServices, composeModel, deployableServices, read, ROOT, run, tool } from '../../support/deploy.ts';

const t = suite('deploy: Dockerfile');
const dockerfile = read('Dockerfile');

/** Instructions with continuation lines joined. */
function instructions(): Array<{ op: string; args: string }> {
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const i = l.indexOf(' ');
      return { op: l.slice(0, i).toUpperCase(), args: l.slice(i + 1).trim() };
    });
}
const lastStage = (): Array<{ op: string; args: string }> => {
  const all = instructions();
  const from = all.map((x) => x.op).lastIndexOf('FROM');
  return all.slice(from);
};
const execForm = (op: string): string[] => {
  const ins = lastStage().find((x) => x.op === op);
  assert.ok(ins, `${op} missing in the final stage`);
  const json = op === 'HEALTHCHECK' ? ins!.args.slice(ins!.args.indexOf('CMD ') + 4) : ins!.args;
  return JSON.parse(json) as string[];
};

t('hadolint finds nothing (warning threshold)', () => {
  const r = run(tool('hadolint'), ['--failure-threshold', 'warning', 'Dockerfile']);
  assert.is(r.code, 0, `hadolint:\n${r.stdout}${r.stderr}`);
});

t('node:20-bookworm-slim, npm ci --omit=dev, non-root 10001, container-wide listen addresses', () => {
  assert.match(dockerfile, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
  // Every stage descends from the node image: FROM ${NODE_IMAGE} or FROM <an earlier stage>.
  const stages: string[] = [];
  for (const f of instructions().filter((x) => x.op === 'FROM')) {
    const [image, as, name] = f.args.split(/\s+/);
    assert.ok(image === '${NODE_IMAGE}' || stages.includes(image!), `FROM ${f.args}: not based on node:20-bookworm-slim`);
    if (as?.toUpperCase() === 'AS' && name) stages.push(name);
  }
  assert.match(dockerfile, /npm ci --omit=dev/);
  const last = lastStage();
  assert.ok(last.some((x) => x.op === 'USER' && x.args === '10001:10001'), 'USER 10001:10001 (numeric, so runAsNonRoot can verify it)');
  assert.match(dockerfile, /useradd [^\n]*--uid 10001/);
  const env = last.filter((x) => x.op === 'ENV').map((x) => x.args).join(' ');
  for (const kv of ['HTTP_HOST=0.0.0.0', 'GRPC_HOST=0.0.0.0', 'WS_HOST=0.0.0.0', 'HOME=/tmp']) assert.ok(env.includes(kv), `ENV ${kv}`);
  const expose = last.filter((x) => x.op === 'EXPOSE').flatMap((x) => x.args.split(/\s+/));
  for (const p of ['50051', '8081']) assert.ok(expose.includes(p), `EXPOSE ${p}`);
  // Source after dependencies (layer caching), owned by root (read-only to the app user).
  const copies = last.filter((x) => x.op === 'COPY').map((x) => x.args);
  assert.ok(copies.length >= 2 && copies[0]!.startsWith('--from=') && copies.at(-1) === '. .', 'COPY deps, then COPY . .');
  assert.not.ok(copies.some((c) => c.includes('--chown')), 'no --chown: the app must not own its code');
});

t('tfjs-node is optional and follows the @tensorflow/tfjs version of package.json', () => {
  assert.match(dockerfile, /ARG TFJS_NODE=true/);
  assert.match(dockerfile, /require\('\.\/package\.json'\)\.dependencies\['@tensorflow\/tfjs'\]/);
  const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
  assert.ok(pkg.dependencies['@tensorflow/tfjs'], '@tensorflow/tfjs is a runtime dependency');
  assert.match(dockerfile, /@tensorflow\/tfjs-node@\$\{v\}"[^\n]*\n\s*\|\| echo/, 'a failed tfjs-node install does not fail the build');
});

t('every workspace manifest reaches `npm ci` (manifests stage)', () => {
  const pkg = JSON.parse(read('package.json')) as { workspaces: string[] };
  assert.equal(pkg.workspaces, ['packages/*', 'services/*'], 'the manifests stage copies packages/*/package.json and services/*/package.json');
  for (const ws of ['packages', 'services']) {
    for (const d of readdirSync(path.join(ROOT, ws))) assert.ok(existsSync(path.join(ROOT, ws, d, 'package.json')), `${ws}/${d}/package.json`);
  }
});

t('.dockerignore keeps what the services need at run time and drops the rest', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const p of ['**/node_modules', '.git', '.infra', 'test', 'artifacts']) assert.ok(patterns.includes(p), `ignores ${p}`);
  const needed = ['package.json', 'package-lock.json', 'tsconfig.json', 'packages', 'services', 'proto', 'data', ...deployableServices().map((s) => `services/${s}/src/main.ts`)];
  for (const n of needed) {
    assert.not.ok(patterns.some((p) => p === n || n.startsWith(`${p}/`) || p.startsWith('!')), `.dockerignore must not drop ${n}`);
    assert.ok(existsSync(path.join(ROOT, n)), `${n} exists`);
  }
  assert.ok(existsSync(path.join(ROOT, 'data', 'prices')), 'data/prices: the extractor replays it (EXTRACT_REPLAY_PATH=/app/data/prices)');
});

/** Runs the image's ENTRYPOINT (sh -c …) in the repo with a stub `node` that prints its argv. */
function entrypoint(args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const ep = execForm('ENTRYPOINT');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'entrypoint-'));
  try {
    writeFileSync(path.join(dir, 'node'), '#!/bin/sh\necho "node $*"\n');
    chmodSync(path.join(dir, 'node'), 0o755);
    const r = run(ep[0]!, [...ep.slice(1), ...args], { env: { PATH: `${dir}:/usr/bin:/bin`, ...env } });
    return { code: r.code, out: r.stdout.trim(), err: r.stderr.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t('ENTRYPOINT: `IMAGE <service>` or $SERVICE runs that service with tsx; anything else exits 64', () => {
  assert.equal(execForm('CMD'), []);
  for (const s of deployableServices()) {
    assert.is(entrypoint([s]).out, `node --import tsx services/${s}/src/main.ts`);
  }
  assert.is(entrypoint([], { SERVICE: 'loader' }).out, 'node --import tsx services/loader/src/main.ts');
  assert.is(entrypoint(['trainer'], { SERVICE: 'loader' }).out, 'node --import tsx services/trainer/src/main.ts', 'the argument wins');
  const none = entrypoint([]);
  assert.is(none.code, 64);
  assert.match(none.err, /usage: IMAGE <service>.*predictor/);
  assert.is(entrypoint(['nope']).code, 64);
  assert.is(entrypoint(['../../etc']).code, 64);
});

/** Runs a healthcheck command (exec form) against a local server answering /healthz with `status`. */
async function healthcheck(cmd: string[], status: number): Promise<number> {
  let hits = 0;
  const srv = createServer((req, res) => {
    if (req.url === '/healthz') hits++;
    res.writeHead(req.url === '/healthz' ? status : 404).end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const p = spawn(cmd[0]!, cmd.slice(1), { env: { ...process.env, HTTP_PORT: String(port) }, stdio: 'ignore' });
      p.on('error', reject);
      p.on('exit', (c) => resolve(c ?? -1));
    });
    assert.is(hits, 1, 'the check requested /healthz once');
    return code;
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
  }
}

t('HEALTHCHECK (image and compose) passes on 200 and fails on 503 or no server', async () => {
  const image = execForm('HEALTHCHECK');
  assert.is(image[0], 'node');
  const compose = (Object.values(composeAppServices(composeModel()))[0]!.healthcheck.test as string[]).slice(1);
  for (const cmd of [image, compose]) {
    const argv = [process.execPath, ...cmd.slice(1)];
    assert.is(await healthcheck(argv, 200), 0);
    assert.is(await healthcheck(argv, 503), 1);
    const r = run(process.execPath, cmd.slice(1), { env: { PATH: process.env.PATH, HTTP_PORT: '1' } });
    assert.is(r.code, 1, 'no server: unhealthy');
  }
});

t.run();
