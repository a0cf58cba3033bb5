export interface BatchSizerOptions {
  /** The commit duration the sizer steers toward; longer batches hold the lock longer. */
  readonly targetCommitMs: number;
  readonly minSize: number;
  readonly maxSize: number;
}

/**
 * Adapts the batch limit so that one transaction lasts about `targetCommitMs`: long enough to
 * amortise the commit, short enough that other processes waiting for the lock are not starved
 * and that acknowledgement latency stays low. Multiplicative decrease when a full batch ran
 * long; additive-ish increase when a full batch ran short.
 */
export class BatchSizer {
  readonly #options: BatchSizerOptions;
  #limit: number;

  constructor(options: BatchSizerOptions) {
    this.#options = options;
    this.#limit = Math.min(options.maxSize, Math.max(options.minSize, 256));
  }

  get limit(): number {
    return this.#limit;
  }

  observe(size: number, commitMs: number): void {
    const { targetCommitMs, minSize, maxSize } = this.#options;
    if (commitMs > targetCommitMs * 1.5 && size > minSize) {
      this.#limit = Math.max(minSize, Math.floor(Math.min(this.#limit, size) * 0.7));
    } else if (size >= this.#limit && commitMs < targetCommitMs * 0.6) {
      this.#limit = Math.min(maxSize, Math.ceil(this.#limit * 1.25) + 8);
    }
  }
}
