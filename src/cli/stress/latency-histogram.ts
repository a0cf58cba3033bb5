import type { LatencySummary } from '../../index.js';

/** Bucket bounds grow by 2 %: percentiles come out within 2 % of the true value. */
const GROWTH = 1.02;
const SMALLEST_MS = 0.001;
const LOG_GROWTH = Math.log(GROWTH);

/** The wire form: bucket index → count, plus the exact maximum. */
export interface LatencyHistogramJson {
  buckets: Record<string, number>;
  max: number;
  count: number;
}

/**
 * Write latencies in log-spaced buckets: constant memory however long a run is, and histograms
 * from several processes merge by adding counts.
 */
export class LatencyHistogram {
  readonly #buckets = new Map<number, number>();
  #count = 0;
  #max = 0;

  record(ms: number): void {
    const index = ms <= SMALLEST_MS ? 0 : Math.ceil(Math.log(ms / SMALLEST_MS) / LOG_GROWTH);
    this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + 1);
    this.#count++;
    if (ms > this.#max) this.#max = ms;
  }

  merge(other: LatencyHistogram | LatencyHistogramJson): this {
    const json = other instanceof LatencyHistogram ? other.toJSON() : other;
    for (const [index, n] of Object.entries(json.buckets)) {
      const i = Number(index);
      this.#buckets.set(i, (this.#buckets.get(i) ?? 0) + n);
    }
    this.#count += json.count;
    this.#max = Math.max(this.#max, json.max);
    return this;
  }

  get count(): number {
    return this.#count;
  }

  figures(): LatencySummary {
    return { count: this.#count, p50: this.#quantile(0.5), p95: this.#quantile(0.95), p99: this.#quantile(0.99), max: round(this.#max) };
  }

  toJSON(): LatencyHistogramJson {
    return { buckets: Object.fromEntries(this.#buckets), max: this.#max, count: this.#count };
  }

  static from(json: LatencyHistogramJson): LatencyHistogram {
    return new LatencyHistogram().merge(json);
  }

  #quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (const index of [...this.#buckets.keys()].sort((a, b) => a - b)) {
      seen += this.#buckets.get(index) ?? 0;
      if (seen >= rank) return round(Math.min(this.#max, SMALLEST_MS * GROWTH ** index));
    }
    return round(this.#max);
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
