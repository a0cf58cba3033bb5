import { type Kysely, sql } from 'kysely';
import { compileDdl } from '../../query/lifecycle-sql.js';
import type { TableDef } from '../../schema/define-table.js';

import { SQLITE_NOW_MS as NOW_MS } from './sqlite-now.js';

/**
 * Triggers that keep `created_at` / `updated_at` for writers that never pass through Sluice (a
 * Python script, the sqlite3 CLI). SQLite cannot change NEW in a BEFORE trigger, so the fills are
 * AFTER triggers that run only when the writer left the column alone: Sluice sets both itself,
 * so its own writes pay one WHEN test, not a second UPDATE. Existing rows from before the
 * columns existed are filled once.
 */
export function sqliteTimestampsDdl(builder: Kysely<any>, table: TableDef): string[] {
  const timestamps = table.timestamps;
  if (!timestamps) return [];
  const t = sql.id(table.name);
  const created = sql.id(timestamps.createdAt.sqlName);
  const updated = sql.id(timestamps.updatedAt.sqlName);
  const byKey = sql.join(
    table.primaryKey.map((c) => sql`${sql.id(c.sqlName)} = new.${sql.id(c.sqlName)}`),
    sql` and `,
  );
  const name = (what: string) => sql.id(`${table.name}_${what}`);
  const statements = [
    sql`update ${t} set ${created} = coalesce(${created}, ${NOW_MS}), ${updated} = coalesce(${updated}, ${created}, ${NOW_MS}) where ${created} is null or ${updated} is null`,
    sql`drop trigger if exists ${name('timestamps_insert')}`,
    sql`create trigger ${name('timestamps_insert')} after insert on ${t} for each row
      when new.${created} is null or new.${updated} is null
      begin update ${t} set ${created} = coalesce(new.${created}, ${NOW_MS}), ${updated} = coalesce(new.${updated}, new.${created}, ${NOW_MS}) where ${byKey}; end`,
    sql`drop trigger if exists ${name('timestamps_update')}`,
    // Equal and already now: Sluice stamped it within the millisecond of the last change; a
    // foreign writer's update leaves an older value, which is moved.
    sql`create trigger ${name('timestamps_update')} after update on ${t} for each row
      when new.${updated} is old.${updated} and (new.${updated} is null or new.${updated} < ${NOW_MS})
      begin update ${t} set ${updated} = ${NOW_MS} where ${byKey}; end`,
    sql`drop trigger if exists ${name('created_at_guard')}`,
    sql`create trigger ${name('created_at_guard')} before update of ${created} on ${t} for each row
      when old.${created} is not null and new.${created} is not old.${created}
      begin select raise(abort, ${sql.lit(`sluice: ${table.name}.${timestamps.createdAt.sqlName} is set once, when the row is inserted`)}); end`,
  ];
  return statements.map((s) => compileDdl(builder, s));
}
