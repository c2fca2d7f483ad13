import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time comparison of two secrets (hashed first, so neither length nor content leaks through timing). */
export function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/** True when an `Authorization` header carries `Bearer <token>`. */
export function bearerMatches(token: string, authorization: string | undefined): boolean {
  const m = /^Bearer (.+)$/.exec(authorization ?? '');
  return m !== null && sameSecret(m[1]!, token);
}
