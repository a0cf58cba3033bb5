import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LatencySummary } from '../core/latency-window.js';
import type { Dialect, DialectStats } from '../dialect/dialect.js';
import { LANES, type Lane } from '../dialect/write-op.js';
import type { GateObserver } from '../gate/gate-counters.js';
import type { WriteGate } from '../gate/write-gate.js';

export interface SluiceStats {
  dialect: string;
  ops: { ok: number; failed: number; failuresByCode: Record<string, number>; enqueueFailures: number };
  batches: { count: number; meanSize: number; sizeLimit: number };
  ackMs: LatencySummary;
  commitMs: LatencySummary;
  lockWaitMs: LatencySummary;
  busy: { retries: number; surfaced: number };
  overloaded: number;
  queue: Record<Lane | 'total', number>;
  storage: DialectStats;
}

/**
 * The metrics of one Database: its own registry, so two databases in a process never mix. It
 * reads the gate's plain counters when scraped, and observes commits and lock waits for its
 * histograms.
 */
export class SluiceMetrics implements GateObserver {
  readonly registry = new Registry();
  readonly #gate: WriteGate;
  readonly #dialect: Pick<Dialect, 'name' | 'stats'>;
  readonly #batchSize: Histogram;
  readonly #commitSeconds: Histogram;
  readonly #lockWaitSeconds: Histogram;

  constructor(gate: WriteGate, dialect: Pick<Dialect, 'name' | 'stats'>) {
    this.#gate = gate;
    this.#dialect = dialect;
    gate.counters.observer = this;
    const counters = gate.counters;
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counter('sluice_write_ops_ok_total', 'Writes committed.', () => counters.opsOk);
    new Counter({
      name: 'sluice_write_ops_failed_total',
      help: 'Writes rejected, by error code.',
      labelNames: ['code'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [code, n] of Object.entries(counters.failuresByCode)) this.inc({ code }, n);
      },
    });
    counter('sluice_busy_retries_total', 'Batches retried because another connection held the write lock.', () => counters.busyRetries);
    counter('sluice_busy_surfaced_total', 'Writes that gave up with BUSY after their deadline.', () => counters.busySurfaced);
    counter('sluice_overloaded_total', 'Writes refused with OVERLOADED because the queue was full.', () => counters.overloaded);
    counter('sluice_enqueue_failures_total', 'Fire-and-forget writes (enqueue) that failed.', () => counters.enqueueFailures);
    new Gauge({
      name: 'sluice_queue_depth',
      help: 'Writes waiting in the gate, by lane.',
      labelNames: ['lane'],
      registers: [this.registry],
      collect() {
        for (const lane of LANES) this.set({ lane }, gate.depth(lane));
      },
    });
    const storage = () => dialect.stats();
    new Gauge({
      name: 'sluice_wal_bytes',
      help: 'Size of the SQLite write-ahead log.',
      registers: [this.registry],
      collect() {
        this.set(storage().walBytes ?? 0);
      },
    });
    new Gauge({
      name: 'sluice_checkpoints',
      help: 'TRUNCATE checkpoints run by the watchdog.',
      registers: [this.registry],
      collect() {
        this.set(storage().checkpoints ?? 0);
      },
    });
    this.#batchSize = new Histogram({
      name: 'sluice_batch_size',
      help: 'Writes per committed transaction.',
      buckets: [1, 4, 16, 64, 256, 1024, 4096],
      registers: [this.registry],
    });
    this.#commitSeconds = new Histogram({
      name: 'sluice_commit_seconds',
      help: 'Time from BEGIN to COMMIT of one batch.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
    this.#lockWaitSeconds = new Histogram({
      name: 'sluice_lock_wait_seconds',
      help: 'Time a batch waited for a lock held by another connection.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [this.registry],
    });
  }

  batchCommitted(size: number, commitMs: number): void {
    this.#batchSize.observe(size);
    this.#commitSeconds.observe(commitMs / 1000);
  }

  lockWaited(ms: number): void {
    this.#lockWaitSeconds.observe(ms / 1000);
  }

  stats(): SluiceStats {
    const c = this.#gate.counters;
    const gate = this.#gate;
    return {
      dialect: this.#dialect.name,
      ops: { ok: c.opsOk, failed: c.opsFailed, failuresByCode: { ...c.failuresByCode }, enqueueFailures: c.enqueueFailures },
      batches: {
        count: c.batches,
        meanSize: c.batches === 0 ? 0 : Math.round((c.batchRows / c.batches) * 10) / 10,
        sizeLimit: gate.batchLimit,
      },
      ackMs: c.ackLatency.summary(),
      commitMs: c.commitLatency.summary(),
      lockWaitMs: c.lockWait.summary(),
      busy: { retries: c.busyRetries, surfaced: c.busySurfaced },
      overloaded: c.overloaded,
      queue: {
        high: gate.depth('high'),
        normal: gate.depth('normal'),
        low: gate.depth('low'),
        total: gate.depth(),
      },
      storage: this.#dialect.stats(),
    };
  }
}
