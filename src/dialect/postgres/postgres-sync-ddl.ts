import type pg from 'pg';
import { addColumnSql, createTableSql } from '../../query/ddl-builder.js';
import type { AnyTableDef } from '../../schema/define-table.js';
import { offsetChangesSql, offsetInitSql, offsetLineageSql, offsetTableSql, type UpsertFlavor } from './opengauss-upsert.js';
import { postgresAdapter } from './postgres-adapter.js';
import { rollback } from './postgres-sync-errors.js';
import { quoteIdentifier } from './postgres-types.js';

/**
 * Creates what shipping needs on the target, in one transaction: the schema, the offsets table
 * (and its lineage column where an older version made it without), the synced tables or their
 * missing columns, and this node's offset row.
 */
export async function prepareTarget(
  client: pg.Client,
  options: {
    readonly schema: string | undefined;
    readonly flavor: UpsertFlavor;
    readonly nodeId: string;
    readonly tables: readonly AnyTableDef[];
  },
  offsetsTable: string,
): Promise<void> {
  const schema = options.schema;
  await client.query('begin');
  try {
    // Several edge nodes may create the same tables at once; the lock makes them take turns.
    await client.query("select pg_advisory_xact_lock(hashtext('sluice.sync.ddl'))");
    if (schema !== undefined) {
      await client.query(`create schema if not exists ${quoteIdentifier(schema)}`);
      await client.query(`set search_path to ${quoteIdentifier(schema)}`);
    }
    await client.query(offsetTableSql(offsetsTable));
    const offsetColumns = await columnsOf(client, offsetsTable);
    if (!offsetColumns.has('lineage')) await client.query(offsetLineageSql(offsetsTable));
    if (!offsetColumns.has('changes')) await client.query(offsetChangesSql(offsetsTable));
    const flavor = postgresAdapter().ddl;
    for (const def of options.tables) {
      const have = await columnsOf(client, def.name);
      if (have.size === 0) {
        for (const statement of createTableSql(flavor, def)) await client.query(statement);
      } else {
        for (const column of def.columns) if (!have.has(column.sqlName)) await client.query(addColumnSql(flavor, def, column));
      }
    }
    await client.query(offsetInitSql(options.flavor, offsetsTable), [options.nodeId]);
    await client.query('commit');
  } catch (error) {
    await rollback(client, error);
    throw error;
  }
}

async function columnsOf(client: pg.Client, table: string): Promise<Set<string>> {
  const { rows } = await client.query(
    'select column_name from information_schema.columns where table_schema = current_schema() and table_name = $1',
    [table],
  );
  return new Set(rows.map((r: { column_name: string }) => r.column_name));
}
