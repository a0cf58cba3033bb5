import { Counter, Histogram, Registry } from 'prom-client';
import type { LatencySummary } from '../core/latency-window.js';
import type { LogCoalescer } from '../core/logger.js';
import type { Dialect, DialectStats } from '../dialect/dialect.js';
import type { GateObserver } from '../gate/gate-counters.js';
import type { Lane } from '../gate/lanes.js';
import type { WriteGate } from '../gate/write-gate.js';
import { registerGateSeries, registerStorageSeries } from './scraped-series.js';
import { WriteLatencyHistogram } from './write-latency.js';

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
  /** Per table: writes settled by kind, compare-and-set misses and writes that met a lock (seed 000's conflict rate). */
  tables: Record<
    string,
    { writes: Record<string, { count: number; meanMs: number }>; conflicts: number; lockRetries: number; slow: number }
  >;
}

/** How the metrics layer reports what an operator should read: slow operations, lock waits, retries. */
export interface OperationsLog {
  readonly log: LogCoalescer;
  /** Writes acknowledged later than this, commits and lock waits longer, are logged and counted. */
  readonly slowMs: number;
}

/**
 * The metrics of one Database: its own registry, so two databases in a process never mix. It
 * reads the gate's plain counters when scraped, and observes commits and lock waits for its
 * histograms.
 */
export class SluiceMetrics implements GateObserver {
  readonly registry = new Registry();
  readonly #gate: WriteGate;
  readonly #dialect: Pick<Dialect, 'adapter' | 'stats'>;
  readonly #batchSize: Histogram;
  readonly #commitSeconds: Histogram;
  readonly #lockWaitSeconds: Histogram;
  readonly #writeSeconds: WriteLatencyHistogram;
  readonly #conflicts: Counter<'table' | 'reason'>;
  readonly #slow: Counter<'table' | 'kind'>;
  readonly #perTable = new Map<string, { conflicts: number; lockRetries: number; slow: number }>();
  readonly #ops: OperationsLog | undefined;

  constructor(gate: WriteGate, dialect: Pick<Dialect, 'adapter' | 'stats'>, ops?: OperationsLog) {
    this.#gate = gate;
    this.#dialect = dialect;
    this.#ops = ops;
    gate.counters.observer = this;
    registerGateSeries(this.registry, gate);
    registerStorageSeries(this.registry, dialect);
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
    this.#writeSeconds = new WriteLatencyHistogram(this.registry);
    this.#conflicts = new Counter({
      name: 'sluice_conflicts_total',
      help: 'Writes that met another writer, by table: reason "cas" (a compare-and-set that did not apply), "lock" (a batch retried for a lock held elsewhere).',
      labelNames: ['table', 'reason'],
      registers: [this.registry],
    });
    this.#slow = new Counter({
      name: 'sluice_slow_operations_total',
      help: 'Writes acknowledged and reads answered later than slowMs, by table and kind.',
      labelNames: ['table', 'kind'],
      registers: [this.registry],
    });
  }

  batchCommitted(size: number, commitMs: number): void {
    this.#batchSize.observe(size);
    this.#commitSeconds.observe(commitMs / 1000);
    const ops = this.#ops;
    if (ops && commitMs > ops.slowMs) {
      ops.log.log(
        'warn',
        'slow_commit',
        { event: 'slow_commit', ms: Math.round(commitMs), size },
        `a batch of ${size} writes took ${Math.round(commitMs)} ms from BEGIN to COMMIT (slowMs ${ops.slowMs})`,
      );
    }
  }

  lockWaited(ms: number): void {
    this.#lockWaitSeconds.observe(ms / 1000);
    const ops = this.#ops;
    if (ops && ms > ops.slowMs) {
      ops.log.log(
        'warn',
        'lock_wait',
        { event: 'lock_wait', ms: Math.round(ms) },
        `writes waited ${Math.round(ms)} ms for a lock held by another connection (slowMs ${ops.slowMs}); \`sluice doctor\` names lock holders`,
      );
    }
  }

  opSettled(table: string, kind: string, lane: string, code: string | undefined, ms: number): void {
    this.#writeSeconds.observe(table, kind, ms / 1000);
    if (code === 'CONFLICT') {
      this.#conflicts.inc({ table, reason: 'cas' });
      this.#tableCounts(table).conflicts++;
    }
    const ops = this.#ops;
    if (ops && ms > ops.slowMs) this.slowOperation(table, kind, lane, ms);
  }

  batchRetried(writesByTable: ReadonlyMap<string, number>, reason: 'busy' | 'unavailable'): void {
    for (const [table, writes] of writesByTable) {
      if (reason === 'busy') {
        this.#conflicts.inc({ table, reason: 'lock' }, writes);
        this.#tableCounts(table).lockRetries += writes;
      }
    }
    this.#ops?.log.log(
      'info',
      `retry_${reason}`,
      { event: reason === 'busy' ? 'busy_retry' : 'unavailable_retry', tables: [...writesByTable.keys()] },
      reason === 'busy'
        ? 'a batch met a lock held by another connection and was retried after a backoff'
        : 'a batch lost its connection and was retried',
    );
  }

  /** A write acknowledged or a read answered later than slowMs: counted, and logged once per table and kind per interval. */
  slowOperation(table: string, kind: string, lane: string | undefined, ms: number): void {
    this.#slow.inc({ table, kind });
    this.#tableCounts(table).slow++;
    const ops = this.#ops;
    if (!ops) return;
    const fields: Record<string, unknown> = { event: lane === undefined ? 'slow_read' : 'slow_write', table, kind, ms: Math.round(ms) };
    if (lane !== undefined) fields.lane = lane;
    ops.log.log('warn', `slow|${table}|${kind}`, fields, `${kind} on ${table} took ${Math.round(ms)} ms (slowMs ${ops.slowMs})`);
  }

  #tableCounts(table: string): { conflicts: number; lockRetries: number; slow: number } {
    let counts = this.#perTable.get(table);
    if (!counts) {
      counts = { conflicts: 0, lockRetries: 0, slow: 0 };
      this.#perTable.set(table, counts);
    }
    return counts;
  }

  stats(): SluiceStats {
    const c = this.#gate.counters;
    const gate = this.#gate;
    return {
      dialect: this.#dialect.adapter.name,
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
      tables: this.#tableStats(),
    };
  }

  #tableStats(): SluiceStats['tables'] {
    const writes = this.#writeSeconds.summary();
    const out: SluiceStats['tables'] = {};
    for (const table of new Set([...Object.keys(writes), ...this.#perTable.keys()])) {
      const counts = this.#perTable.get(table) ?? { conflicts: 0, lockRetries: 0, slow: 0 };
      out[table] = { writes: writes[table] ?? {}, ...counts };
    }
    return out;
  }
}
