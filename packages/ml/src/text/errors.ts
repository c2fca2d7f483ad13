/** Errors raised by the text utilities (tokenizer, vocabulary, CSV). Codes are stable API. */
export type TextErrorCode =
  | 'E_CSV_UNTERMINATED_QUOTE'
  | 'E_CSV_BAD_QUOTE'
  | 'E_CSV_MISSING_COLUMN'
  | 'E_CSV_RAGGED_ROW'
  | 'E_VOCAB_INVALID'
  | 'E_VOCAB_EMPTY';

export class TextError extends Error {
  readonly code: TextErrorCode;
  readonly retriable = false;
  readonly details: Record<string, unknown>;
  constructor(code: TextErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'TextError';
    this.code = code;
    this.details = details;
  }
}
