/** Input checks shared by the metric and drift functions; all throw MlError(E_METRICS_INPUT). */
import { ML_ERROR_CODES, MlError } from './errors.ts';

export function inputError(message: string, details?: Record<string, unknown>): MlError {
  return new MlError(ML_ERROR_CODES.METRICS_INPUT, message, details);
}

/** Asserts `values` is an array of finite numbers with at least `minLength` entries. */
export function assertFiniteArray(name: string, values: readonly number[], minLength = 1): void {
  if (!Array.isArray(values)) throw inputError(`${name} must be an array of numbers`);
  if (values.length < minLength) {
    throw inputError(`${name} needs at least ${minLength} value(s), got ${values.length}`, { name, length: values.length });
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw inputError(`${name}[${i}] is not a finite number: ${String(v)}`, { name, index: i });
    }
  }
}

/** Asserts all named arrays have the same length. */
export function assertSameLength(arrays: Readonly<Record<string, readonly unknown[]>>): number {
  const entries = Object.entries(arrays);
  const first = entries[0];
  if (!first) return 0;
  const n = first[1].length;
  for (const [name, arr] of entries) {
    if (arr.length !== n) {
      const lengths = Object.fromEntries(entries.map(([k, a]) => [k, a.length]));
      throw inputError(`inputs must have equal lengths (${first[0]}=${n}, ${name}=${arr.length})`, { lengths });
    }
  }
  return n;
}

export function assertOption(ok: boolean, message: string, details?: Record<string, unknown>): void {
  if (!ok) throw inputError(message, details);
}
