import type { SluiceError } from '../core/sluice-error.js';

interface FlushWaiter {
  /** Raised when a resync finishes, to cover the rows it queued. */
  upTo: number;
  readonly from: number;
  readonly resolve: (upTo: number) => void;
  readonly reject: (error: SluiceError) => void;
  readonly onProgress: ((shipped: number, total: number) => void) | undefined;
}

/** The flush() calls waiting for the shipper: each for everything numbered up to its `upTo`. */
export class FlushWaiters {
  #waiting: FlushWaiter[] = [];

  get size(): number {
    return this.#waiting.length;
  }

  /**
   * Resolves once `settle` finds `upTo` covered, with `upTo` as a finished resync may have raised
   * it; `from` is the mark when the flush began (for progress).
   */
  wait(upTo: number, from: number, onProgress: ((shipped: number, total: number) => void) | undefined): Promise<number> {
    return new Promise((resolve, reject) => this.#waiting.push({ upTo, from, resolve, reject, onProgress }));
  }

  /** A resync finished: the flushes waiting now also wait for the rows it queued. */
  raise(upTo: number): void {
    for (const waiter of this.#waiting) waiter.upTo = Math.max(waiter.upTo, upTo);
  }

  /** Resolves the flushes `covers` says are done, and tells the others how far the mark came. */
  settle(covers: (upTo: number) => boolean, mark: number): void {
    if (this.#waiting.length === 0) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const waiter of waiting) {
      if (covers(waiter.upTo)) {
        waiter.onProgress?.(waiter.upTo - waiter.from, waiter.upTo - waiter.from);
        waiter.resolve(waiter.upTo);
      } else {
        waiter.onProgress?.(Math.max(0, mark - waiter.from), waiter.upTo - waiter.from);
        this.#waiting.push(waiter);
      }
    }
  }

  rejectAll(error: SluiceError): void {
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }
}
