import type { InsertQueryBuilder } from 'kysely';
import type { ColumnDef, TableDef } from '../schema/define-table.js';
import { leaseStateColumns } from '../schema/lease-columns.js';

export type AnyInsert = InsertQueryBuilder<any, any, any>;

/**
 * What an upsert does when the row's key exists: overwrite `update` (column definitions, in table
 * order) from the incoming row. The one place the upsert SQL is written; a PostgreSQL-compatible
 * engine with another syntax (openGauss documents `INSERT … ON DUPLICATE KEY UPDATE`, key columns
 * not updatable) passes its own function of this type to the PostgreSQL dialect.
 */
export type UpsertClause = (insert: AnyInsert, table: TableDef, update: readonly ColumnDef[]) => AnyInsert;

/**
 * The columns a caller's upsert overwrites on an existing row: every column but the key and the
 * lease state, which belongs to the claim that holds the row (a rescan must not rewind its token).
 */
export function upsertUpdateColumns(table: TableDef): readonly ColumnDef[] {
  const kept: ColumnDef[] = [...leaseStateColumns(table)];
  // A row's creation time belongs to the row, not to the upsert that replaces its values.
  if (table.timestamps) kept.push(table.timestamps.createdAt);
  return table.columns.filter((c) => !table.primaryKey.includes(c) && !kept.includes(c));
}

/**
 * True when an upsert of an existing row leaves some of its columns as they were (its lease), so
 * the row it stores is not the row it was given and must be read back (RETURNING).
 */
export function upsertKeepsColumns(table: TableDef): boolean {
  return upsertUpdateColumns(table).length < table.columns.length - table.primaryKey.length;
}

/** `ON CONFLICT (key) DO UPDATE SET col = excluded.col`, which SQLite and PostgreSQL both accept. */
export const onConflictDoUpdate: UpsertClause = (insert, table, update) => {
  const keys = table.primaryKey.map((c) => c.sqlName);
  return insert.onConflict((oc) =>
    update.length === 0
      ? oc.columns(keys).doNothing()
      : oc.columns(keys).doUpdateSet(Object.fromEntries(update.map((c) => [c.sqlName, (eb: any) => eb.ref(`excluded.${c.sqlName}`)]))),
  );
};
