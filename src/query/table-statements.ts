import type { Kysely } from 'kysely';
import type { ColumnDef, TableDef } from '../schema/define-table.js';
import type { WhereBuilder } from './filter-compiler.js';

/**
 * The fixed-shape statements of one table, compiled once through the query builder. Parameters
 * are bound by position in the order documented on each method; callers never reach SQL text.
 */
export class TableStatements {
  readonly #db: Kysely<any>;
  readonly #table: TableDef;
  readonly #cache = new Map<string, string>();
  readonly selectList: string[];

  constructor(db: Kysely<any>, table: TableDef) {
    this.#db = db;
    this.#table = table;
    this.selectList = table.columns.map((c) => `${c.sqlName} as ${c.name}`);
  }

  #memo(key: string, build: () => string): string {
    let sql = this.#cache.get(key);
    if (sql === undefined) {
      sql = build();
      this.#cache.set(key, sql);
    }
    return sql;
  }

  #whereKey<Q extends { where: (...args: any[]) => Q }>(query: Q): Q {
    let q = query;
    for (const column of this.#table.primaryKey) q = q.where(column.sqlName, '=', null);
    return q;
  }

  /** Parameters: the key. */
  selectByKey(): string {
    return this.#memo('get', () => this.#whereKey(this.#db.selectFrom(this.#table.name).select(this.selectList)).compile().sql);
  }

  /** Parameters: `rows` rows of all columns, in column order. */
  insert(rows: number): string {
    return this.#memo(`insert:${rows}`, () => this.#db.insertInto(this.#table.name).values(this.#placeholderRows(rows)).compile().sql);
  }

  /** Parameters: `rows` rows of all columns; a row whose key exists replaces the other columns. */
  upsert(rows: number): string {
    return this.#memo(`upsert:${rows}`, () => {
      const keys = this.#table.primaryKey.map((c) => c.sqlName);
      const rest = this.#table.columns.filter((c) => !this.#table.primaryKey.includes(c));
      return this.#db
        .insertInto(this.#table.name)
        .values(this.#placeholderRows(rows))
        .onConflict((oc) =>
          rest.length === 0
            ? oc.columns(keys).doNothing()
            : oc.columns(keys).doUpdateSet(Object.fromEntries(rest.map((c) => [c.sqlName, (eb: any) => eb.ref(`excluded.${c.sqlName}`)]))),
        )
        .compile().sql;
    });
  }

  /**
   * Parameters: the patch values, then the key, then `extra` (a compare-and-set condition's own
   * values, when there is one). Returns the updated row.
   */
  update(columns: readonly ColumnDef[], condition?: WhereBuilder): { sql: string; extra: readonly unknown[] } {
    const build = () =>
      this.#whereKey(this.#db.updateTable(this.#table.name).set(Object.fromEntries(columns.map((c) => [c.sqlName, null]))));
    if (condition === undefined) {
      return {
        sql: this.#memo(`update:${columns.map((c) => c.name).join(',')}`, () => build().returning(this.selectList).compile().sql),
        extra: [],
      };
    }
    const compiled = build().where(condition).returning(this.selectList).compile();
    return { sql: compiled.sql, extra: compiled.parameters.slice(columns.length + this.#table.primaryKey.length) };
  }

  /** Parameters: the key. */
  delete(): string {
    return this.#memo('delete', () => this.#whereKey(this.#db.deleteFrom(this.#table.name)).compile().sql);
  }

  #placeholderRows(rows: number): Record<string, null>[] {
    const row = Object.fromEntries(this.#table.columns.map((c) => [c.sqlName, null]));
    return Array.from({ length: rows }, () => row);
  }
}
