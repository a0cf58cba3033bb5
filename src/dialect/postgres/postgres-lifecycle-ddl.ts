import { type Kysely, sql } from 'kysely';
import { allowedMoves, attemptMessage, compileDdl, illegalMessage, lifecycleNames, stateList } from '../../query/lifecycle-sql.js';
import type { TableDef } from '../../schema/define-table.js';
import type { Lifecycle } from '../../schema/lifecycle-policy.js';

/**
 * A trigger function that holds every client to the lifecycle (foreign writers included) and,
 * when asked, appends each state change to the history table. It raises check_violation (23514),
 * which Sluice reports as CONSTRAINT. Replaced on each migrate, so a changed transition table
 * takes effect.
 */
export function postgresLifecycleDdl(builder: Kysely<any>, table: TableDef, lifecycle: Lifecycle): string[] {
  const names = lifecycleNames(table, lifecycle);
  const t = sql.id(table.name);
  const col = sql.id(lifecycle.column.sqlName);
  const message = sql.lit(illegalMessage(table, lifecycle));
  const newState = sql`new.${col}`;
  const oldState = sql`old.${col}`;
  const h = sql.id(names.history);
  const key =
    table.primaryKey.length === 1
      ? sql`new.${sql.id((table.primaryKey[0] as { sqlName: string }).sqlName)}::text`
      : sql`json_build_array(${sql.join(table.primaryKey.map((c) => sql`new.${sql.id(c.sqlName)}`))})::text`;
  const actor = table.columnsByName.has('leaseOwner') ? sql`new.lease_owner` : sql`null`;
  const now = sql`(extract(epoch from clock_timestamp()) * 1000)::bigint`;
  const record = (from: ReturnType<typeof sql>) =>
    lifecycle.history
      ? sql`insert into ${h} (row_key, from_state, to_state, at, actor) values (${key}, ${from}, ${newState}, ${now}, ${actor});`
      : sql``;
  const historyFunction = `${names.function}_history`;
  const statements = [];
  if (lifecycle.history) {
    statements.push(
      sql`create table if not exists ${h} (id bigint generated always as identity primary key, row_key text not null, from_state text, to_state text not null, at bigint not null, actor text)`,
      sql`create index if not exists ${sql.id(`${names.history}_row_key_idx`)} on ${h} (row_key, id)`,
    );
  }
  statements.push(
    sql`create or replace function ${sql.id(names.function)}() returns trigger language plpgsql as $sluice$
      begin
        if tg_op = 'INSERT' then
          if ${newState} not in ${stateList(lifecycle)} then
            raise exception using errcode = '23514', message = ${message};
          end if;
        elsif ${newState} is distinct from ${oldState} then
          if not ${allowedMoves(lifecycle, oldState, newState)} then
            raise exception using errcode = '23514', message = ${message};
          end if;
        end if;
        return new;
      end $sluice$`,
    sql`drop trigger if exists ${sql.id(names.guardUpdate)} on ${t}`,
    sql`create trigger ${sql.id(names.guardUpdate)} before insert or update of ${col} on ${t} for each row execute function ${sql.id(names.function)}()`,
    sql`drop trigger if exists ${sql.id(names.attemptGuard)} on ${t}`,
    sql`drop trigger if exists ${sql.id(names.recordUpdate)} on ${t}`,
  );
  if (lifecycle.history) {
    // Recorded AFTER the row is written: an upsert that finds its row fires BEFORE INSERT
    // triggers too, and recording there wrote a `null -> state` entry for a row that existed.
    statements.push(
      sql`create or replace function ${sql.id(historyFunction)}() returns trigger language plpgsql as $sluice$
        begin
          if tg_op = 'INSERT' then
            ${record(sql`null`)}
          elsif ${newState} is distinct from ${oldState} then
            ${record(oldState)}
          end if;
          return null;
        end $sluice$`,
      sql`create trigger ${sql.id(names.recordUpdate)} after insert or update of ${col} on ${t} for each row execute function ${sql.id(historyFunction)}()`,
    );
  } else {
    statements.push(sql`drop function if exists ${sql.id(historyFunction)}()`);
  }
  if (lifecycle.leases) {
    statements.push(
      sql`create or replace function ${sql.id(names.attemptGuard)}() returns trigger language plpgsql as $sluice$
        begin
          raise exception using errcode = '23514', message = ${sql.lit(attemptMessage(table))},
            detail = format('attempt %s -> %s', old.attempt, new.attempt);
        end $sluice$`,
      sql`create trigger ${sql.id(names.attemptGuard)} before update of attempt on ${t} for each row
        when (new.attempt < old.attempt) execute function ${sql.id(names.attemptGuard)}()`,
    );
  } else {
    statements.push(sql`drop function if exists ${sql.id(names.attemptGuard)}()`);
  }
  return statements.map((s) => compileDdl(builder, s));
}
