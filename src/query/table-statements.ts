import { type CompiledQuery, type ExpressionBuilder, type Kysely, sql } from 'kysely';
import type { ColumnDef, TableDef } from '../schema/define-table.js';
import type { FilterNode } from './filter.js';
import { compileFilter, type ListParameters, type Operand } from './filter-compiler.js';
import { type FilterShape, filterShape } from './filter-shape.js';
import type { OrderTerm } from './order.js';
import { onConflictDoUpdate, upsertKeepsColumns, upsertUpdateColumns } from './upsert.js';

/**
 * The fixed-shape statements of one table, compiled once through the query builder. Parameters
 * are bound by position in the order documented on each method; callers never reach SQL text.
 */
export class TableStatements {
  readonly #db: Kysely<any>;
  readonly #table: TableDef;
  readonly #lists: ListParameters;
  readonly #cache = new Map<string, string>();
  #lastCondition: FilterNode | undefined;
  #lastShape: FilterShape | undefined;
  readonly selectList: string[];
  /** The upsert returns the rows as stored (RETURNING): it keeps columns of rows that exist. */
  readonly upsertReturnsRows: boolean;

  /** `lists`: how the dialect binds an `$in` list (its adapter's). */
  constructor(db: Kysely<any>, lists: ListParameters, table: TableDef) {
    this.#db = db;
    this.#lists = lists;
    this.#table = table;
    this.selectList = table.columns.map((c) => `${c.sqlName} as ${c.name}`);
    this.upsertReturnsRows = upsertKeepsColumns(table);
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

  /** A query's rows, every column under its JavaScript name; built per call (filters vary), with its parameters. */
  select(where: FilterNode | undefined, terms: readonly OrderTerm[], limit?: number, offset?: number): CompiledQuery {
    let query = this.#db.selectFrom(this.#table.name).select(this.selectList);
    if (where !== undefined) query = query.where(compileFilter(where, this.#lists));
    for (const term of terms) query = query.orderBy(term.column.sqlName, term.descending ? 'desc' : 'asc');
    if (limit !== undefined) query = query.limit(limit);
    if (offset !== undefined) query = (limit === undefined ? query.limit(Number.MAX_SAFE_INTEGER) : query).offset(offset);
    return query.compile();
  }

  /** How many rows match, as column `n`. */
  count(where: FilterNode | undefined): CompiledQuery {
    let query = this.#db.selectFrom(this.#table.name).select((eb) => eb.fn.countAll().as('n'));
    if (where !== undefined) query = query.where(compileFilter(where, this.#lists));
    return query.compile();
  }

  /** Parameters: `rows` rows of all columns, in column order. */
  insert(rows: number): string {
    return this.#memo(`insert:${rows}`, () => this.#db.insertInto(this.#table.name).values(this.#placeholderRows(rows)).compile().sql);
  }

  /**
   * Parameters: `rows` rows of all columns; a row whose key exists gets the columns an upsert may
   * overwrite (not its key, not its lease). Returns the stored rows when `upsertReturnsRows`.
   */
  upsert(rows: number): string {
    return this.#memo(`upsert:${rows}`, () => {
      const insert = this.#db.insertInto(this.#table.name).values(this.#placeholderRows(rows));
      const upsert = onConflictDoUpdate(insert, this.#table, upsertUpdateColumns(this.#table));
      return (this.upsertReturnsRows ? upsert.returning(this.selectList) : upsert).compile().sql;
    });
  }

  /**
   * Parameters: the patch values, then the key, then `extra` (a compare-and-set condition's own
   * values, when there is one). Returns the updated row, or only its key when the caller asked
   * for no row: the key alone still tells an update that applied from one that did not.
   */
  update(
    columns: readonly ColumnDef[],
    condition: FilterNode | undefined,
    returning: 'row' | 'key',
  ): { sql: string; extra: readonly unknown[] } {
    const names = columns.map((c) => c.name).join(',');
    const shape = condition === undefined ? undefined : this.shapeOf(condition);
    const sql = this.#memo(`update:${names}:${shape?.key ?? ''}:${returning}`, () => {
      let query = this.#whereKey(this.#db.updateTable(this.#table.name).set(Object.fromEntries(columns.map((c) => [c.sqlName, null]))));
      if (condition !== undefined) query = query.where(compileFilter(condition, this.#lists));
      return query.returning(returning === 'row' ? this.selectList : this.#keyNames()).compile().sql;
    });
    return { sql, extra: shape?.params ?? [] };
  }

  /**
   * A condition's shape and values. The last one is remembered by identity: a transition reuses
   * one condition per move, so a run of them walks it once (a WeakMap of every condition cost
   * more in garbage collection than the walks it saved).
   */
  shapeOf(condition: FilterNode): FilterShape {
    if (condition !== this.#lastCondition) {
      this.#lastShape = filterShape(condition, this.#lists);
      this.#lastCondition = condition;
    }
    return this.#lastShape as FilterShape;
  }

  /**
   * `rows` updates of one shape as one statement:
   * `UPDATE t SET c = v.column… FROM (VALUES (…), …) AS v WHERE t.key = v.column1 AND condition`,
   * the condition reading its values from the same VALUES row. Parameters, row after row: the
   * key, the patch values, the condition's values (`shapeOf(condition).params`). Returns the
   * updated rows' keys (`key`), their rows (`row`), or nothing (`none`: count the changes).
   * SQLite ≥ 3.33 and PostgreSQL both take UPDATE … FROM; the keys of one statement must differ.
   */
  updateRun(columns: readonly ColumnDef[], condition: FilterNode | undefined, rows: number, returning: 'key' | 'row' | 'none'): string {
    const shape = condition === undefined ? undefined : this.shapeOf(condition);
    const names = columns.map((c) => c.name).join(',');
    return this.#memo(`update-run:${names}:${shape?.key ?? ''}:${rows}:${returning}`, () => {
      const table = this.#table.name;
      const key = this.#table.primaryKey;
      const width = key.length + columns.length + (shape?.params.length ?? 0);
      const cell = (i: number) => sql.ref(`v.column${i + 1}`);
      const placeholders = sql`(${sql.join(Array.from({ length: width }, () => null))})`;
      const values = sql`(values ${sql.join(Array.from({ length: rows }, () => placeholders))})`;
      let query = this.#db
        .updateTable(table)
        .set(Object.fromEntries(columns.map((c, i) => [c.sqlName, cell(key.length + i)])))
        .from(values.as('v'));
      key.forEach((column, i) => {
        query = query.where(sql.ref(`${table}.${column.sqlName}`), '=', cell(i));
      });
      if (condition !== undefined) {
        let next = key.length + columns.length;
        const operand: Operand = () => cell(next++);
        query = query.where(compileFilter(condition, this.#lists, operand));
      }
      if (returning === 'key') return query.returning(key.map((c) => `${table}.${c.sqlName}`)).compile().sql;
      if (returning === 'row') return query.returning(this.#table.columns.map((c) => `${table}.${c.sqlName} as ${c.name}`)).compile().sql;
      return query.compile().sql;
    });
  }

  /**
   * `UPDATE … WHERE key IN (SELECT key … WHERE filter ORDER BY … LIMIT n) RETURNING …`.
   * Parameters: the patch values, then `extra`. `skipLocked` (where the database has row locks)
   * makes concurrent claimers take different rows instead of queueing on the same ones.
   */
  updateMany(
    columns: readonly ColumnDef[],
    increment: readonly ColumnDef[],
    where: FilterNode,
    orderBy: readonly OrderTerm[],
    limit: number,
    options: { readonly skipLocked: boolean },
  ): { sql: string; extra: readonly unknown[] } {
    let chosen = this.#db.selectFrom(this.#table.name).select(this.#keyNames()).where(compileFilter(where, this.#lists));
    for (const term of orderBy) chosen = chosen.orderBy(term.column.sqlName, term.descending ? 'desc' : 'asc');
    chosen = chosen.limit(limit);
    if (options.skipLocked) chosen = chosen.forUpdate().skipLocked();
    const set: Record<string, unknown> = Object.fromEntries(columns.map((c) => [c.sqlName, null]));
    for (const column of increment) set[column.sqlName] = sql`${sql.ref(column.sqlName)} + 1`;
    const compiled = this.#db
      .updateTable(this.#table.name)
      .set(set)
      .where((eb) => eb(this.#keyTuple(eb), 'in', chosen))
      .returning(this.selectList)
      .compile();
    return { sql: compiled.sql, extra: compiled.parameters.slice(columns.length) };
  }

  /**
   * `DELETE … WHERE key IN (SELECT key … WHERE filter LIMIT n) RETURNING key`: returns the deleted
   * keys, by database column name, for the change feed. Parameters: `extra`.
   */
  deleteMany(where: FilterNode, limit: number): { sql: string; extra: readonly unknown[] } {
    const chosen = this.#db.selectFrom(this.#table.name).select(this.#keyNames()).where(compileFilter(where, this.#lists)).limit(limit);
    const compiled = this.#db
      .deleteFrom(this.#table.name)
      .where((eb) => eb(this.#keyTuple(eb), 'in', chosen))
      .returning(this.#keyNames())
      .compile();
    return { sql: compiled.sql, extra: compiled.parameters };
  }

  #keyNames(): string[] {
    return this.#table.primaryKey.map((c) => c.sqlName);
  }

  #keyTuple(eb: ExpressionBuilder<any, any>): any {
    const names = this.#keyNames();
    return names.length === 1 ? eb.ref(names[0] as string) : eb.refTuple(...(names as [string, string]));
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
