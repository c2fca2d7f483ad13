/**
 * One coded error base class: AppError carries a stable code, the message, an optional cause,
 * details and a retriable flag, and every error class of packages/ and services/ extends it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { AppError } from '@stock-mlops/contracts';
import { AppError as PlatformAppError, errorCode } from '@stock-mlops/platform';
import { ExtractError } from '@stock-mlops/extract';
import { BatchError } from '@stock-mlops/ml/inference/batcher';
import { suite } from '../../harness/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const t = suite('errors: one coded base class');

t('AppError keeps code, message, cause and details; retriable only when said', () => {
  const cause = new Error('socket hang up');
  const err = new AppError('E_SOMETHING', 'it failed', { cause, details: { symbol: 'AAA' } });
  assert.instance(err, Error);
  assert.is(err.name, 'AppError');
  assert.is(err.code, 'E_SOMETHING');
  assert.is(err.message, 'it failed');
  assert.is(err.cause, cause);
  assert.equal(err.details, { symbol: 'AAA' });
  // Unset, not false: kafkajs gives up at once on an error that says `retriable: false`.
  assert.is(err.retriable, undefined);
  assert.is(new AppError('E_X', 'again', { retriable: true }).retriable, true);
  assert.not.ok('cause' in new AppError('E_X', 'no cause'), 'no cause property without a cause');
  assert.is(errorCode(err), 'E_SOMETHING');
  assert.is(PlatformAppError, AppError, 'the platform exports the same class');
});

t('subclasses keep their names, codes and retriability', () => {
  const e = new ExtractError('E_TIMEOUT', 'slow', { provider: 'yahoo', symbol: 'AAA' });
  assert.instance(e, AppError);
  assert.equal([e.name, e.code, e.retriable, e.message], ['ExtractError', 'E_TIMEOUT', true, 'yahoo [AAA]: slow']);
  const full = new BatchError('E_QUEUE_FULL', 'full');
  assert.equal([full.name, full.code, full.retriable], ['BatchError', 'E_QUEUE_FULL', true]);
  assert.is(new BatchError('E_CANCELLED', 'gone').retriable, false);
});

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (name === 'node_modules') return [];
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

t('every error class in packages/ and services/ extends AppError', () => {
  const parent = new Map<string, { base: string; file: string }>();
  for (const dir of ['packages', 'services']) {
    for (const f of files(path.join(ROOT, dir))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\bclass (\w+)(?:<[^>]*>)? extends (\w+)/g)) parent.set(m[1]!, { base: m[2]!, file: path.relative(ROOT, f) });
    }
  }
  const roots = (name: string): string => {
    const p = parent.get(name);
    return p && name !== 'AppError' ? roots(p.base) : name;
  };
  const offenders = [...parent].filter(([name, p]) => name !== 'AppError' && (/Error$/.test(name) || /Error$/.test(p.base)) && roots(name) !== 'AppError');
  assert.equal(offenders.map(([name, p]) => `${name} (${p.file})`), []);
  assert.ok(parent.size > 0 && [...parent.keys()].filter((n) => roots(n) === 'AppError').length >= 20, 'the scan found the error classes');
});

t.run();
