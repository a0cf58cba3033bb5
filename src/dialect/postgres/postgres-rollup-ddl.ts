import { type Kysely, type RawBuilder, sql } from 'kysely';
import { compileDdl } from '../../query/lifecycle-sql.js';
import type { RollupPolicy } from '../../schema/define-rollup.js';
import type { AnyTableDef } from '../../schema/define-table.js';

type Sql = RawBuilder<unknown>;

const UNITS = { minute: 'minute', hour: 'hour', day: 'day' } as const;

/** A timestamp's bucket, cut in UTC whatever the session's time zone. */
function bucketOf(ts: Sql, policy: RollupPolicy): Sql {
  return sql`(date_trunc(${sql.lit(UNITS[policy.every])}, ${ts} at time zone 'UTC') at time zone 'UTC')`;
}

/**
 * Statement-level triggers with transition tables: a multi-row INSERT (Sluice's unnest batches)
 * adds its rows to the rollup with one grouped upsert, not one per row. A delete or update takes
 * the old rows out, recomputes a min or max the removed rows may have held, and drops buckets
 * left empty. Rows past the source's retention age leave the rollup as it was.
 */
export function postgresRollupDdl(builder: Kysely<any>, table: AnyTableDef, policy: RollupPolicy): string[] {
  const r = sql.id(table.name);
  const s = sql.id(policy.source.name);
  const fn = (what: string) => sql.id(`${table.name}_rollup_${what}`);
  const retention = policy.source.retention;
  const recent = (alias: string) =>
    retention
      ? sql`${sql.raw(alias)}.${sql.id(retention.column.sqlName)} >= now() - ${sql.lit(`${retention.maxAgeMs} milliseconds`)}::interval`
      : sql`true`;
  const pkJoin = sql.join(
    policy.source.primaryKey.map((c) => sql`o.${sql.id(c.sqlName)} = n.${sql.id(c.sqlName)}`),
    sql` and `,
  );
  const insertBody = add(r, policy, sql`new_rows`);
  const deleteBody = remove(r, s, policy, sql`old_rows`, recent('old_rows'));
  // An update counts only where the old row was recent: its new image joins by primary key.
  const updatedNew = sql`(select n.* from new_rows n join old_rows o on ${pkJoin} where ${recent('o')})`;
  const updateBody = sql`${remove(r, s, policy, sql`old_rows`, recent('old_rows'))} ${add(r, policy, updatedNew)}`;
  const statements: Sql[] = [];
  for (const [what, body, event, referencing] of [
    ['insert', insertBody, sql`insert`, sql`referencing new table as new_rows`],
    ['delete', deleteBody, sql`delete`, sql`referencing old table as old_rows`],
    ['update', updateBody, sql`update`, sql`referencing old table as old_rows new table as new_rows`],
  ] as const) {
    statements.push(
      sql`create or replace function ${fn(what)}() returns trigger language plpgsql as $sluice$ begin ${body} return null; end $sluice$`,
      sql`drop trigger if exists ${fn(what)} on ${s}`,
      sql`create trigger ${fn(what)} after ${event} on ${s} ${referencing} for each statement execute function ${fn(what)}()`,
    );
  }
  return statements.map((statement) => compileDdl(builder, statement));
}

function keyColumns(policy: RollupPolicy): Sql[] {
  return [policy.bucket, ...policy.groupBy.map((g) => g.column)].map((c) => sql.id(c.sqlName));
}

function aggregates(policy: RollupPolicy, rows: Sql): Sql {
  const t = sql.id(policy.time.sqlName);
  const select = [
    bucketOf(sql`x.${t}`, policy),
    ...policy.groupBy.map((g) => sql`x.${sql.id(g.source.sqlName)}`),
    sql`count(*)`,
    ...policy.measures.map((m) => {
      if (m.kind === 'count') return sql`count(*)`;
      const value = sql`x.${sql.id((m.source as { sqlName: string }).sqlName)}`;
      return m.kind === 'sum' ? sql`coalesce(sum(${value}), 0)` : sql`${sql.raw(m.kind)}(${value})`;
    }),
  ];
  const groups = [sql.lit(1), ...policy.groupBy.map((_, i) => sql.lit(i + 2))];
  return sql`select ${sql.join(select)} from ${rows} x group by ${sql.join(groups)}`;
}

/** The rows' contribution added, one upsert per statement. */
function add(r: Sql, policy: RollupPolicy, rows: Sql): Sql {
  const keys = keyColumns(policy);
  const rowsColumn = sql.id(policy.rows.sqlName);
  const columns = [...keys, rowsColumn, ...policy.measures.map((m) => sql.id(m.column.sqlName))];
  const updates = [
    sql`${rowsColumn} = ${r}.${rowsColumn} + excluded.${rowsColumn}`,
    ...policy.measures.map((m) => {
      const c = sql.id(m.column.sqlName);
      if (m.kind === 'count' || m.kind === 'sum') return sql`${c} = ${r}.${c} + excluded.${c}`;
      // least/greatest skip NULLs, so a bucket of NULLs keeps NULL until a value comes.
      return sql`${c} = ${m.kind === 'min' ? sql`least` : sql`greatest`}(${r}.${c}, excluded.${c})`;
    }),
  ];
  return sql`insert into ${r} (${sql.join(columns)}) ${aggregates(policy, rows)} on conflict (${sql.join(keys)}) do update set ${sql.join(updates)};`;
}

/** The rows' contribution taken out; extremes recomputed from what is left; empty buckets dropped. */
function remove(r: Sql, s: Sql, policy: RollupPolicy, rows: Sql, recent: Sql): Sql {
  const keys = keyColumns(policy);
  const rowsColumn = sql.id(policy.rows.sqlName);
  const gone = sql`(${aggregates(policy, sql`(select * from ${rows} where ${recent})`)})`;
  const goneColumns = [...keys, rowsColumn, ...policy.measures.map((m) => sql.id(m.column.sqlName))];
  const match = sql.join(
    keys.map((k) => sql`${r}.${k} = g.${k}`),
    sql` and `,
  );
  const decrements = [
    sql`${rowsColumn} = ${r}.${rowsColumn} - g.${rowsColumn}`,
    ...policy.measures.flatMap((m) => {
      const c = sql.id(m.column.sqlName);
      return m.kind === 'count' || m.kind === 'sum' ? [sql`${c} = ${r}.${c} - g.${c}`] : [];
    }),
  ];
  const t = sql.id(policy.time.sqlName);
  const inBucket = sql.join(
    [
      sql`${s}.${t} >= ${r}.${sql.id(policy.bucket.sqlName)}`,
      sql`${s}.${t} < ${r}.${sql.id(policy.bucket.sqlName)} + ${sql.lit(`${policy.sizeMs} milliseconds`)}::interval`,
      ...policy.groupBy.map((g) => sql`${s}.${sql.id(g.source.sqlName)} = ${r}.${sql.id(g.column.sqlName)}`),
    ],
    sql` and `,
  );
  const extremes = policy.measures.filter((m) => m.kind === 'min' || m.kind === 'max');
  const recompute =
    extremes.length === 0
      ? sql``
      : sql`update ${r} set ${sql.join(
          extremes.map(
            (m) =>
              sql`${sql.id(m.column.sqlName)} = (select ${sql.raw(m.kind)}(${s}.${sql.id((m.source as { sqlName: string }).sqlName)}) from ${s} where ${inBucket})`,
          ),
        )} from ${gone} as g (${sql.join(goneColumns)}) where ${match};`;
  return sql`update ${r} set ${sql.join(decrements)} from ${gone} as g (${sql.join(goneColumns)}) where ${match}; ${recompute} delete from ${r} using ${gone} as g (${sql.join(goneColumns)}) where ${match} and ${r}.${rowsColumn} <= 0;`;
}

/** Recomputes the buckets in [from, to) from the source rows there. */
export function postgresRollupRebuild(
  builder: Kysely<any>,
  table: AnyTableDef,
  policy: RollupPolicy,
  from: Date | undefined,
  to: Date | undefined,
): string[] {
  const r = sql.id(table.name);
  const s = sql.id(policy.source.name);
  const keys = keyColumns(policy);
  const columns = [...keys, sql.id(policy.rows.sqlName), ...policy.measures.map((m) => sql.id(m.column.sqlName))];
  const bucket = sql.id(policy.bucket.sqlName);
  const t = sql.id(policy.time.sqlName);
  const range = (column: Sql) =>
    sql.join(
      [
        sql`true`,
        ...(from === undefined ? [] : [sql`${column} >= ${sql.lit(from.toISOString())}::timestamptz`]),
        ...(to === undefined ? [] : [sql`${column} < ${sql.lit(to.toISOString())}::timestamptz`]),
      ],
      sql` and `,
    );
  const statements = [
    sql`delete from ${r} where ${range(bucket)}`,
    sql`insert into ${r} (${sql.join(columns)}) ${aggregates(policy, sql`(select * from ${s} where ${range(t)})`)}`,
  ];
  return statements.map((statement) => compileDdl(builder, statement));
}
