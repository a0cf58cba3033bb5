import { type Kysely, sql } from 'kysely';
import { TableStatements } from '../../query/table-statements.js';
import { type UpsertClause, upsertKeepsColumns, upsertUpdateColumns } from '../../query/upsert.js';
import type { TableDef } from '../../schema/define-table.js';
import type { RowCodec } from '../../schema/row-codec.js';
import type { DialectAdapter } from '../dialect-adapter.js';
import { ArrayLiterals } from './postgres-array-literals.js';
import { POSTGRES_ARRAY_TYPES } from './postgres-types.js';
import { UnnestUpdates } from './postgres-update-runs.js';

/** The upsert seam, re-exported where the PostgreSQL dialect's callers have always found it. */
export { onConflictDoUpdate, type UpsertClause } from '../../query/upsert.js';

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
  /** The upsert returns the rows as stored (RETURNING): it keeps columns of rows that exist. */
  readonly upsertReturnsRows: boolean;
  readonly #literals: ArrayLiterals;

  constructor(builder: Kysely<any>, table: TableDef, upsertClause: UpsertClause, names: (sql: string) => string | undefined) {
    const base = builder
      .insertInto(table.name)
      .columns(table.columns.map((c) => c.sqlName))
      .expression(sql`select * from unnest(${sql.join(table.columns.map((c) => sql`${null}::${sql.raw(POSTGRES_ARRAY_TYPES[c.type])}`))})`);
    this.insert = base.compile().sql;
    const upsert = upsertClause(base, table, upsertUpdateColumns(table));
    this.upsertReturnsRows = upsertKeepsColumns(table);
    this.upsert = (this.upsertReturnsRows ? upsert.returning(table.columns.map((c) => `${c.sqlName} as ${c.name}`)) : upsert).compile().sql;
    this.insertName = names(this.insert);
    this.upsertName = names(this.upsert);
    this.#literals = new ArrayLiterals(table.columns.map((c) => c.type));
  }

  /** Turns rows of encoded parameters (column order) into the statement's parameters: one array literal per column. */
  columnArrays(rows: readonly (readonly unknown[])[]): string[] {
    return this.#literals.columns(rows);
  }
}

/** Each table's compiled write statements, built on first use and kept for the writer's life. */
export class PostgresStatementCache {
  readonly #adapter: DialectAdapter;
  readonly #upsert: UpsertClause;
  readonly #names: (sql: string) => string | undefined;
  readonly #tables = new Map<RowCodec, TableStatements>();
  readonly #unnest = new Map<RowCodec, UnnestStatements>();
  readonly #updates = new Map<RowCodec, UnnestUpdates>();

  constructor(adapter: DialectAdapter, upsert: UpsertClause, names: (sql: string) => string | undefined) {
    this.#adapter = adapter;
    this.#upsert = upsert;
    this.#names = names;
  }

  /** The statements both dialects share (updates, deletes, claims, point reads). */
  table(codec: RowCodec): TableStatements {
    return memo(this.#tables, codec, () => new TableStatements(this.#adapter.builder, this.#adapter.lists, codec.table));
  }

  unnest(codec: RowCodec): UnnestStatements {
    return memo(this.#unnest, codec, () => new UnnestStatements(this.#adapter.builder, codec.table, this.#upsert, this.#names));
  }

  unnestUpdates(codec: RowCodec): UnnestUpdates {
    return memo(this.#updates, codec, () => new UnnestUpdates(this.#adapter, codec.table, this.#names));
  }
}

function memo<V>(map: Map<RowCodec, V>, codec: RowCodec, build: () => V): V {
  let value = map.get(codec);
  if (value === undefined) {
    value = build();
    map.set(codec, value);
  }
  return value;
}
