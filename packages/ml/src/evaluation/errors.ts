/**
 * Errors raised by the pure ML modules (evaluation, drift, datasets).
 * Every error carries a stable `code` (data, not prose) and is never retriable:
 * the same input always fails the same way.
 */
import { AppError } from '@stock-mlops/contracts';

export const ML_ERROR_CODES = {
  /** Metric or drift input is malformed: unequal lengths, non-finite numbers, unknown labels, bad options. */
  METRICS_INPUT: 'E_METRICS_INPUT',
  /** Dataset builder input is malformed: duplicate timestamps, bad options, too little data. */
  DATASET_INPUT: 'E_DATASET_INPUT',
  /** A sample's inputs reach its label window, or a split's labels reach the next split. */
  DATA_LEAKAGE: 'E_DATA_LEAKAGE',
} as const;

export type MlErrorCode = (typeof ML_ERROR_CODES)[keyof typeof ML_ERROR_CODES];

export class MlError extends AppError<MlErrorCode> {
  constructor(code: MlErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, { details, retriable: false });
    this.name = 'MlError';
  }
}
