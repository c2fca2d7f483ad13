/**
 * One at a time: `run(fn)` starts `fn` after every function passed before it has settled, and
 * returns its result. A failure is returned to its caller only; the next function runs anyway.
 * For work that shares in-memory state across concurrent batches, timers and rebalance handlers.
 */
export function serialized(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn);
    tail = run.catch(() => {});
    return run;
  };
}
