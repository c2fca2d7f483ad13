/**
 * The layout promised in docs/architecture.md: every design-guide module exists where the table
 * says, and business-logic packages stay free of transport libraries.
 */
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
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

t('every design-guide module in docs/architecture.md exists at its stated path', () => {
  const doc = readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8');
  const section = doc.split('## Where each module of the design guide lives')[1] ?? '';
  const rows = [...section.matchAll(/^\| ([^|]+) \| `([^`]+)` \|$/gm)];
  const modules = rows.map((r) => r[1]!.trim());
  for (const m of ['stock_api', 'financial_api', 'news_api', 'clean', 'normalize', 'feature_engineering', 'database', 'cache', 'train', 'config', 'models/price_predictor', 'models/sentiment_analyzer', 'predictor', 'preprocessor', 'metrics', 'model_store', 'ml_service', 'run_etl', 'train_model', 'evaluate_model', 'models', 'data', 'logs']) {
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

t.run();
