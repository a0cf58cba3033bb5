import { type Kysely, type RawBuilder, sql } from 'kysely';
import { compileDdl } from '../../query/lifecycle-sql.js';
import type { TableDef } from '../../schema/define-table.js';
import { CHANGE_CHANNEL } from './postgres-change-listener.js';

/**
 * Keys carried in one notification at most; a statement that changed more sends the table's name
 * alone, and listeners drop everything they hold of that table. Keeps the payload far below
 * NOTIFY's 8,000-byte limit for any key that fits the types below.
 */
export const MAX_NOTIFIED_KEYS = 64;

/**
 * Triggers that NOTIFY which table a statement changed, for every writer: workers of other
 * processes and instances wake on a foreign insert (psql, a Python service) instead of at their
 * next poll. One notification per statement, folded by PostgreSQL within a transaction, so a
 * batch of 1,000 inserts costs one.
 *
 * A table with a cache policy also says which rows: statement-level triggers with transition
 * tables (one per event, as PostgreSQL requires) send up to MAX_NOTIFIED_KEYS keys as a JSON array
 * of key arrays, so every instance's L1 and L2 drop just those rows, whoever wrote them. Only keys
 * of integer and text columns, whose JSON is the cache's own key encoding; a table keyed otherwise
 * is named alone. The payload: `<backend pid> <schema>.<table>[ <json keys>]`.
 */
export function postgresNotifyDdl(builder: Kysely<any>, table: TableDef): string[] {
  if (!table.lifecycle && !table.cache) return [];
  const t = sql.id(table.name);
  const fn = sql.id(`${table.name}_sluice_notify`);
  const head = sql`pg_backend_pid()::text || ' ' || tg_table_schema || '.' || tg_table_name`;
  const keyed = table.cache !== undefined && table.primaryKey.every((c) => c.type === 'integer' || c.type === 'text');
  const statements: RawBuilder<unknown>[] = [];
  // Earlier versions made one statement-level trigger under this name: replaced either way.
  statements.push(sql`drop trigger if exists ${fn} on ${t}`);
  for (const event of ['insert', 'update', 'delete'] as const)
    statements.push(sql`drop trigger if exists ${sql.id(triggerName(table, event))} on ${t}`);
  if (!keyed) {
    statements.push(
      sql`create or replace function ${fn}() returns trigger language plpgsql as $sluice$
        begin
          perform pg_notify(${sql.lit(CHANGE_CHANNEL)}, ${head});
          return null;
        end $sluice$`,
      sql`create trigger ${fn} after insert or update or delete on ${t} for each statement execute function ${fn}()`,
    );
    return statements.map((statement) => compileDdl(builder, statement));
  }
  const key = sql.join(table.primaryKey.map((c) => sql.ref(`r.${c.sqlName}`)));
  // tg_op picks the transition table that exists for this trigger (referencing one undeclared fails at run time).
  statements.push(sql`create or replace function ${fn}() returns trigger language plpgsql as $sluice$
      declare
        keys json;
        n int;
      begin
        if tg_op = 'DELETE' then
          select json_agg(json_build_array(${key})), count(*) into keys, n from (select * from sluice_old limit ${sql.lit(MAX_NOTIFIED_KEYS + 1)}) r;
        elsif tg_op = 'UPDATE' then
          -- A key may itself have changed: both the old and the new key go.
          select json_agg(json_build_array(${key})), count(*) into keys, n from (
            (select * from sluice_old limit ${sql.lit(MAX_NOTIFIED_KEYS + 1)}) union all (select * from sluice_new limit ${sql.lit(MAX_NOTIFIED_KEYS + 1)})) r;
        else
          select json_agg(json_build_array(${key})), count(*) into keys, n from (select * from sluice_new limit ${sql.lit(MAX_NOTIFIED_KEYS + 1)}) r;
        end if;
        if n = 0 then return null; end if;
        perform pg_notify(${sql.lit(CHANGE_CHANNEL)}, ${head} || case when n <= ${sql.lit(MAX_NOTIFIED_KEYS)} then ' ' || keys::text else '' end);
        return null;
      end $sluice$`);
  statements.push(
    sql`create trigger ${sql.id(triggerName(table, 'insert'))} after insert on ${t} referencing new table as sluice_new for each statement execute function ${fn}()`,
    sql`create trigger ${sql.id(triggerName(table, 'update'))} after update on ${t} referencing old table as sluice_old new table as sluice_new for each statement execute function ${fn}()`,
    sql`create trigger ${sql.id(triggerName(table, 'delete'))} after delete on ${t} referencing old table as sluice_old for each statement execute function ${fn}()`,
  );
  return statements.map((statement) => compileDdl(builder, statement));
}

function triggerName(table: TableDef, event: 'insert' | 'update' | 'delete'): string {
  return `${table.name}_sluice_notify_${event}`.slice(0, 63);
}
