import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { WriteCommand } from '../dialect/write-op.js';
import type { ColumnDef, TableDef } from '../schema/define-table.js';
import { leaseStateColumns } from '../schema/lease-columns.js';

/**
 * What a caller's own write (insert, upsert, update, enqueue) may not do to a table with a
 * lifecycle, checked before it is queued. The lifecycle's moves build their commands themselves
 * and never pass here, which is what lets them, and only them, write the lease.
 */
export function checkCallerWrite(table: TableDef, command: WriteCommand): void {
  const lifecycle = table.lifecycle;
  if (!lifecycle) return;
  const lease = leaseStateColumns(table);
  switch (command.kind) {
    case 'insert':
    case 'upsert':
      for (const column of lease) {
        const value = command.row[column.name];
        // The default is what every new row starts with; an upsert of an existing row keeps the lease it has.
        if (value !== (column.makeDefault?.() ?? null)) throw leaseWrite(table, column, value, command.kind);
      }
      requireState(table, lifecycle.column, command.row[lifecycle.column.name]);
      return;
    case 'update':
    case 'updateMany':
      command.patch.columns.forEach((column, i) => {
        const value = command.patch.params[i];
        if (lease.includes(column)) throw leaseWrite(table, column, value, 'update');
        if (column === lifecycle.column) requireState(table, column, value);
      });
      return;
    default:
      return;
  }
}

/** Refuses lease columns in the `set` of a transition: the move itself decides what happens to the lease. */
export function refuseLeaseInPatch(table: TableDef, patch: Record<string, unknown>, what: string): void {
  for (const column of leaseStateColumns(table)) {
    if (patch[column.name] !== undefined) throw leaseWrite(table, column, patch[column.name], what);
  }
}

function leaseWrite(table: TableDef, column: ColumnDef, value: unknown, what: string): SluiceError {
  const allowed = what === 'insert' || what === 'upsert' ? ` (a new row starts with ${describeValue(column.makeDefault?.() ?? null)})` : '';
  return new SluiceError(
    'VALIDATION',
    `${table.name}.${column.name} belongs to the lease of a claim (attempt is its fencing token), so ${what} may not set it${allowed}; got ${describeValue(value)}. Leave it out: claim(), renew(), transition() with a token and the reaper maintain it.`,
    { table: table.name, column: column.name, value },
  );
}

function requireState(table: TableDef, column: ColumnDef, value: unknown): void {
  const lifecycle = table.lifecycle;
  if (!lifecycle || (typeof value === 'string' && lifecycle.next.has(value))) return;
  throw new SluiceError(
    'VALIDATION',
    `${table.name}.${column.name} holds the lifecycle's state and must be one of ${lifecycle.states.join(', ')}; got ${describeValue(value)}.`,
    { table: table.name, column: column.name, value },
  );
}
