/**
 * The one error base class. It lives here, in the package every other package already imports,
 * so business-logic packages can extend it without importing the platform (which re-exports it).
 */

export interface AppErrorOptions {
  /** The error this one explains (kept as the standard `cause`). */
  cause?: unknown;
  /** Context for logs and callers; never secrets or whole payloads. */
  details?: Record<string, unknown> | undefined;
  /**
   * Whether the same operation may succeed when tried again; unset = not known. Unset is not
   * false: kafkajs retries a failed handler unless its error says `retriable: false`.
   */
  retriable?: boolean | undefined;
}

/** An error with a stable machine-readable `code` (`E_SOMETHING`): callers route on the code, never on the message. */
export class AppError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly retriable: boolean | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: Code, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retriable = options.retriable;
    this.details = options.details;
  }
}
