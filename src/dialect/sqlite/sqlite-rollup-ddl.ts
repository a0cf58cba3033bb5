import { type Kysely, type RawBuilder, sql } from 'kysely';
import { compileDdl } from '../../query/lifecycle-sql.js';
import type { RollupPolicy } from '../../schema/define-rollup.js';
import type { AnyTableDef } from '../../schema/define-table.js';
import { SQLITE_NOW_MS } from './sqlite-now.js';

type Sql = RawBuilder<unknown>;

/** The bucket a row's timestamp (epoch ms) falls in; the double modulo keeps dates before 1970 in place. */
function bucketOf(row: 'new' | 'old', policy: RollupPolicy): Sql {
  const ts = sql`${sql.raw(row)}.${sql.id(policy.time.sqlName)}`;
  const size = sql.lit(policy.sizeMs);
  return sql`(${ts} - ((${ts} % ${size}) + ${size}) % ${size})`;
}

/**
 * Triggers that keep a rollup exact for every writer, in the writer's own transaction: an insert
 * adds the row to its bucket (an upsert with increments), a delete takes it out (and recomputes a
 * min or max it may have held, and drops a bucket left empty), an update of a summarised column
 * does both. Deletes and updates of rows past the source's retention age leave the rollup as it
 * was: retention trims detail, the history stays.
 */
export function sqliteRollupDdl(builder: Kysely<any>, table: AnyTableDef, policy: RollupPolicy): string[] {
  const r = sql.id(table.name);
  const s = sql.id(policy.source.name);
  const name = (what: string) => sql.id(`${table.name}_rollup_${what}`);
  const keyMatch = (row: 'old') =>
    sql.join(
      [
        sql`${sql.id(policy.bucket.sqlName)} = ${bucketOf(row, policy)}`,
        ...policy.groupBy.map((g) => sql`${sql.id(g.column.sqlName)} = ${sql.raw(row)}.${sql.id(g.source.sqlName)}`),
      ],
      sql` and `,
    );
  const keyColumns = [policy.bucket, ...policy.groupBy.map((g) => g.column)].map((c) => sql.id(c.sqlName));
  const add = addStatement(r, policy, keyColumns);
  const remove = removeStatements(r, s, policy, keyMatch('old'));
  const retention = policy.source.retention;
  const recent = retention ? sql`old.${sql.id(retention.column.sqlName)} >= ${SQLITE_NOW_MS} - ${sql.lit(retention.maxAgeMs)}` : undefined;
  const watched = [policy.time, ...policy.groupBy.map((g) => g.source), ...policy.measures.flatMap((m) => (m.source ? [m.source] : []))];
  const of = sql.join([...new Set(watched)].map((c) => sql.id(c.sqlName)));
  const statements = [
    sql`drop trigger if exists ${name('insert')}`,
    sql`create trigger ${name('insert')} after insert on ${s} for each row begin ${add}; end`,
    sql`drop trigger if exists ${name('delete')}`,
    sql`create trigger ${name('delete')} after delete on ${s} for each row ${recent ? sql`when ${recent}` : sql``} begin ${remove}; end`,
    sql`drop trigger if exists ${name('update')}`,
    sql`create trigger ${name('update')} after update of ${of} on ${s} for each row ${recent ? sql`when ${recent}` : sql``} begin ${remove}; ${add}; end`,
  ];
  return statements.map((statement) => compileDdl(builder, statement));
}

/** `insert … on conflict do update`: the new row's contribution added to its bucket. */
function addStatement(r: Sql, policy: RollupPolicy, keyColumns: Sql[]): Sql {
  const columns = [...keyColumns, sql.id(policy.rows.sqlName), ...policy.measures.map((m) => sql.id(m.column.sqlName))];
  const values = [
    bucketOf('new', policy),
    ...policy.groupBy.map((g) => sql`new.${sql.id(g.source.sqlName)}`),
    sql`1`,
    ...policy.measures.map((m) => {
      if (m.kind === 'count') return sql`1`;
      const value = sql`new.${sql.id((m.source as { sqlName: string }).sqlName)}`;
      return m.kind === 'sum' ? sql`coalesce(${value}, 0)` : value;
    }),
  ];
  const rows = sql.id(policy.rows.sqlName);
  const updates = [
    sql`${rows} = ${rows} + excluded.${rows}`,
    ...policy.measures.map((m) => {
      const c = sql.id(m.column.sqlName);
      if (m.kind === 'count' || m.kind === 'sum') return sql`${c} = ${c} + excluded.${c}`;
      // SQLite's scalar min/max return NULL if either side is NULL: a NULL side is ignored instead.
      const pick = m.kind === 'min' ? sql`min` : sql`max`;
      return sql`${c} = case when excluded.${c} is null then ${c} when ${c} is null then excluded.${c} else ${pick}(${c}, excluded.${c}) end`;
    }),
  ];
  return sql`insert into ${r} (${sql.join(columns)}) values (${sql.join(values)}) on conflict (${sql.join(keyColumns)}) do update set ${sql.join(updates)}`;
}

/** The old row's contribution taken out: decrements, min/max recomputed from the rows left, an empty bucket dropped. */
function removeStatements(r: Sql, s: Sql, policy: RollupPolicy, match: Sql): Sql {
  const rows = sql.id(policy.rows.sqlName);
  const decrements = [
    sql`${rows} = ${rows} - 1`,
    ...policy.measures.flatMap((m) => {
      const c = sql.id(m.column.sqlName);
      if (m.kind === 'count') return [sql`${c} = ${c} - 1`];
      if (m.kind === 'sum') return [sql`${c} = ${c} - coalesce(old.${sql.id((m.source as { sqlName: string }).sqlName)}, 0)`];
      return [];
    }),
  ];
  const statements: Sql[] = [sql`update ${r} set ${sql.join(decrements)} where ${match}`];
  const time = sql.id(policy.time.sqlName);
  const inBucket = sql.join(
    [
      sql`${s}.${time} >= ${bucketOf('old', policy)}`,
      sql`${s}.${time} < ${bucketOf('old', policy)} + ${sql.lit(policy.sizeMs)}`,
      ...policy.groupBy.map((g) => sql`${s}.${sql.id(g.source.sqlName)} = old.${sql.id(g.source.sqlName)}`),
    ],
    sql` and `,
  );
  for (const m of policy.measures) {
    if (m.kind !== 'min' && m.kind !== 'max') continue;
    const c = sql.id(m.column.sqlName);
    const source = sql.id((m.source as { sqlName: string }).sqlName);
    // Only a bucket whose extreme was this row's value needs the rows read again.
    statements.push(
      sql`update ${r} set ${c} = (select ${sql.raw(m.kind)}(${s}.${source}) from ${s} where ${inBucket}) where ${match} and ${c} = old.${source}`,
    );
  }
  statements.push(sql`delete from ${r} where ${match} and ${rows} <= 0`);
  return sql.join(statements, sql`; `);
}

/** Recomputes the buckets in [from, to) from the source rows there: after foreign writers that bypassed the triggers, or a new rollup. */
export function sqliteRollupRebuild(
  builder: Kysely<any>,
  table: AnyTableDef,
  policy: RollupPolicy,
  from: number | undefined,
  to: number | undefined,
): string[] {
  const r = sql.id(table.name);
  const s = sql.id(policy.source.name);
  const ts = sql`${s}.${sql.id(policy.time.sqlName)}`;
  const size = sql.lit(policy.sizeMs);
  const bucket = sql`(${ts} - ((${ts} % ${size}) + ${size}) % ${size})`;
  const keyColumns = [policy.bucket, ...policy.groupBy.map((g) => g.column)].map((c) => sql.id(c.sqlName));
  const columns = [...keyColumns, sql.id(policy.rows.sqlName), ...policy.measures.map((m) => sql.id(m.column.sqlName))];
  const aggregates = [
    bucket,
    ...policy.groupBy.map((g) => sql`${s}.${sql.id(g.source.sqlName)}`),
    sql`count(*)`,
    ...policy.measures.map((m) => {
      if (m.kind === 'count') return sql`count(*)`;
      const value = sql`${s}.${sql.id((m.source as { sqlName: string }).sqlName)}`;
      return m.kind === 'sum' ? sql`coalesce(sum(${value}), 0)` : sql`${sql.raw(m.kind)}(${value})`;
    }),
  ];
  const groups = [sql.lit(1), ...policy.groupBy.map((_, i) => sql.lit(i + 2))];
  const bucketColumn = sql.id(policy.bucket.sqlName);
  const range = (column: Sql) =>
    sql.join(
      [
        sql`1 = 1`,
        ...(from === undefined ? [] : [sql`${column} >= ${sql.lit(from)}`]),
        ...(to === undefined ? [] : [sql`${column} < ${sql.lit(to)}`]),
      ],
      sql` and `,
    );
  const statements = [
    sql`delete from ${r} where ${range(bucketColumn)}`,
    sql`insert into ${r} (${sql.join(columns)}) select ${sql.join(aggregates)} from ${s} where ${range(ts)} group by ${sql.join(groups)}`,
  ];
  return statements.map((statement) => compileDdl(builder, statement));
}
