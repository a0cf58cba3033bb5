import { type ColumnDefinitionBuilder, type Kysely, type RawBuilder, sql } from 'kysely';
import { SluiceError } from '../core/sluice-error.js';
import type { ColumnType } from '../schema/column-types.js';
import type { RollupPolicy } from '../schema/define-rollup.js';
import type { ColumnDef, TableDef } from '../schema/define-table.js';
import type { Lifecycle } from '../schema/lifecycle-policy.js';
import type { Migration } from '../schema/migration.js';
import type { ValueCodec } from '../schema/value-codec.js';

/** What a dialect says about its DDL; the statements themselves are built the same way for both. */
export interface DdlFlavor {
  readonly builder: Kysely<any>;
  readonly codec: ValueCodec;
  readonly columnType: Readonly<Record<ColumnType, string>>;
  /** A CHECK that keeps foreign writers to the column's type, where the storage type is looser. */
  check(column: ColumnDef): RawBuilder<unknown> | undefined;
  /** Appended to CREATE TABLE (SQLite: STRICT). */
  readonly tableSuffix?: RawBuilder<unknown>;
  /** A constant blob in DDL, from its hex digits (SQLite `x'…'`, PostgreSQL `'\x…'::bytea`). */
  blobLiteral(hex: string): RawBuilder<unknown>;
  /** Triggers (and a history table) that enforce a lifecycle on every writer; run on each migrate. */
  lifecycleDdl(table: TableDef, lifecycle: Lifecycle): string[];
  /** Triggers that keep `timestamps: true` columns for foreign writers; run on each migrate. */
  timestampsDdl(table: TableDef): string[];
  /** A trigger that tells other processes a lifecycle table changed (PostgreSQL NOTIFY); none where there is no such signal. */
  changeNotifyDdl(table: TableDef): string[];
  /** Triggers on a rollup's source that keep the rollup exact for every writer; run on each migrate. */
  rollupDdl(table: TableDef, policy: RollupPolicy): string[];
  /** The statements of a numbered migration meant for this database. */
  migrationSql(migration: Migration): readonly string[];
}

function defineColumn(flavor: DdlFlavor, column: ColumnDef, forAdd: boolean) {
  return (col: ColumnDefinitionBuilder) => {
    let c = col;
    if (!column.nullable) c = c.notNull();
    if (column.constantDefault !== undefined && column.constantDefault !== null) {
      const value = flavor.codec.encode[column.type](
        column.constantDefault instanceof Date || column.type !== 'timestamp'
          ? column.constantDefault
          : new Date(column.constantDefault as number),
      );
      c = c.defaultTo(Buffer.isBuffer(value) ? flavor.blobLiteral(value.toString('hex')) : sql.lit(value));
    } else if (forAdd && !column.nullable) {
      throw new SluiceError(
        'CONFIG',
        `Cannot add column ${column.name} to an existing table: it is NOT NULL without a constant default, so existing rows would have no value. Give it a constant default or make it nullable.`,
        { column: column.name },
      );
    }
    const check = flavor.check(column);
    if (check) c = c.check(check);
    return c;
  };
}

export function createTableSql(flavor: DdlFlavor, table: TableDef): string[] {
  let query = flavor.builder.schema.createTable(table.name).ifNotExists();
  for (const column of table.columns) {
    query = query.addColumn(column.sqlName, sql.raw(flavor.columnType[column.type]), defineColumn(flavor, column, false));
  }
  query = query.addPrimaryKeyConstraint(`${table.name}_pkey`, table.primaryKey.map((c) => c.sqlName) as never);
  table.unique.forEach((columns, i) => {
    query = query.addUniqueConstraint(`${table.name}_unique_${i}`, columns.map((c) => c.sqlName) as never);
  });
  if (flavor.tableSuffix) query = query.modifyEnd(flavor.tableSuffix);
  return [query.compile().sql, ...createIndexesSql(flavor, table)];
}

export function createIndexesSql(flavor: DdlFlavor, table: TableDef): string[] {
  return table.indexes.map(
    (columns) =>
      flavor.builder.schema
        .createIndex(`${table.name}_${columns.map((c) => c.sqlName).join('_')}_idx`)
        .ifNotExists()
        .on(table.name)
        .columns(columns.map((c) => c.sqlName))
        .compile().sql,
  );
}

export function addColumnSql(flavor: DdlFlavor, table: TableDef, column: ColumnDef): string {
  return flavor.builder.schema
    .alterTable(table.name)
    .addColumn(column.sqlName, sql.raw(flavor.columnType[column.type]), defineColumn(flavor, column, true))
    .compile().sql;
}
