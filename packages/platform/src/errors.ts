/** The one error base class (defined in contracts so business-logic packages can extend it). */
export { AppError, type AppErrorOptions } from '@stock-mlops/contracts';

export function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return 'E_INTERNAL';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
