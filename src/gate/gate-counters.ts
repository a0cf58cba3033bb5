import { LatencyWindow } from '../core/latency-window.js';

/** Told of events that a histogram must see one by one (counters alone would lose the spread). */
export interface GateObserver {
  batchCommitted(size: number, commitMs: number): void;
  lockWaited(ms: number): void;
  /** Every write as it settles: its table, kind and lane, its error code if it failed, submit → settle in ms. */
  opSettled(table: string, kind: string, lane: string, code: string | undefined, ms: number): void;
  /** A batch met a lock held elsewhere (or a lost connection) and goes back in the queue: its writes per table. */
  batchRetried(writesByTable: ReadonlyMap<string, number>, reason: 'busy' | 'unavailable'): void;
}

/**
 * The gate's own bookkeeping: plain numbers the hot path bumps with no indirection. The metrics
 * layer reads them when scraped and may attach an observer for its histograms.
 */
export class GateCounters {
  opsOk = 0;
  opsFailed = 0;
  batches = 0;
  batchRows = 0;
  busyRetries = 0;
  busySurfaced = 0;
  overloaded = 0;
  enqueueFailures = 0;
  readonly failuresByCode: Record<string, number> = {};
  readonly ackLatency = new LatencyWindow(16_384);
  readonly commitLatency = new LatencyWindow(4096);
  readonly lockWait = new LatencyWindow(4096);
  observer: GateObserver | undefined;

  batchCommitted(size: number, commitMs: number): void {
    this.batches++;
    this.batchRows += size;
    this.commitLatency.record(commitMs);
    this.observer?.batchCommitted(size, commitMs);
  }

  lockWaited(ms: number): void {
    this.lockWait.record(ms);
    this.observer?.lockWaited(ms);
  }

  failed(code: string): void {
    this.opsFailed++;
    this.failuresByCode[code] = (this.failuresByCode[code] ?? 0) + 1;
  }
}
