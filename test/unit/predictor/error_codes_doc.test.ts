/**
 * docs/api.md lists every error code a client of the predictor can see, with the status it comes
 * with, and nothing else: the gRPC codes (STATUS_BY_CODE plus E_INTERNAL), PredictBatch's per-item
 * codes (ITEM_ERROR_CODES) and the WebSocket error frames' codes (WS_ERROR). Every `E_…` code
 * spelled in the client-facing sources must be listed too, so a new code cannot ship undocumented.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as assert from 'uvu/assert';
import { WS_ERROR } from '@stock-mlops/contracts';
import { ITEM_ERROR_CODES } from '@stock-mlops/ml/inference/predictor_core';
import { STATUS_BY_CODE } from '../../../services/predictor/src/grpc_util.ts';
import { suite } from '../../harness/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const DOC = readFileSync(path.join(ROOT, 'docs/api.md'), 'utf8');
/** The sources whose codes reach clients: the gRPC and WebSocket adapters, the core, the WebSocket contract. */
const CLIENT_FACING = [
  'packages/ml/src/inference/predictor_core.ts',
  'services/predictor/src/grpc_util.ts',
  'services/predictor/src/grpc_domain.ts',
  'services/predictor/src/grpc_oip.ts',
  'services/predictor/src/grpc_server.ts',
  'services/predictor/src/label_submit.ts',
  'services/predictor/src/ws_server.ts',
  'packages/contracts/src/ws.ts',
];

const t = suite('predictor: docs/api.md lists every client-visible error code');

/** The text under a `#### title` heading, up to the next heading. */
function section(title: string): string {
  const start = DOC.indexOf(`\n#### ${title}\n`);
  assert.ok(start >= 0, `docs/api.md has a "#### ${title}" section`);
  const rest = DOC.slice(start + title.length + 7);
  const end = rest.search(/\n#{2,4} /);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Table rows `| \`E_CODE\` | \`STATUS\` | …` (status optional) as "E_CODE STATUS" / "E_CODE". */
function rows(text: string): string[] {
  return [...text.matchAll(/^\| `(E_[A-Z0-9_]+)` \|(?: `([A-Z_]+)` \|)?/gm)].map((m) => (m[2] ? `${m[1]} ${m[2]}` : m[1]!)).sort();
}

const statusName = (code: string) => grpc.status[STATUS_BY_CODE[code]!];

t('gRPC: one row per code with its status, exactly the codes the status mapping lets through', () => {
  const expected = [...Object.keys(STATUS_BY_CODE).map((c) => `${c} ${statusName(c)}`), 'E_INTERNAL INTERNAL'].sort();
  assert.equal(rows(section('gRPC statuses')), expected);
});

t('PredictBatch: one row per per-item code with the status Predict gives it', () => {
  assert.equal(rows(section('PredictBatch per-item errors')), ITEM_ERROR_CODES.map((c) => `${c} ${statusName(c)}`).sort());
});

t('WebSocket: one row per error frame code', () => {
  assert.equal(rows(section('WebSocket error frames')), Object.values(WS_ERROR).sort());
});

t('every E_ code spelled in the client-facing sources is listed', () => {
  const listed = new Set(
    [section('gRPC statuses'), section('PredictBatch per-item errors'), section('WebSocket error frames')].flatMap((s) => rows(s).map((r) => r.split(' ')[0]!)),
  );
  const missing: string[] = [];
  for (const file of CLIENT_FACING) {
    for (const m of readFileSync(path.join(ROOT, file), 'utf8').matchAll(/\bE_[A-Z0-9_]+\b/g)) {
      if (!listed.has(m[0])) missing.push(`${m[0]} (${file})`);
    }
  }
  assert.equal([...new Set(missing)], [], 'codes missing from docs/api.md');
});

t.run();
