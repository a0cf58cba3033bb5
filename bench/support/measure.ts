import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Percentiles of a sample set, in the unit the samples were taken in. */
export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function percentiles(samples: ArrayLike<number>, count = samples.length): Percentiles {
  const sorted = Float64Array.from({ length: count }, (_, i) => samples[i] as number).sort();
  const at = (q: number) => (count === 0 ? 0 : (sorted[Math.min(count - 1, Math.floor(q * count))] as number));
  return { count, p50: at(0.5), p99: at(0.99), max: count === 0 ? 0 : (sorted[count - 1] as number) };
}

/** A growing store of latency samples that does not allocate per sample. */
export class Samples {
  #data = new Float64Array(1 << 16);
  #count = 0;

  add(value: number): void {
    if (this.#count === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#count++] = value;
  }

  get count(): number {
    return this.#count;
  }

  percentiles(): Percentiles {
    return percentiles(this.#data, this.#count);
  }

  values(): Float64Array {
    return this.#data.subarray(0, this.#count);
  }
}

/**
 * A timed window after a warm-up: work counted only between `start` and `stop`, so JIT warm-up,
 * statement preparation and the first page allocations are not part of the figure.
 */
export class Window {
  readonly #warmupMs: number;
  readonly #measureMs: number;
  readonly #began = performance.now();
  #counted = 0;

  constructor(warmupSeconds: number, measureSeconds: number) {
    this.#warmupMs = warmupSeconds * 1000;
    this.#measureMs = measureSeconds * 1000;
  }

  get startsAt(): number {
    return this.#began + this.#warmupMs;
  }

  get endsAt(): number {
    return this.startsAt + this.#measureMs;
  }

  /** True while work should continue. */
  running(now = performance.now()): boolean {
    return now < this.endsAt;
  }

  /** True when an operation that finished at `now` falls inside the measured window. */
  counts(now: number): boolean {
    return now >= this.startsAt && now < this.endsAt;
  }

  add(n: number, now = performance.now()): void {
    if (this.counts(now)) this.#counted += n;
  }

  get counted(): number {
    return this.#counted;
  }

  get perSecond(): number {
    return this.#counted / (this.#measureMs / 1000);
  }
}

/** A fresh folder on the real disk (not tmpfs, so fsync costs what it costs), removed by `remove`. */
export function scratchDir(label: string): { dir: string; file: (name: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `sluice-bench-${label}-`));
  return { dir, file: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Lets pending timers and I/O run: between phases, so one phase's tail does not bleed into the next. */
export function settle(ms = 200): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A raw side's loop: `chunk(from)` writes rows from..from+rowsPerChunk-1 in one transaction, over
 * and over until the window closes; rows/s over the measured part.
 */
export function rawChunks(
  budget: { warmupSeconds: number; measureSeconds: number },
  rowsPerChunk: number,
  chunk: (from: number) => void,
): number {
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  for (let n = 0; window.running(); n += rowsPerChunk) {
    chunk(n);
    window.add(rowsPerChunk);
  }
  return window.perSecond;
}

export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : a / b;
}

export interface AbbaResult {
  /** Mean of the two `a` runs. */
  readonly a: number;
  /** Mean of the two `b` runs. */
  readonly b: number;
  readonly runsA: readonly [number, number];
  readonly runsB: readonly [number, number];
}

/**
 * Measures a, b, b, a with a pause between, and averages each pair, so load that drifts during
 * the run tilts neither side. Each function gets which of its two runs this is (0, then 1).
 */
export async function abba(a: (run: 0 | 1) => number | Promise<number>, b: (run: 0 | 1) => number | Promise<number>): Promise<AbbaResult> {
  const a0 = await a(0);
  await settle();
  const b0 = await b(0);
  await settle();
  const b1 = await b(1);
  await settle();
  const a1 = await a(1);
  await settle();
  return { a: (a0 + a1) / 2, b: (b0 + b1) / 2, runsA: [a0, a1], runsB: [b0, b1] };
}
