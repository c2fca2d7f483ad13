/**
 * `npm test`: type check, then every test file under test/ (unit → integration → e2e), each in its
 * own process with a wall-clock limit. Starts the local infrastructure once (unless KAFKA_BROKERS
 * and MONGO_URL name external servers) and passes its addresses to the tests.
 *
 * Each file gets its own id in TEST_FILE_ID; every database, topic and consumer group the file
 * creates starts with it (scripts/lib/isolation.ts), and the runner drops them when the file's
 * process has exited (pass, fail or timeout), printing one `cleanup` line per file.
 *
 * Prints `N passed, N failed` last. Fails when a file fails, times out, skips a test, or when no
 * test ran at all.
 *
 *   npm test                     # everything
 *   npm test -- unit             # only files whose path contains "unit"
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describeDrop, dropOwned, FILE_ID_ENV, newFileId } from './lib/isolation.ts';
import { infraDown, infraUp } from './lib/infra.ts';

const root = path.resolve(import.meta.dirname, '..');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
/** A file still running after this long is killed (the chaos test may take 40 minutes on a slow machine). */
const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 50 * 60_000);
/** A file's cleanup never holds up the run longer than this. */
const CLEANUP_TIMEOUT_MS = 120_000;
const ORDER = ['unit', 'integration', 'e2e', 'chaos'];

function listTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function rank(file: string): number {
  const rel = path.relative(path.join(root, 'test'), file);
  const i = ORDER.indexOf(rel.split(path.sep)[0] ?? '');
  return i < 0 ? ORDER.length : i;
}

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  total: number;
  code: number | null;
  timedOut: boolean;
  ms: number;
}

function parseUvu(out: string): { total: number; passed: number; skipped: number } {
  // uvu prints "Total: N", "Passed: N", "Skipped: N" (with ANSI colours).
  const clean = out.replace(/\u001b\[[0-9;]*m/g, '');
  const num = (label: string) => {
    const all = [...clean.matchAll(new RegExp(`${label}:\\s+(\\d+)`, 'g'))];
    return all.reduce((s, m) => s + Number(m[1]), 0);
  };
  return { total: num('Total'), passed: num('Passed'), skipped: num('Skipped') };
}

function runFile(file: string, env: NodeJS.ProcessEnv, fileId: string): Promise<FileResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...env, FORCE_COLOR: '0', [FILE_ID_ENV]: fileId },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`\n✘ ${path.relative(root, file)} exceeded ${FILE_TIMEOUT_MS} ms; killing it`);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, FILE_TIMEOUT_MS);
    child.on('close', async (code) => {
      clearTimeout(timer);
      // Kill whatever the test file left behind in its process group, and wait until it is gone
      // (a service still running could write into a database after it was dropped).
      await killGroup(child.pid!);
      const r = parseUvu(out);
      const failed = Math.max(0, r.total - r.passed - r.skipped);
      resolve({
        file,
        passed: r.passed,
        failed: failed + (code !== 0 && failed === 0 ? 1 : 0),
        skipped: r.skipped,
        total: r.total,
        code,
        timedOut,
        ms: Date.now() - started,
      });
    });
  });
}

async function killGroup(pid: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  try {
    process.kill(-pid, 'SIGKILL');
    while (Date.now() < deadline) {
      process.kill(-pid, 0);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch {
    /* the group is gone */
  }
}

/** Drop the file's databases, topics and groups; a failure is printed, never fatal. */
async function cleanUp(fileId: string, env: NodeJS.ProcessEnv): Promise<void> {
  if (!env.MONGO_URL || !env.KAFKA_BROKERS) return;
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const report = await Promise.race([
    dropOwned(fileId, { MONGO_URL: env.MONGO_URL, KAFKA_BROKERS: env.KAFKA_BROKERS }),
    new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), CLEANUP_TIMEOUT_MS))),
  ]).finally(() => clearTimeout(timer));
  if (!report) console.log(`  cleanup ${fileId}: gave up after ${CLEANUP_TIMEOUT_MS} ms (leftovers only cost disk)`);
  else console.log(`  ${describeDrop(fileId, report)} (${Date.now() - t0} ms)`);
}

function infraEnv(): { env: NodeJS.ProcessEnv; started: boolean } {
  console.log('▶ local infrastructure (scripts/infra/infra.sh up, unless KAFKA_BROKERS and MONGO_URL are set)');
  try {
    const infra = infraUp();
    return { env: { ...process.env, ...infra.env }, started: infra.started };
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const results: FileResult[] = [];
  let typecheckFailed = 0;
  if (filters.length === 0 || filters.includes('typecheck')) {
    console.log('▶ tsc --noEmit');
    const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.json'], {
      cwd: root,
      stdio: 'inherit',
    });
    typecheckFailed = tsc.status === 0 ? 0 : 1;
    console.log(typecheckFailed ? '✘ typecheck failed' : '✔ typecheck');
  }
  const files = listTests(path.join(root, 'test'))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const needsInfra = files.some((f) => rank(f) > 0);
  const { env, started } = needsInfra ? infraEnv() : { env: { ...process.env }, started: false };
  env.SHARED_DATA_DIR ??= path.resolve(root, '..', 'shared', 'data');
  if (!existsSync(env.SHARED_DATA_DIR)) console.warn(`warning: shared data dir ${env.SHARED_DATA_DIR} not found`);
  try {
    for (const [i, file] of files.entries()) {
      const fileId = newFileId(i + 1);
      console.log(`\n▶ ${path.relative(root, file)} (${FILE_ID_ENV}=${fileId})`);
      results.push(await runFile(file, env, fileId));
      await cleanUp(fileId, env);
    }
  } finally {
    if (started && process.env.KEEP_INFRA !== '1') infraDown();
  }
  console.log('\n── summary ──');
  for (const r of results) {
    const flag = r.failed ? '✘' : r.skipped ? '⚠' : '✔';
    const extra = r.timedOut ? ' (timed out)' : r.total === 0 ? ' (no tests ran)' : '';
    console.log(`${flag} ${path.relative(root, r.file)}: ${r.passed}/${r.total} passed, ${r.skipped} skipped, ${(r.ms / 1000).toFixed(1)}s${extra}`);
  }
  const passed = results.reduce((s, r) => s + r.passed, 0);
  const failed = results.reduce((s, r) => s + r.failed + (r.total === 0 && r.code === 0 ? 1 : 0), 0) + typecheckFailed;
  const skipped = results.reduce((s, r) => s + r.skipped, 0);
  if (skipped > 0) console.log(`${skipped} skipped: skipped or focused tests are not allowed`);
  if (passed === 0) console.log('no test ran');
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || skipped > 0 || passed === 0 ? 1 : 0);
}

void main();
