import { type InsertQueryBuilder, type Kysely, sql } from 'kysely';
import type { TableDef } from '../../schema/define-table.js';
import { POSTGRES_ARRAY_TYPES } from './postgres-builder.js';

type AnyInsert = InsertQueryBuilder<any, any, any>;

/**
 * What an upsert does when the row's key exists. This is the one place the upsert SQL is written:
 * a PostgreSQL-compatible engine with another syntax (openGauss documents
 * `INSERT … ON DUPLICATE KEY UPDATE`, with key columns not updatable) swaps this function.
 */
export type UpsertClause = (insert: AnyInsert, table: TableDef) => AnyInsert;

/** PostgreSQL: `ON CONFLICT (pk) DO UPDATE SET col = excluded.col` for every non-key column. */
export const onConflictDoUpdate: UpsertClause = (insert, table) => {
  const keys = table.primaryKey.map((c) => c.sqlName);
  const rest = table.columns.filter((c) => !table.primaryKey.includes(c));
  return insert.onConflict((oc) =>
    rest.length === 0
      ? oc.columns(keys).doNothing()
      : oc.columns(keys).doUpdateSet(Object.fromEntries(rest.map((c) => [c.sqlName, (eb: any) => eb.ref(`excluded.${c.sqlName}`)]))),
  );
};

/**
 * Inserts and upserts of one table as a single statement whatever the row count:
 * `INSERT … SELECT * FROM unnest($1::type[], $2::type[], …)`, one array parameter per column. The
 * text never changes with the number of rows, so the server parses and plans it once per
 * connection, and no statement meets the 65,535-parameter limit.
 */
export class UnnestStatements {
  readonly insert: string;
  readonly upsert: string;
  /** Server-side prepared statement names, unique per text within this process. */
  readonly insertName: string | undefined;
  readonly upsertName: string | undefined;
  readonly #width: number;

  constructor(builder: Kysely<any>, table: TableDef, upsertClause: UpsertClause, names: (sql: string) => string | undefined) {
    const base = builder
      .insertInto(table.name)
      .columns(table.columns.map((c) => c.sqlName))
      .expression(sql`select * from unnest(${sql.join(table.columns.map((c) => sql`${null}::${sql.raw(POSTGRES_ARRAY_TYPES[c.type])}`))})`);
    this.insert = base.compile().sql;
    this.upsert = upsertClause(base, table).compile().sql;
    this.insertName = names(this.insert);
    this.upsertName = names(this.upsert);
    this.#width = table.columns.length;
  }

  /** Turns rows of parameters (column order) into one array per column. */
  columnArrays(rows: readonly (readonly unknown[])[]): unknown[][] {
    const arrays = Array.from({ length: this.#width }, () => new Array<unknown>(rows.length));
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as readonly unknown[];
      for (let c = 0; c < this.#width; c++) (arrays[c] as unknown[])[r] = row[c];
    }
    return arrays;
  }
}
