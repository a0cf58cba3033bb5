import { type Kysely, sql } from 'kysely';
import { compileDdl } from '../../query/lifecycle-sql.js';
import type { TableDef } from '../../schema/define-table.js';

/**
 * A BEFORE trigger that keeps `created_at` / `updated_at` for every writer: it fills what an
 * INSERT left out, moves `updated_at` on an UPDATE that did not set it (a foreign writer's), and
 * refuses a change of `created_at`. Sluice sets both itself, so for its own writes the trigger
 * only compares. Existing rows from before the columns existed are filled once.
 */
export function postgresTimestampsDdl(builder: Kysely<any>, table: TableDef): string[] {
  const timestamps = table.timestamps;
  if (!timestamps) return [];
  const t = sql.id(table.name);
  const created = sql.id(timestamps.createdAt.sqlName);
  const updated = sql.id(timestamps.updatedAt.sqlName);
  const fn = sql.id(`${table.name}_timestamps`);
  const message = sql.lit(`sluice: ${table.name}.${timestamps.createdAt.sqlName} is set once, when the row is inserted`);
  const statements = [
    sql`update ${t} set ${created} = coalesce(${created}, now()), ${updated} = coalesce(${updated}, ${created}, now()) where ${created} is null or ${updated} is null`,
    sql`create or replace function ${fn}() returns trigger language plpgsql as $sluice$
      begin
        if tg_op = 'INSERT' then
          new.${created} := coalesce(new.${created}, clock_timestamp());
          new.${updated} := coalesce(new.${updated}, new.${created});
        else
          if old.${created} is not null and new.${created} is distinct from old.${created} then
            raise exception using errcode = '23514', message = ${message};
          end if;
          if new.${updated} is not distinct from old.${updated} then
            new.${updated} := clock_timestamp();
          end if;
        end if;
        return new;
      end $sluice$`,
    sql`drop trigger if exists ${fn} on ${t}`,
    sql`create trigger ${fn} before insert or update on ${t} for each row execute function ${fn}()`,
  ];
  return statements.map((s) => compileDdl(builder, s));
}
