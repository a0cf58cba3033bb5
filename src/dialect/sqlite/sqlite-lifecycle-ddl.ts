import { type Kysely, sql } from 'kysely';
import { allowedMoves, attemptMessage, compileDdl, illegalMessage, lifecycleNames, stateList } from '../../query/lifecycle-sql.js';
import type { TableDef } from '../../schema/define-table.js';
import type { Lifecycle } from '../../schema/lifecycle-policy.js';

/**
 * Triggers that hold every writer to the lifecycle, including foreign ones (a Python script, a
 * C++ ingester) that never pass through Sluice. Dropped and created again on each migrate, so a
 * changed transition table takes effect.
 */
export function sqliteLifecycleDdl(builder: Kysely<any>, table: TableDef, lifecycle: Lifecycle): string[] {
  const names = lifecycleNames(table, lifecycle);
  const t = sql.id(table.name);
  const col = sql.id(lifecycle.column.sqlName);
  const message = sql.lit(illegalMessage(table, lifecycle));
  const newState = sql`new.${col}`;
  const oldState = sql`old.${col}`;
  const statements = [
    sql`drop trigger if exists ${sql.id(names.guardInsert)}`,
    sql`create trigger ${sql.id(names.guardInsert)} before insert on ${t} for each row
      when ${newState} not in ${stateList(lifecycle)}
      begin select raise(abort, ${message}); end`,
    sql`drop trigger if exists ${sql.id(names.guardUpdate)}`,
    sql`create trigger ${sql.id(names.guardUpdate)} before update of ${col} on ${t} for each row
      when ${newState} is not ${oldState} and not ${allowedMoves(lifecycle, oldState, newState)}
      begin select raise(abort, ${message}); end`,
    sql`drop trigger if exists ${sql.id(names.attemptGuard)}`,
  ];
  if (lifecycle.leases) {
    statements.push(
      sql`create trigger ${sql.id(names.attemptGuard)} before update of attempt on ${t} for each row
        when new.attempt < old.attempt
        begin select raise(abort, ${sql.lit(attemptMessage(table))}); end`,
    );
  }
  if (lifecycle.history) {
    const key =
      table.primaryKey.length === 1
        ? sql`cast(new.${sql.id((table.primaryKey[0] as { sqlName: string }).sqlName)} as text)`
        : sql`json_array(${sql.join(table.primaryKey.map((c) => sql`new.${sql.id(c.sqlName)}`))})`;
    const actor = table.columnsByName.has('leaseOwner') ? sql`new.lease_owner` : sql`null`;
    // julianday rather than unixepoch('subsec') (3.42+): foreign writers may link an older SQLite.
    const now = sql`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
    const h = sql.id(names.history);
    statements.push(
      sql`create table if not exists ${h} (id integer primary key, row_key text not null, from_state text, to_state text not null, at integer not null, actor text) strict`,
      sql`create index if not exists ${sql.id(`${names.history}_row_key_idx`)} on ${h} (row_key, id)`,
      sql`drop trigger if exists ${sql.id(names.recordInsert)}`,
      sql`create trigger ${sql.id(names.recordInsert)} after insert on ${t} for each row
        begin insert into ${h} (row_key, from_state, to_state, at, actor) values (${key}, null, ${newState}, ${now}, ${actor}); end`,
      sql`drop trigger if exists ${sql.id(names.recordUpdate)}`,
      sql`create trigger ${sql.id(names.recordUpdate)} after update of ${col} on ${t} for each row when ${newState} is not ${oldState}
        begin insert into ${h} (row_key, from_state, to_state, at, actor) values (${key}, ${oldState}, ${newState}, ${now}, ${actor}); end`,
    );
  }
  return statements.map((s) => compileDdl(builder, s));
}
