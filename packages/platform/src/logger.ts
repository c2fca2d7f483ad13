import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths that may carry secrets; pino replaces them before a line is written. */
export const REDACT_PATHS = [
  'apiKey',
  'token',
  'authorization',
  'password',
  'secret',
  '*.apiKey',
  '*.token',
  '*.authorization',
  '*.password',
  '*.secret',
  'headers.authorization',
  'req.headers.authorization',
];

export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '***' },
    formatters: { level: (label) => ({ level: label }) },
  });
}
