import { Counter, Histogram, type Registry } from 'prom-client';
import type { Table } from '../api/table.js';
import type { SluiceLogger } from '../core/logger.js';
import type { AnyTableDef } from '../schema/define-table.js';

export interface MaintenanceOptions {
  /** How often retention runs; 0 turns the timer off (db.runRetention() still works). */
  readonly retentionIntervalMs: number;
  /** How often expired leases are handed back; 0 turns the timer off. */
  readonly reapIntervalMs: number;
  /** Rows deleted per retention transaction. */
  readonly retentionBatchSize: number;
}

export interface RetentionReport {
  readonly table: string;
  readonly deleted: number;
  readonly ms: number;
}

/**
 * The background jobs of one Database: retention (delete old rows, a small batch per
 * transaction so no write lock is held for long) and the lease reaper. Both run through the
 * write gate at low priority, so they never delay application writes.
 */
export class Maintenance {
  readonly #handles: () => Table<AnyTableDef>[];
  readonly #options: MaintenanceOptions;
  readonly #onError: (error: unknown) => void;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #deleted: Counter<'table'>;
  readonly #duration: Histogram<'table'>;
  readonly #reaped: Counter<'table' | 'to'>;
  readonly #running = new Map<string, Promise<unknown>>();

  readonly #logger: SluiceLogger | undefined;

  constructor(
    handles: () => Table<AnyTableDef>[],
    options: MaintenanceOptions,
    registry: Registry,
    onError: (error: unknown) => void,
    logger?: SluiceLogger,
  ) {
    this.#logger = logger;
    this.#handles = handles;
    this.#options = options;
    this.#onError = onError;
    this.#deleted = new Counter({
      name: 'sluice_retention_deleted_total',
      help: 'Rows deleted by retention.',
      labelNames: ['table'],
      registers: [registry],
    });
    this.#duration = new Histogram({
      name: 'sluice_retention_seconds',
      help: 'Time one retention pass over a table took.',
      labelNames: ['table'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    });
    this.#reaped = new Counter({
      name: 'sluice_leases_reaped_total',
      help: 'Expired leases handed back by the reaper.',
      labelNames: ['table', 'to'],
      registers: [registry],
    });
  }

  start(): void {
    const every = (ms: number, job: string, fn: () => Promise<unknown>) => {
      if (ms <= 0) return;
      const timer = setInterval(() => {
        if (this.#running.has(job)) return;
        this.#running.set(
          job,
          fn()
            .catch(this.#onError)
            .finally(() => this.#running.delete(job)),
        );
      }, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    if (this.#handles().some((h) => h.table.retention)) every(this.#options.retentionIntervalMs, 'retention', () => this.runRetention());
    if (this.#handles().some((h) => h.table.lifecycle?.leases)) every(this.#options.reapIntervalMs, 'reap', () => this.reapLeases());
  }

  async runRetention(): Promise<RetentionReport[]> {
    const reports: RetentionReport[] = [];
    for (const handle of this.#handles()) {
      const retention = handle.table.retention;
      if (!retention) continue;
      const started = performance.now();
      const deleted = await handle.deleteWhere({ [retention.column.name]: { $lt: new Date(Date.now() - retention.maxAgeMs) } } as never, {
        batchSize: this.#options.retentionBatchSize,
        priority: 'low',
      });
      const ms = performance.now() - started;
      this.#deleted.inc({ table: handle.table.name }, deleted);
      this.#duration.observe({ table: handle.table.name }, ms / 1000);
      reports.push({ table: handle.table.name, deleted, ms: Math.round(ms * 10) / 10 });
      if (deleted > 0) {
        this.#logger?.info(
          { event: 'retention', table: handle.table.name, deleted, ms: Math.round(ms) },
          `retention deleted ${deleted} rows of ${handle.table.name} older than ${Math.round(retention.maxAgeMs / 1000)} s`,
        );
      }
    }
    return reports;
  }

  async reapLeases(): Promise<{ table: string; returned: number; exhausted: number }[]> {
    const reports = [];
    for (const handle of this.#handles()) {
      const leases = handle.table.lifecycle?.leases;
      if (!leases) continue;
      const result = await handle.reapExpired();
      if (result.returned > 0) this.#reaped.inc({ table: handle.table.name, to: leases.expireTo }, result.returned);
      if (result.exhausted > 0) this.#reaped.inc({ table: handle.table.name, to: leases.exhaustedTo ?? '' }, result.exhausted);
      reports.push({ table: handle.table.name, ...result });
      if (result.returned + result.exhausted > 0) {
        this.#logger?.info(
          { event: 'reap', table: handle.table.name, returned: result.returned, exhausted: result.exhausted },
          `the reaper handed back ${result.returned} expired leases of ${handle.table.name} (${result.exhausted} past maxAttempts)`,
        );
      }
    }
    return reports;
  }

  /** Stops the timers and waits for a pass already under way, so close() does not cut one in half. */
  async stop(): Promise<void> {
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    await Promise.all(this.#running.values());
  }
}
