/**
 * The layout promised in docs/architecture.md: every design-guide module and endpoint exists
 * where the table says, business-logic packages stay free of transport libraries, and no module
 * imports itself through a cycle.
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

t.run();
