import { type Kysely, sql } from 'kysely';
import { compileDdl } from '../../query/lifecycle-sql.js';
import type { TableDef } from '../../schema/define-table.js';
import { CHANGE_CHANNEL } from './postgres-change-listener.js';

/**
 * A statement-level trigger that NOTIFYs which table a statement changed, for every writer:
 * workers of other processes and instances wake on a foreign insert (psql, a Python service)
 * instead of at their next poll. One notification per statement, folded by PostgreSQL within a
 * transaction, so a batch of 1,000 inserts costs one.
 */
export function postgresNotifyDdl(builder: Kysely<any>, table: TableDef): string[] {
  const t = sql.id(table.name);
  const fn = sql.id(`${table.name}_sluice_notify`);
  const statements = [
    sql`create or replace function ${fn}() returns trigger language plpgsql as $sluice$
      begin
        perform pg_notify(${sql.lit(CHANGE_CHANNEL)}, pg_backend_pid()::text || ' ' || tg_table_schema || '.' || tg_table_name);
        return null;
      end $sluice$`,
    sql`drop trigger if exists ${fn} on ${t}`,
    sql`create trigger ${fn} after insert or update or delete on ${t} for each statement execute function ${fn}()`,
  ];
  return statements.map((statement) => compileDdl(builder, statement));
}
