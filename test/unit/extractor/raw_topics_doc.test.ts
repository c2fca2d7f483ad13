/**
 * docs/raw-topics.md is a contract people copy from: its example messages must decode against
 * the schemas they illustrate, and the schema files it links must exist.
 */
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { decode, deterministicId, MESSAGE_DEFS, sentimentTextHash, type DataTopicKey } from '@stock-mlops/contracts';
import { canonicalUrl } from '@stock-mlops/extract/news/common';
import { suite } from '../../harness/index.ts';
import { ProviderEnv } from '@stock-mlops/extract/provider_settings';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const doc = readFileSync(path.join(ROOT, 'docs/raw-topics.md'), 'utf8');
const t = suite('docs/raw-topics.md');

t('every example message decodes on its topic, with the id the extractor would give it', () => {
  const examples = [...doc.matchAll(/<!-- example: (\w+) -->\s*```json\n([\s\S]*?)```/g)];
  assert.equal(examples.map((m) => m[1]).sort(), ['rawFinancials', 'rawNews', 'rawPrices']);
  for (const [, key, json] of examples) {
    const r = decode(key as DataTopicKey, json!);
    assert.ok(r.ok, `${key}: ${!r.ok ? r.reason : ''}`);
    if (!r.ok) continue;
    const d = r.envelope.data as Record<string, unknown>;
    const idParts =
      key === 'rawPrices'
        ? [d.symbol, d.interval, d.ts]
        : key === 'rawNews'
          ? [canonicalUrl(d.url as string)!]
          : [d.symbol, d.concept, d.unit, d.periodStart ?? '', d.periodEnd, d.form, d.accession ?? '', d.filed];
    assert.is(r.envelope.eventId, deterministicId(MESSAGE_DEFS[key as DataTopicKey].type, ...(idParts as string[])), `${key}: deterministic event id`);
  }
});

t('the kcat example is a valid raw price message', () => {
  const m = /printf 'MSFT\\t%s\\n' '(\{.*\})'/.exec(doc);
  assert.ok(m, 'kcat example found');
  const r = decode('rawPrices', m![1]!);
  assert.ok(r.ok, !r.ok ? r.reason : '');
});

t('the labels kcat example is a valid label record, and the key it states is the text hash', () => {
  const m = /printf '%s\\t%s\\n' "\$KEY" '(\{.*\})'/.exec(doc);
  assert.ok(m, 'labels kcat example found');
  const r = decode('sentimentLabels', m![1]!);
  assert.ok(r.ok, !r.ok ? r.reason : '');
  if (!r.ok) return;
  const text = /^TEXT='(.*)'$/m.exec(doc)?.[1];
  assert.is(text, r.envelope.data.text, 'the hashed text is the one in the value');
  assert.match(doc, `for this text it is ${sentimentTextHash(text!)}.`);
});

t('linked schema files exist', () => {
  const links = [...doc.matchAll(/\]\(\.\.\/(schemas\/[^)]+\.json)\)/g)].map((m) => m[1]!);
  assert.is(links.length, 4);
  for (const l of links) assert.ok(existsSync(path.join(ROOT, l)), l);
});

t('the extractor variables table names every variable of the env schema, and nothing else', () => {
  const section = doc.slice(doc.indexOf('| `EXTRACT_PROVIDERS` |'));
  const rows = section.slice(0, section.search(/\n(?!\|)/)).split('\n');
  const documented = new Set(rows.flatMap((r) => [...(r.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!)));
  const schema = [...Object.keys(ProviderEnv.shape), 'EXTRACT_FAULT'];
  assert.equal(schema.filter((k) => !documented.has(k)), [], 'documented');
  assert.equal([...documented].filter((k) => !schema.includes(k)), [], 'in the schema');
});

t.run();
