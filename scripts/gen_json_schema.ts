/**
 * Writes schemas/<topic>.json for every raw topic (the contracts external producers write to).
 * `npm run schemas` regenerates them; a unit test fails when the committed files are stale.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { RAW_TOPIC_KEYS, TOPIC_DEFS, topicJsonSchema } from '@stock-mlops/contracts';
import { parseCommandLine } from '@stock-mlops/platform';

const USAGE = `usage: npm run schemas [-- -h]

Writes schemas/<topic>.json (JSON Schema) for every raw topic that external producers write to.`;

export function renderRawSchemas(): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of RAW_TOPIC_KEYS) {
    out.set(`${TOPIC_DEFS[key].name}.json`, `${JSON.stringify(topicJsonSchema(key), null, 2)}\n`);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  parseCommandLine(USAGE, { options: {} });
  const dir = path.resolve(import.meta.dirname, '..', 'schemas');
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of renderRawSchemas()) {
    writeFileSync(path.join(dir, file), text);
    console.log(`wrote schemas/${file}`);
  }
}
