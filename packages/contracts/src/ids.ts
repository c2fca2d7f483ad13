import { createHash } from 'node:crypto';

/**
 * Deterministic event id: the same natural key always gives the same id, so re-fetching or
 * replaying data never creates a second event downstream.
 */
export function deterministicId(...parts: Array<string | number>): string {
  return createHash('sha256').update(parts.map(String).join('\u001f')).digest('hex').slice(0, 32);
}
