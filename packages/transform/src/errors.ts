/**
 * Errors of the transform package. Every failure carries a stable `code` (data, not prose) so
 * callers can route it (dead-letter, metrics) without parsing messages. Nothing here is
 * retriable: the same input always fails the same way.
 */
import { AppError } from '@stock-mlops/contracts';

export const TRANSFORM_ERROR_CODES = {
  /** CSV header lacks a required column. */
  E_CSV_HEADER: 'E_CSV_HEADER',
  /** Bar belongs to another symbol than the per-symbol component it was given to. */
  E_SYMBOL_MISMATCH: 'E_SYMBOL_MISMATCH',
  /** Bar is not after the previous one (FeatureEngine input must be strictly ordered). */
  E_OUT_OF_ORDER: 'E_OUT_OF_ORDER',
  /** Snapshot is malformed or was taken with other parameters. */
  E_BAD_SNAPSHOT: 'E_BAD_SNAPSHOT',
  /** Normalizer statistics or snapshot were produced for another feature schema. */
  E_SCHEMA_MISMATCH: 'E_SCHEMA_MISMATCH',
  /** Vector length differs from the schema / statistics it is used with. */
  E_SHAPE_MISMATCH: 'E_SHAPE_MISMATCH',
  /** A NaN/Infinity reached a place where only finite numbers are allowed. */
  E_NOT_FINITE: 'E_NOT_FINITE',
  /** Invalid constructor/function argument. */
  E_BAD_ARGUMENT: 'E_BAD_ARGUMENT',
} as const;

export type TransformErrorCode = (typeof TRANSFORM_ERROR_CODES)[keyof typeof TRANSFORM_ERROR_CODES];

export class TransformError extends AppError<TransformErrorCode> {
  constructor(code: TransformErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, { details, retriable: false });
    this.name = 'TransformError';
  }
}
