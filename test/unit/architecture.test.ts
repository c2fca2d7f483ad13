/**
 * The layout promised in docs/architecture.md: every design-guide module and endpoint exists
 * where the table says, business-logic packages stay free of transport libraries, no module
 * imports itself through a cycle, and imports go one way (scripts and benchmarks → package
 * entry points; services → packages; packages never → services).
 */
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { suite } from '../harness/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const t = suite('architecture');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

t('every design-guide module and endpoint in docs/architecture.md exists at its stated path', () => {
  const doc = readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8');
  const section = (doc.split('## Where things are')[1] ?? '').split(/^## /m)[0] ?? '';
  const rows = [...section.matchAll(/^\| ([^|]+) \| `([^`]+)` \|$/gm)];
  const modules = rows.map((r) => r[1]!.replace(/\(.*\)/, '').trim());
  for (const m of ['stock_api', 'financial_api', 'news_api', 'clean', 'normalize', 'feature_engineering', 'database', 'cache', 'train', 'config', 'models/price_predictor', 'models/sentiment_analyzer', 'predictor', 'preprocessor', 'metrics', 'model_store', 'ml_service', 'run_etl', 'train_model', 'evaluate_model', 'models', 'data', 'logs', 'grpc_domain', 'grpc_oip', 'ws_server']) {
    assert.ok(modules.some((x) => x.endsWith(m)), `table lists ${m}`);
  }
  for (const [, name, rel] of rows) assert.ok(existsSync(path.join(ROOT, rel!)), `${name!.trim()} → ${rel} exists`);
});

t('business-logic packages import no Kafka, gRPC or WebSocket library', () => {
  for (const pkg of ['contracts', 'extract', 'transform', 'ml', 'monitor']) {
    for (const f of files(path.join(ROOT, 'packages', pkg, 'src'))) {
      const src = readFileSync(f, 'utf8');
      assert.not.match(src, /from ['"](kafkajs|@grpc\/[^'"]+|ws)['"]/, `${path.relative(ROOT, f)} imports a transport`);
    }
  }
});

t('topic names are defined only in the contracts package', () => {
  const offenders: string[] = [];
  for (const dir of ['packages', 'services', 'scripts']) {
    for (const f of files(path.join(ROOT, dir))) {
      if (f.includes(`${path.sep}contracts${path.sep}`)) continue;
      if (/['"`][^'"`]*stock\.(raw|clean|features|predictions|models|monitor|dlq)\.[a-z.]*v\d['"`]/.test(readFileSync(f, 'utf8'))) offenders.push(path.relative(ROOT, f));
    }
  }
  assert.equal(offenders, [], `topic name literals outside contracts: ${offenders.join(', ')}`);
});

/** Files a module imports (static, `export … from`, type-only and dynamic), resolved to paths. */
function importedFiles(file: string): string[] {
  const out: string[] = [];
  for (const { fileName: spec } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
    const pkg = /^@stock-mlops\/([^/]+)(?:\/(.+))?$/.exec(spec);
    const base = spec.startsWith('.') ? path.resolve(path.dirname(file), spec) : pkg ? path.join(ROOT, 'packages', pkg[1]!, 'src', pkg[2] ?? 'index') : null;
    const hit = base && [base, `${base}.ts`, path.join(base, 'index.ts')].find((c) => existsSync(c) && statSync(c).isFile());
    if (hit) out.push(hit);
  }
  return out;
}

/** Groups of files that import each other, directly or through others (Tarjan's SCCs). */
function importCycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || graph.get(v)?.includes(v)) cycles.push(group);
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

t('no import cycles among the TypeScript files of packages, services and scripts', () => {
  const roots = [
    ...['packages', 'services'].flatMap((dir) => readdirSync(path.join(ROOT, dir)).map((name) => path.join(ROOT, dir, name, 'src'))),
    path.join(ROOT, 'scripts'),
  ].filter((dir) => existsSync(dir));
  const graph = new Map(roots.flatMap(files).map((f) => [f, importedFiles(f)] as const));
  const edges = [...graph.values()].reduce((n, deps) => n + deps.length, 0);
  assert.ok(graph.size > 100 && edges > graph.size, `found ${graph.size} files and ${edges} imports between them`);
  const cycles = importCycles(graph).map((group) => group.map((f) => path.relative(ROOT, f)).sort().join(' <-> '));
  assert.equal(cycles, [], `import cycles:\n${cycles.join('\n')}`);
});

t('the cycle check sees a cycle', () => {
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  assert.equal(importCycles(graph).map((g) => g.sort()), [['a', 'b', 'c']]);
});

const PACKAGE_DIRS = readdirSync(path.join(ROOT, 'packages')).filter((d) => existsSync(path.join(ROOT, 'packages', d, 'package.json')));
const SERVICE_DIRS = readdirSync(path.join(ROOT, 'services')).filter((d) => existsSync(path.join(ROOT, 'services', d, 'package.json')));
const nameOf = (dir: string): string => (JSON.parse(readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')) as { name: string }).name;
/** Workspace name → its directory: packages/* and services/*. */
const PACKAGES = new Map(PACKAGE_DIRS.map((d) => [nameOf(`packages/${d}`), `packages/${d}`]));
const SERVICES = new Map(SERVICE_DIRS.map((d) => [nameOf(`services/${d}`), `services/${d}`]));

/** Every module specifier a file imports or re-exports (static and dynamic). */
function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

const rel = (abs: string): string => path.relative(ROOT, abs).split(path.sep).join('/');
const resolved = (file: string, spec: string): string => rel(path.resolve(path.dirname(file), spec));
const isService = (spec: string): boolean => SERVICES.has(/^@stock-mlops\/[^/]+/.exec(spec)?.[0] ?? '');

/**
 * Why `spec` is not an entry point, or undefined when it is: `@stock-mlops/<pkg>` or a subpath
 * its package.json `exports` declare. A service declares in its `exports` only what benchmarks
 * may drive in-process (the predictor's gRPC and WebSocket servers); its other files are not
 * entry points.
 */
function notAnEntryPoint(spec: string): string | undefined {
  const m = /^(@stock-mlops\/[^/]+)(?:\/(.+))?$/.exec(spec);
  if (!m) return undefined;
  const dir = PACKAGES.get(m[1]!) ?? SERVICES.get(m[1]!);
  if (!dir) return 'no such package';
  const exports = (JSON.parse(readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')) as { exports?: Record<string, string> }).exports ?? {};
  if (m[2] === undefined) return exports['.'] ? undefined : 'no "." export';
  if (exports[`./${m[2]}`]) return undefined;
  const pattern = exports['./*'];
  return pattern && existsSync(path.join(ROOT, dir, pattern.replace('*', m[2]))) ? undefined : 'not a declared subpath export';
}

t('an entry point is a package or a subpath its exports declare; other service files are not', () => {
  assert.is(notAnEntryPoint('@stock-mlops/platform'), undefined);
  assert.is(notAnEntryPoint('@stock-mlops/ml/inference/predictor_core'), undefined);
  assert.is(notAnEntryPoint('@stock-mlops/predictor/grpc_server'), undefined);
  assert.is(notAnEntryPoint('@stock-mlops/predictor/main'), 'not a declared subpath export');
  assert.is(notAnEntryPoint('@stock-mlops/ml/no_such_module'), 'not a declared subpath export');
  assert.is(notAnEntryPoint('@stock-mlops/nope'), 'no such package');
});

t('scripts and benchmarks import packages only through their entry points, never service sources or tests', () => {
  const offenders: string[] = [];
  for (const f of [...files(path.join(ROOT, 'scripts')), ...files(path.join(ROOT, 'bench'))]) {
    const me = rel(f);
    for (const spec of importsOf(f)) {
      if (spec.startsWith('.')) {
        const target = resolved(f, spec);
        if (!/^(scripts|bench)\//.test(target)) offenders.push(`${me} → ${target}`);
      } else {
        const why = notAnEntryPoint(spec);
        if (why) offenders.push(`${me} → ${spec} (${why})`);
      }
    }
  }
  assert.equal(offenders, [], `imports past a package entry point:\n  ${offenders.join('\n  ')}`);
});

t('services never import another service; packages never import a service', () => {
  const offenders: string[] = [];
  const check = (home: string) => {
    for (const f of files(path.join(ROOT, home, 'src'))) {
      for (const spec of importsOf(f)) {
        const target = spec.startsWith('.') ? resolved(f, spec) : undefined;
        if (target !== undefined ? !target.startsWith(`${home}/`) : isService(spec)) offenders.push(`${rel(f)} → ${target ?? spec}`);
      }
    }
  };
  for (const d of SERVICE_DIRS) check(`services/${d}`);
  for (const d of PACKAGE_DIRS) check(`packages/${d}`);
  assert.equal(offenders, [], `imports across a service or package boundary by path, or into a service:\n  ${offenders.join('\n  ')}`);
});

t('test helpers and fixtures live under test/support (test/harness is the uvu wrapper); nothing imports a test file', () => {
  const stray = files(path.join(ROOT, 'test'))
    .map(rel)
    .filter((f) => !f.endsWith('.test.ts') && !f.startsWith('test/support/') && !f.startsWith('test/harness/'));
  assert.equal(stray, [], `move these under test/support: ${stray.join(', ')}`);
  const importers: string[] = [];
  for (const dir of ['packages', 'services', 'scripts', 'bench', 'test']) {
    for (const f of files(path.join(ROOT, dir))) {
      for (const spec of importsOf(f)) if (spec.endsWith('.test.ts')) importers.push(`${rel(f)} → ${spec}`);
    }
  }
  assert.equal(importers, [], `test files imported: ${importers.join(', ')}`);
});

t('one file-naming convention: TypeScript modules are snake_case, like the design guide (stock_api, run_etl)', () => {
  const offenders: string[] = [];
  for (const dir of ['packages', 'services', 'scripts', 'bench', 'test']) {
    for (const f of files(path.join(ROOT, dir))) {
      const stem = path.basename(f).replace(/(\.test|\.bench|\.d)?\.ts$/, '');
      if (!/^[a-z][a-z0-9_]*$/.test(stem)) offenders.push(rel(f));
    }
  }
  assert.equal(offenders, [], `rename to snake_case: ${offenders.join(', ')}`);
});

t.run();
