import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DialectStats } from '../dialect/dialect.js';
import { LANES, type Lane } from '../gate/write-op.js';
import { type LatencySummary, LatencyWindow } from './latency-window.js';

/** Plain counters the hot path bumps; the Prometheus registry reads them when scraped. */
export interface GateCounters {
  opsOk: number;
  opsFailed: number;
  batches: number;
  batchRows: number;
  busyRetries: number;
  busySurfaced: number;
  overloaded: number;
  enqueueFailures: number;
  failuresByCode: Record<string, number>;
}

export interface QueueState {
  depth(lane?: Lane): number;
  batchLimit(): number;
}

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

/** The metrics of one Database: its own registry, so two databases in a process never mix. */
export class SluiceMetrics {
  readonly registry = new Registry();
  readonly counters: GateCounters = {
    opsOk: 0,
    opsFailed: 0,
    batches: 0,
    batchRows: 0,
    busyRetries: 0,
    busySurfaced: 0,
    overloaded: 0,
    enqueueFailures: 0,
    failuresByCode: {},
  };
  readonly ackLatency = new LatencyWindow(16_384);
  readonly commitLatency = new LatencyWindow(4096);
  readonly lockWait = new LatencyWindow(4096);
  readonly #batchSize: Histogram;
  readonly #commitSeconds: Histogram;
  readonly #lockWaitSeconds: Histogram;
  #queue: QueueState | undefined;
  #storage: (() => DialectStats) | undefined;
  #dialect = 'unknown';

  constructor() {
    const counters = this.counters;
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
    const queue = () => this.#queue;
    new Gauge({
      name: 'sluice_queue_depth',
      help: 'Writes waiting in the gate, by lane.',
      labelNames: ['lane'],
      registers: [this.registry],
      collect() {
        for (const lane of LANES) this.set({ lane }, queue()?.depth(lane) ?? 0);
      },
    });
    const storage = () => this.#storage?.() ?? {};
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

  attach(dialect: string, queue: QueueState, storage: () => DialectStats): void {
    this.#dialect = dialect;
    this.#queue = queue;
    this.#storage = storage;
  }

  batchCommitted(size: number, commitMs: number): void {
    this.counters.batches++;
    this.counters.batchRows += size;
    this.commitLatency.record(commitMs);
    this.#batchSize.observe(size);
    this.#commitSeconds.observe(commitMs / 1000);
  }

  lockWaited(ms: number): void {
    this.lockWait.record(ms);
    this.#lockWaitSeconds.observe(ms / 1000);
  }

  failed(code: string): void {
    this.counters.opsFailed++;
    this.counters.failuresByCode[code] = (this.counters.failuresByCode[code] ?? 0) + 1;
  }

  stats(): SluiceStats {
    const c = this.counters;
    const queue = this.#queue;
    return {
      dialect: this.#dialect,
      ops: { ok: c.opsOk, failed: c.opsFailed, failuresByCode: { ...c.failuresByCode }, enqueueFailures: c.enqueueFailures },
      batches: {
        count: c.batches,
        meanSize: c.batches === 0 ? 0 : Math.round((c.batchRows / c.batches) * 10) / 10,
        sizeLimit: queue?.batchLimit() ?? 0,
      },
      ackMs: this.ackLatency.summary(),
      commitMs: this.commitLatency.summary(),
      lockWaitMs: this.lockWait.summary(),
      busy: { retries: c.busyRetries, surfaced: c.busySurfaced },
      overloaded: c.overloaded,
      queue: {
        high: queue?.depth('high') ?? 0,
        normal: queue?.depth('normal') ?? 0,
        low: queue?.depth('low') ?? 0,
        total: queue?.depth() ?? 0,
      },
      storage: this.#storage?.() ?? {},
    };
  }
}
