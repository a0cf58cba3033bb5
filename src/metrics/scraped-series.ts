import { Counter, Gauge, type Registry } from 'prom-client';
import { scrapedCounter } from '../core/scraped-counter.js';
import type { Dialect } from '../dialect/dialect.js';
import { LANES } from '../gate/lanes.js';
import type { WriteGate } from '../gate/write-gate.js';

/**
 * The gate's series, read from its plain counters when scraped: the write path keeps counting
 * in plain numbers and never touches a prom-client object.
 */
export function registerGateSeries(registry: Registry, gate: WriteGate): void {
  const counters = gate.counters;
  const counter = (name: string, help: string, read: () => number) => scrapedCounter(registry, name, help, read);
  counter('sluice_write_ops_ok_total', 'Writes committed.', () => counters.opsOk);
  new Counter({
    name: 'sluice_write_ops_failed_total',
    help: 'Writes rejected, by error code.',
    labelNames: ['code'],
    registers: [registry],
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
    registers: [registry],
    collect() {
      for (const lane of LANES) this.set({ lane }, gate.depth(lane));
    },
  });
}

/** The dialect's storage series (the WAL, its watchdog, read replicas), read from its stats when scraped. */
export function registerStorageSeries(registry: Registry, dialect: Pick<Dialect, 'stats'>): void {
  const storage = () => dialect.stats();
  new Gauge({
    name: 'sluice_wal_bytes',
    help: 'Size of the SQLite write-ahead log.',
    registers: [registry],
    collect() {
      this.set(storage().walBytes ?? 0);
    },
  });
  new Gauge({
    name: 'sluice_checkpoints',
    help: 'TRUNCATE checkpoints run by the watchdog.',
    registers: [registry],
    collect() {
      this.set(storage().checkpoints ?? 0);
    },
  });
  registerReplicaSeries(registry, storage);
}

/** Read replicas (PostgreSQL `postgres.replicas`): absent keys read as 0 on a database without them. */
function registerReplicaSeries(registry: Registry, storage: Dialect['stats']): void {
  const num = (key: string) => Number(storage()[key] ?? 0);
  new Counter({
    name: 'sluice_reads_total',
    help: 'Reads routed with read replicas configured, by target: "replica" or "primary".',
    labelNames: ['target'],
    registers: [registry],
    collect() {
      this.reset();
      if (storage().readsPrimary === undefined) return;
      this.inc({ target: 'primary' }, num('readsPrimary'));
      this.inc({ target: 'replica' }, num('readsReplica'));
    },
  });
  new Counter({
    name: 'sluice_replica_fallbacks_total',
    help: 'Reads sent to the primary instead of a replica, by reason: down, lagging (past maxReplicaLagMs), behind (not yet at our last commit), failed.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      if (storage().readsPrimary === undefined) return;
      for (const reason of ['Down', 'Lagging', 'Behind', 'Failed'])
        this.inc({ reason: reason.toLowerCase() }, num(`replicaFallbacks${reason}`));
    },
  });
  new Gauge({
    name: 'sluice_replica_lag_seconds',
    help: 'The largest replay lag among the read replicas that are up, in seconds (Prometheus base units).',
    registers: [registry],
    collect() {
      this.set(num('replicaLagMs') / 1000);
    },
  });
}
