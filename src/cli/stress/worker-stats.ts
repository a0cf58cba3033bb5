import { SluiceError } from '../../index.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { ProcessSummary, Role } from './stress-protocol.js';

export type WriteResult<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** One process's tallies: acknowledged writes by kind, failures by code, and write latency. */
export class WorkerStats {
  readonly latency = new LatencyHistogram();
  readonly ops: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  readonly errorSamples: string[] = [];
  acked = 0;
  busySurfaced = 0;
  readOwnWriteMisses = 0;
  claims = 0;
  lapsedSettlesTried = 0;
  lapsedSettlesRefused = 0;

  /**
   * Times one write; a failure is returned, not thrown, and tallied unless the caller expects it.
   * `counts` says whether a result is an acknowledged write (a claim that found nothing is not).
   */
  async write<T>(
    kind: string,
    fn: () => Promise<T>,
    expected?: (error: unknown) => boolean,
    counts: (value: T) => boolean = () => true,
  ): Promise<WriteResult<T>> {
    const started = performance.now();
    try {
      const value = await fn();
      if (counts(value)) {
        this.latency.record(performance.now() - started);
        this.acked++;
        this.ops[kind] = (this.ops[kind] ?? 0) + 1;
      }
      return { ok: true, value };
    } catch (error) {
      if (!expected?.(error)) this.failed(kind, error);
      return { ok: false, error };
    }
  }

  failed(kind: string, error: unknown): void {
    const code = SluiceError.is(error) ? error.code : 'ERROR';
    if (code === 'BUSY') this.busySurfaced++;
    else this.errors[code] = (this.errors[code] ?? 0) + 1;
    if (this.errorSamples.length < 5) this.errorSamples.push(`${kind}: ${code}: ${(error as Error)?.message ?? String(error)}`);
  }

  summary(name: string, role: Role, elapsedMs: number, busyRetries: number): ProcessSummary {
    return {
      name,
      role,
      pid: process.pid,
      elapsedMs,
      acked: this.acked,
      ops: this.ops,
      busyRetries,
      busySurfaced: this.busySurfaced,
      errors: this.errors,
      errorSamples: this.errorSamples,
      readOwnWriteMisses: this.readOwnWriteMisses,
      claims: this.claims,
      lapsedSettlesTried: this.lapsedSettlesTried,
      lapsedSettlesRefused: this.lapsedSettlesRefused,
      illegalTried: 0,
      illegalRefused: 0,
      illegalAccepted: 0,
      latency: this.latency.toJSON(),
    };
  }
}
