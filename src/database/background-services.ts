import { alertHistoryTable } from '../alerts/alert-history-table.js';
import { checkAlertRules } from '../alerts/alert-rules.js';
import { Alerts } from '../alerts/alerts.js';
import type { Table } from '../api/table.js';
import type { Dialect } from '../dialect/dialect.js';
import { Maintenance } from '../maintenance/maintenance.js';
import type { AnyTableDef } from '../schema/define-table.js';
import { SyncShipper } from '../sync/sync-shipper.js';
import { syncNodeTable, syncOutboxTable } from '../sync/sync-tables.js';
import type { ResolvedOptions } from './open-options.js';
import { LOG_FOLD_MS, type WriteCore } from './write-core.js';

/** The database's own table lookup: these services read and write through its public handles. */
export type TableLookup = <T extends AnyTableDef>(definition: T) => Table<T>;

/** The sync shipper, started, when open() was given a target and some table declares `sync`. */
export function startSync(options: ResolvedOptions, dialect: Dialect, core: WriteCore, table: TableLookup): SyncShipper | undefined {
  const sync = options.sync;
  if (sync?.target === undefined || !options.tables.some((t) => t.sync !== undefined)) return undefined;
  const shipper = new SyncShipper({
    options: { ...sync, target: sync.target },
    tables: options.tables,
    dialect,
    gate: core.gate,
    outbox: table(syncOutboxTable),
    node: table(syncNodeTable),
    registry: core.metrics.registry,
    onError: core.onError,
    log: { to: core.log, foldMs: LOG_FOLD_MS, values: options.logParams },
    notify: options.onError,
  });
  core.gate.addExtraWrites(shipper.capture);
  // Every write to a synced table, by any path (enqueue too), waits or is dropped past sync.maxPending.
  core.gate.setAdmission(shipper.admission);
  shipper.start();
  return shipper;
}

/** Retention and the lease reaper, started; they reach the tables lazily, on each pass. */
export function startMaintenance(options: ResolvedOptions, core: WriteCore, table: TableLookup): Maintenance {
  const maintenance = new Maintenance(
    () => options.tables.map((definition) => table(definition)),
    options.maintenance,
    core.metrics.registry,
    core.onError,
    core.log.logger,
  );
  maintenance.start();
  return maintenance;
}

/** The alert rules passed to open(), checked against the tables and started; none when there are none. */
export function startAlerts(options: ResolvedOptions, core: WriteCore, table: TableLookup): Alerts | undefined {
  if (options.alerts.length === 0) return undefined;
  const alerts = new Alerts({
    rules: checkAlertRules(options.alerts, options.tables),
    registry: core.metrics.registry,
    table: (definition) => table(definition),
    history: table(alertHistoryTable),
    intervalMs: options.alertIntervalMs,
    webhook: options.alertWebhook,
    onError: core.onError,
  });
  alerts.start();
  return alerts;
}
