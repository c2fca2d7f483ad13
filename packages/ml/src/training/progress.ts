/**
 * Training progress a person can follow: epoch n of m and an estimate of the time left, from the
 * mean duration of the epochs run so far. Early stopping can end a training before epoch m, so
 * the estimate is an upper bound. Pure: the caller passes each epoch's duration.
 */
export interface EpochProgress {
  epoch: number;
  epochs: number;
  /** Estimated milliseconds until epoch `epochs` ends; 0 once it is reached. */
  etaMs: number;
}

/** Mean epoch duration so far × epochs left. Restarts when epoch 1 comes again (a new ensemble member or per-symbol model). */
export class EpochClock {
  private total = 0;
  private count = 0;
  constructor(readonly epochs: number) {}

  /** Progress after `epoch` (1-based) finished, having taken `ms`. */
  tick(epoch: number, ms: number): EpochProgress {
    if (epoch <= 1) {
      this.total = 0;
      this.count = 0;
    }
    this.total += Math.max(0, ms);
    this.count += 1;
    const left = Math.max(0, this.epochs - epoch);
    return { epoch, epochs: this.epochs, etaMs: Math.round((this.total / this.count) * left) };
  }
}

/** "42 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** The log message of one epoch: "epoch 3/12, ETA 1 min 05 s". */
export function epochMessage(p: Pick<EpochProgress, 'epoch' | 'epochs' | 'etaMs'>): string {
  return `epoch ${p.epoch}/${p.epochs}, ETA ${formatDuration(p.etaMs)}`;
}
