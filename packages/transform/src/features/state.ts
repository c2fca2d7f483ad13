/**
 * Small helpers shared by every stateful transform component: checking snapshots that come back
 * from storage (they are JSON written by an older process, so they are verified, not trusted),
 * and a fixed-capacity ring buffer whose serialized size never depends on how many values went
 * through it.
 */
import { TransformError } from '../errors.ts';

export function checkSnapshot(condition: boolean, what: string): asserts condition {
  if (!condition) throw new TransformError('E_BAD_SNAPSHOT', `invalid snapshot: ${what}`);
}

export function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

export function checkFiniteArray(x: unknown, length: number, what: string): asserts x is number[] {
  checkSnapshot(Array.isArray(x) && x.length === length && x.every(isFiniteNumber), `${what} must be ${length} finite numbers`);
}

export function checkCount(x: unknown, what: string): asserts x is number {
  checkSnapshot(Number.isSafeInteger(x) && (x as number) >= 0, `${what} must be a non-negative integer`);
}

export function checkPeriod(period: number, min = 1): void {
  if (!Number.isSafeInteger(period) || period < min) {
    throw new TransformError('E_BAD_ARGUMENT', `period must be an integer ≥ ${min}, got ${period}`);
  }
}

export interface RingState {
  /** Physical storage, always `capacity` long (unused slots are 0). */
  buf: number[];
  /** Physical index of the oldest element. */
  head: number;
  size: number;
}

/** Fixed-capacity FIFO of numbers; pushing into a full ring evicts the oldest value. */
export class RingBuffer {
  readonly capacity: number;
  private buf: number[];
  private head = 0;
  private size = 0;

  constructor(capacity: number) {
    checkPeriod(capacity);
    this.capacity = capacity;
    this.buf = new Array<number>(capacity).fill(0);
  }

  get length(): number {
    return this.size;
  }

  get full(): boolean {
    return this.size === this.capacity;
  }

  /** Appends x; returns the evicted oldest value when the ring was full. */
  push(x: number): number | undefined {
    if (this.size < this.capacity) {
      this.buf[(this.head + this.size) % this.capacity] = x;
      this.size++;
      return undefined;
    }
    const evicted = this.buf[this.head] as number;
    this.buf[this.head] = x;
    this.head = (this.head + 1) % this.capacity;
    return evicted;
  }

  /** i = 0 is the newest value, i = 1 the one before … (caller keeps i < length). */
  back(i: number): number {
    return this.buf[(this.head + this.size - 1 - i) % this.capacity] as number;
  }

  /** i = 0 is the oldest value (caller keeps i < length). */
  front(i: number): number {
    return this.buf[(this.head + i) % this.capacity] as number;
  }

  snapshot(): RingState {
    return { buf: [...this.buf], head: this.head, size: this.size };
  }

  restore(state: RingState, what: string): void {
    checkSnapshot(typeof state === 'object' && state !== null, `${what} ring`);
    checkFiniteArray(state.buf, this.capacity, `${what}.buf`);
    checkSnapshot(Number.isSafeInteger(state.head) && state.head >= 0 && state.head < this.capacity, `${what}.head`);
    checkSnapshot(Number.isSafeInteger(state.size) && state.size >= 0 && state.size <= this.capacity, `${what}.size`);
    this.buf = [...state.buf];
    this.head = state.head;
    this.size = state.size;
  }
}
