/**
 * Ordered state saves for the pipelined transformer (see docs/pipeline.md, state and recovery).
 *
 * A batch's state is captured when its computation ends; its save must wait until (1) the batch's
 * outputs are acknowledged (else a crash after the save would skip records whose outputs were
 * lost) and (2) the saves of the batches computed before it (a later capture of a symbol includes
 * the earlier batch's records). So saves form one queue in computation order. A failed link
 * fails every later link without writing (their captures include the failed batch's records);
 * `reset()` — called when the cached state is dropped — also fails links enqueued before it,
 * then lets new links run again.
 */
import { AppError } from '@stock-mlops/contracts';

export class StaleStateError extends AppError<'E_STALE_STATE'> {
  constructor() {
    super('E_STALE_STATE', 'transformer state was dropped after this batch was computed', { retriable: true });
    this.name = 'StaleStateError';
  }
}

export class SaveQueue {
  private tail: Promise<void> = Promise.resolve();
  private epoch = 0;

  /** Runs `write` after the earlier links and after `sent`; rejects, without writing, if either failed or reset() came in between. */
  enqueue(sent: Promise<unknown>, write: () => Promise<void>): Promise<void> {
    const computedIn = this.epoch;
    // Awaited by the link once the earlier saves are done; until then a failure must not count as unhandled.
    sent.catch(() => {});
    const link = this.tail.then(async () => {
      await sent;
      if (this.epoch !== computedIn) throw new StaleStateError();
      await write();
    });
    this.tail = link;
    return link;
  }

  /** The cached state was dropped: links enqueued so far fail (unless already writing); later ones run. */
  reset(): void {
    this.epoch++;
    this.tail = this.tail.catch(() => {});
  }

  /** Resolves once every link enqueued so far has finished, failed or not. */
  settled(): Promise<void> {
    return this.tail.catch(() => {});
  }
}
