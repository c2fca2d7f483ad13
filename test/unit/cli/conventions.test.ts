/**
 * Every command-line entry point follows the conventions: `-h`/`--help` prints the usage on
 * stdout and exits 0 (without starting anything); an unknown flag prints the error and the usage
 * on stderr and exits 2. Runs the scripts as processes, before any infrastructure or database
 * work (so no broker or database is needed; `npm start --help` must not start them).
 */
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { suite } from '../../harness/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const t = suite('CLI conventions: --help and bad flags', { timeoutMs: 60_000 });

const CLIS: Array<[string, string]> = [
  ['npm start', 'scripts/start.ts'],
  ['npm run etl', 'scripts/run_etl.ts'],
  ['npm run train', 'scripts/train_model.ts'],
  ['npm run evaluate', 'scripts/evaluate_model.ts'],
  ['npm run models', 'scripts/models.ts'],
  ['load generator', 'services/predictor/src/tools/load.ts'],
  ['npm run schemas', 'scripts/gen_json_schema.ts'],
  ['npm run bench', 'bench/run.ts'],
];

function run(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // No infrastructure variables: a script that went past its argument parsing would try to start or reach it.
    const env = { ...process.env, KAFKA_BROKERS: '127.0.0.1:1', MONGO_URL: 'mongodb://127.0.0.1:1' };
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

for (const [name, script] of CLIS) {
  t(`${name}: --help and -h print the usage and exit 0; a bad flag prints the error and the usage and exits 2`, async () => {
    for (const flag of ['--help', '-h']) {
      const r = await run(script, [flag]);
      assert.is(r.code, 0, `${flag}: exit ${r.code}\n${r.stderr.slice(-800)}`);
      assert.match(r.stdout, /usage:/, `${flag}: usage on stdout`);
    }
    const bad = await run(script, ['--no-such-flag']);
    assert.is(bad.code, 2, `--no-such-flag: exit ${bad.code}\n${bad.stderr.slice(-800)}`);
    assert.match(bad.stderr, /no-such-flag/, 'the error names the flag');
    assert.match(bad.stderr, /usage:/, 'the usage follows the error');
  });
}

t('npm run bench: an unknown benchmark name prints the error and the usage and exits 2 (before starting anything)', async () => {
  const r = await run('bench/run.ts', ['no-such-bench']);
  assert.is(r.code, 2, `exit ${r.code}\n${r.stderr.slice(-800)}`);
  assert.match(r.stderr, /no benchmark named no-such-bench/);
  assert.match(r.stderr, /usage:/);
});

t.run();
