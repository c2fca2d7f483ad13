import { z } from 'zod';

/**
 * Ticker symbol: upper-case letters, digits and the separators real exchanges use
 * (`005930.KS`, `BRK-B`, `^GSPC`, `EURUSD=X`). Validated everywhere a symbol enters, which also
 * makes MongoDB operator injection through a symbol impossible.
 */
export const SYMBOL_RE = /^[A-Z0-9^][A-Z0-9.=-]{0,23}$/;
export const Symbol = z.string().regex(SYMBOL_RE, 'symbol must match ^[A-Z0-9^][A-Z0-9.=-]{0,23}$');

const MIN_TIME = Date.UTC(1900, 0, 1);
const FUTURE_SLACK_MS = 7 * 24 * 3600 * 1000;

/** ISO-8601 UTC timestamp, bounded: no ancient or far-future times. */
export const Timestamp = z
  .string()
  .datetime({ offset: true, message: 'must be an ISO-8601 timestamp' })
  .refine((s) => {
    const t = Date.parse(s);
    return t >= MIN_TIME && t <= Date.now() + FUTURE_SLACK_MS;
  }, 'timestamp is before 1900 or more than 7 days in the future');

export const FiniteNumber = z.number().refine(Number.isFinite, 'must be a finite number');
export const NonNegative = FiniteNumber.refine((n) => n >= 0, 'must be >= 0');
export const Positive = FiniteNumber.refine((n) => n > 0, 'must be > 0');
export const Interval = z.enum(['1m', '5m', '15m', '30m', '60m', '1h', '1d', '1wk']);
export const ModelRef = z.strictObject({ name: z.string().min(1).max(64), version: z.number().int().positive() });
export type ModelRef = z.infer<typeof ModelRef>;
