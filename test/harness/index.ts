/**
 * Test harness: a thin wrapper over uvu that gives every test a timeout.
 *
 * Usage:
 *   const t = suite('feature engineering');
 *   t('computes SMA', () => { ... });
 *   t.run();
 *
 * The default per-test timeout is 30 s; pass `{ timeoutMs }` to `suite` for slower suites
 * (integration tests against the real broker). TEST_TIMEOUT_SCALE multiplies every timeout.
 */
import { suite as uvuSuite } from 'uvu';

export interface SuiteOptions {
  timeoutMs?: number;
}

type Fn<C> = (ctx: C) => unknown | Promise<unknown>;

const scale = Number(process.env.TEST_TIMEOUT_SCALE ?? '1') || 1;

export class TestTimeoutError extends Error {
  readonly code = 'E_TEST_TIMEOUT';
}

let running: AbortSignal | undefined;

/**
 * Aborted when the running test times out, so helpers that own processes (withStack) stop them
 * then instead of leaving the file hanging on their children.
 */
export const testSignal = (): AbortSignal | undefined => running;

function withTimeout<C>(name: string, fn: Fn<C>, ms: number): (ctx: C) => Promise<void> {
  return async (ctx: C): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const abort = new AbortController();
    running = abort.signal;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new TestTimeoutError(`test "${name}" timed out after ${ms} ms`));
        abort.abort();
      }, ms);
    });
    try {
      await Promise.race([Promise.resolve().then(() => fn(ctx)), timeout]);
    } finally {
      if (timer) clearTimeout(timer);
      if (running === abort.signal) running = undefined;
    }
  };
}

export interface Suite<C extends object> {
  (name: string, fn: Fn<C>, opts?: SuiteOptions): void;
  before: (fn: Fn<C>, opts?: SuiteOptions) => void;
  after: (fn: Fn<C>, opts?: SuiteOptions) => void;
  beforeEach: (fn: Fn<C>) => void;
  afterEach: (fn: Fn<C>) => void;
  run: () => void;
}

export function suite<C extends object = Record<string, unknown>>(title: string, options: SuiteOptions = {}, ctx?: C): Suite<C> {
  const base = (options.timeoutMs ?? 30_000) * scale;
  const s = uvuSuite<C>(title, ctx);
  // uvu 0.5 swallows errors thrown in `before` hooks (the suite then "passes" with 0 tests):
  // remember the error and fail every test of the suite with it instead.
  let beforeError: unknown;
  const wrapped = ((name: string, fn: Fn<C>, opts?: SuiteOptions) => {
    s(name, withTimeout(name, (c: C) => {
      if (beforeError !== undefined) throw beforeError;
      return fn(c);
    }, (opts?.timeoutMs ?? base / scale) * scale));
  }) as Suite<C>;
  wrapped.before = (fn, opts) => {
    const guarded = withTimeout(`${title} before`, fn, (opts?.timeoutMs ?? 120_000) * scale);
    s.before(async (c: C) => {
      try {
        await guarded(c);
      } catch (err) {
        beforeError = err;
      }
    });
  };
  wrapped.after = (fn, opts) => s.after(withTimeout(`${title} after`, fn, (opts?.timeoutMs ?? 60_000) * scale));
  wrapped.beforeEach = (fn) => s.before.each(withTimeout(`${title} beforeEach`, fn, base));
  wrapped.afterEach = (fn) => s.after.each(withTimeout(`${title} afterEach`, fn, base));
  wrapped.run = () => s.run();
  return wrapped;
}
