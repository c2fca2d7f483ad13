import { AppError } from '@stock-mlops/contracts';

/** Errors raised by the text utilities (tokenizer, vocabulary, CSV). Codes are stable API. */
export type TextErrorCode =
  | 'E_CSV_UNTERMINATED_QUOTE'
  | 'E_CSV_BAD_QUOTE'
  | 'E_CSV_MISSING_COLUMN'
  | 'E_CSV_RAGGED_ROW'
  | 'E_VOCAB_INVALID'
  | 'E_VOCAB_EMPTY';

export class TextError extends AppError<TextErrorCode> {
  constructor(code: TextErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, { details, retriable: false });
    this.name = 'TextError';
  }
}
