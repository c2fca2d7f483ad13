import { createHash } from 'node:crypto';

/**
 * Deterministic event id: the same natural key always gives the same id, so re-fetching or
 * replaying data never creates a second event downstream.
 */
export function deterministicId(...parts: Array<string | number>): string {
  return createHash('sha256').update(parts.map(String).join('\u001f')).digest('hex').slice(0, 32);
}

/**
 * Key of a sentiment label on `stock.labels.sentiment.v1`: sha256 (hex) of the text after Unicode
 * NFC normalisation, trimming and collapsing whitespace, so the same headline always has one key.
 */
export function sentimentTextHash(text: string): string {
  return createHash('sha256').update(text.normalize('NFC').trim().replace(/\s+/g, ' ')).digest('hex');
}
