export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * The most recent samples of a latency, in milliseconds. Recording is a store into a typed array,
 * cheap enough for the per-operation hot path; percentiles are computed only when asked for.
 */
export class LatencyWindow {
  readonly #samples: Float64Array;
  #next = 0;
  #count = 0;
  #max = 0;

  constructor(size = 8192) {
    this.#samples = new Float64Array(size);
  }

  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    this.#count++;
    if (ms > this.#max) this.#max = ms;
  }

  summary(): LatencySummary {
    const n = Math.min(this.#count, this.#samples.length);
    const sorted = this.#samples.slice(0, n).sort();
    const at = (q: number) => (n === 0 ? 0 : round(sorted[Math.min(n - 1, Math.floor(q * n))] ?? 0));
    return { count: this.#count, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(this.#max) };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
