/**
 * What flush() waits for: every write submitted before the call. Each flush() closes an epoch;
 * writes remember the epoch they joined. Those of the open epoch are only counted, so the hot
 * path bumps a number instead of a Map entry; a closed epoch keeps its count of unsettled writes,
 * and a flush resolves once no epoch at or before its own has any left.
 */
export class FlushEpochs {
  #epoch = 0;
  #pendingNow = 0;
  readonly #pendingByEpoch = new Map<number, number>();
  #waiters: { epoch: number; resolve: () => void }[] = [];

  /** A write entered the queue; the epoch it belongs to. */
  joined(): number {
    this.#pendingNow++;
    return this.#epoch;
  }

  /** A write of `epoch` settled. */
  settled(epoch: number): void {
    if (epoch === this.#epoch) {
      this.#pendingNow--;
      return;
    }
    const left = (this.#pendingByEpoch.get(epoch) ?? 1) - 1;
    if (left > 0) {
      this.#pendingByEpoch.set(epoch, left);
      return;
    }
    this.#pendingByEpoch.delete(epoch);
    if (this.#waiters.length > 0) this.#wake();
  }

  /** Resolves once every write that joined before the call has settled. */
  flush(): Promise<void> {
    const epoch = this.#epoch++;
    if (this.#pendingNow > 0) {
      this.#pendingByEpoch.set(epoch, this.#pendingNow);
      this.#pendingNow = 0;
    }
    for (const pending of this.#pendingByEpoch.keys()) {
      if (pending <= epoch) return new Promise((resolve) => this.#waiters.push({ epoch, resolve }));
    }
    return Promise.resolve();
  }

  #wake(): void {
    let oldest = Number.POSITIVE_INFINITY;
    for (const epoch of this.#pendingByEpoch.keys()) oldest = Math.min(oldest, epoch);
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) {
      if (waiter.epoch < oldest) waiter.resolve();
      else this.#waiters.push(waiter);
    }
  }
}
