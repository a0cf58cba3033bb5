import { SluiceError } from '../core/sluice-error.js';
import { addColumnSql, createIndexesSql, createTableSql, type DdlFlavor } from '../query/ddl-builder.js';
import { rollupOf } from '../schema/define-rollup.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { Migration } from '../schema/migration.js';
import type { MigrationReport } from './dialect.js';

export const MIGRATIONS_TABLE = '_sluice_migrations';

/** The migration transaction as a dialect offers it: the lock is held until the callback ends. */
export interface MigrationSession {
  exec(sql: string): Promise<void>;
  /** The highest recorded schema version, 0 for a new database. */
  version(): Promise<number>;
  record(version: number, description: string): Promise<void>;
  /** Column names of a table as the database has them, or undefined when it does not exist. */
  columns(table: string): Promise<Set<string> | undefined>;
}

export function newerDatabaseError(found: number, code: number): SluiceError {
  return new SluiceError(
    'CONFIG',
    `The database schema is at version ${found}, newer than this code's version ${code}: it was migrated by a newer release. Run that release (or newer) against it; this one refuses, so as not to write rows the newer schema does not expect.`,
    { value: found },
  );
}

/**
 * Brings a database up to the code's schema: numbered migrations first, then the additive diff
 * from the table definitions (new tables, columns and indexes). The dialect runs it under a lock
 * that serialises processes, so two processes migrating at once apply each change once.
 */
export async function runMigrations(
  session: MigrationSession,
  flavor: DdlFlavor,
  tables: readonly AnyTableDef[],
  codeVersion: number,
  migrations: readonly Migration[],
): Promise<MigrationReport> {
  const fromVersion = await session.version();
  if (fromVersion > codeVersion) throw newerDatabaseError(fromVersion, codeVersion);
  const applied: string[] = [];
  const pending = [...migrations].filter((m) => m.version > fromVersion && m.version <= codeVersion).sort((a, b) => a.version - b.version);
  for (const table of tables) {
    const existing = await session.columns(table.name);
    if (!existing) {
      for (const statement of createTableSql(flavor, table)) await session.exec(statement);
      applied.push(`create table ${table.name}`);
    } else {
      for (const column of table.columns) {
        if (existing.has(column.sqlName)) continue;
        await session.exec(addColumnSql(flavor, table, column));
        applied.push(`add column ${table.name}.${column.sqlName}`);
      }
      for (const statement of createIndexesSql(flavor, table)) await session.exec(statement);
    }
    if (table.lifecycle) {
      for (const statement of flavor.lifecycleDdl(table, table.lifecycle)) await session.exec(statement);
    }
    // Lifecycle tables (workers wake) and cached tables (caches drop changed rows); none elsewhere.
    for (const statement of flavor.changeNotifyDdl(table)) await session.exec(statement);
    if (table.timestamps) for (const statement of flavor.timestampsDdl(table)) await session.exec(statement);
  }
  // Rollup triggers last: they name both the source and the rollup table, which now both exist.
  for (const table of tables) {
    const policy = rollupOf(table);
    if (policy) for (const statement of flavor.rollupDdl(table, policy)) await session.exec(statement);
  }
  for (const migration of pending) {
    for (const statement of flavor.migrationSql(migration)) await session.exec(statement);
    await session.record(migration.version, migration.description);
    applied.push(`migration ${migration.version}: ${migration.description}`);
  }
  if (codeVersion > fromVersion && !pending.some((m) => m.version === codeVersion)) {
    await session.record(codeVersion, 'schema from table definitions');
  }
  return { fromVersion, toVersion: Math.max(fromVersion, codeVersion), applied };
}
