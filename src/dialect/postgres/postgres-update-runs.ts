import { sql, type UpdateQueryBuilder } from 'kysely';
import type { FilterNode } from '../../query/filter.js';
import { compileFilter, isShortList } from '../../query/filter-compiler.js';
import type { FilterShape } from '../../query/filter-shape.js';
import type { ColumnType } from '../../schema/column-types.js';
import type { ColumnDef, TableDef } from '../../schema/define-table.js';
import { keyIdentity, type UpdateCommand } from '../batch-runs.js';
import type { DialectAdapter } from '../dialect-adapter.js';
import type { WriteOp } from '../write-op.js';
import { ArrayLiterals } from './postgres-array-literals.js';
import { POSTGRES_ARRAY_TYPES } from './postgres-types.js';

/**
 * Past this many unnest arrays (key, patch and condition values of one row) a run is not worth
 * its statement text: such a condition is a long hand-written $or, rare, and runs one by one.
 */
const MAX_RUN_COLUMNS = 512;

/** A run's statement: its text, its prepared-statement name, and how its rows become parameters. */
export interface UpdateRunStatement {
  readonly sql: string;
  readonly name: string | undefined;
  readonly returning: 'row' | 'key';
  readonly literals: ArrayLiterals;
}

/**
 * Runs of same-shape updates on PostgreSQL as one statement whatever their count:
 * `UPDATE t SET c = v.… FROM unnest($1::type[], …) AS v(…) WHERE t.key = v.… AND condition`,
 * the condition reading each row's own values (fencing owner and token, expected state) from the
 * same unnest row. One array per column keeps the text fixed, so it is parsed and planned once
 * per connection, as the inserts' unnest is (postgres-statements.ts). Returns the keys that
 * applied (or the rows, when asked): a key missing from them did not apply.
 */
export class UnnestUpdates {
  readonly #adapter: DialectAdapter;
  readonly #table: TableDef;
  readonly #names: (sql: string) => string | undefined;
  readonly #cache = new Map<string, UpdateRunStatement | null>();

  constructor(adapter: DialectAdapter, table: TableDef, names: (sql: string) => string | undefined) {
    this.#adapter = adapter;
    this.#table = table;
    this.#names = names;
  }

  /**
   * The statement for updates of `command`'s shape, or undefined when its condition binds a list
   * as one array parameter (an array cannot be one element of another): those run one by one.
   */
  statement(command: UpdateCommand, shape: FilterShape | undefined): UpdateRunStatement | undefined {
    const columns = command.patch.columns;
    const returning = command.returning === 'row' ? 'row' : 'key';
    const cacheKey = `${columns.map((c) => c.name).join(',')}:${shape?.key ?? ''}:${returning}`;
    let statement = this.#cache.get(cacheKey);
    if (statement === undefined) {
      statement = this.#build(columns, command.where, returning) ?? null;
      this.#cache.set(cacheKey, statement);
    }
    return statement ?? undefined;
  }

  #build(columns: readonly ColumnDef[], condition: FilterNode | undefined, returning: 'row' | 'key'): UpdateRunStatement | undefined {
    const operands: ColumnType[] = [];
    if (condition !== undefined && !operandTypes(condition, operands)) return undefined;
    const key = this.#table.primaryKey;
    const types = [...key.map((c) => c.type), ...columns.map((c) => c.type), ...operands];
    if (types.length > MAX_RUN_COLUMNS) return undefined;
    const table = this.#table.name;
    const alias = (i: number) => `sluice_v${i}`;
    const cell = (i: number) => sql.ref(`v.${alias(i)}`);
    const arrays = sql`unnest(${sql.join(types.map((type) => sql`${null}::${sql.raw(POSTGRES_ARRAY_TYPES[type])}`))})`;
    const from = arrays.as(sql.raw(`v(${types.map((_, i) => alias(i)).join(', ')})`));
    // The unnest's alias names its columns, which the builder's types cannot follow.
    let query: UpdateQueryBuilder<any, any, any, any> = this.#adapter.builder
      .updateTable(table)
      .set(Object.fromEntries(columns.map((c, i) => [c.sqlName, cell(key.length + i)])))
      .from(from);
    key.forEach((column, i) => {
      query = query.where(sql.ref(`${table}.${column.sqlName}`), '=', cell(i));
    });
    if (condition !== undefined) {
      let next = key.length + columns.length;
      query = query.where(compileFilter(condition, this.#adapter.lists, () => cell(next++)));
    }
    const compiled =
      returning === 'row'
        ? query.returning(this.#table.columns.map((c) => `${table}.${c.sqlName} as ${c.name}`)).compile().sql
        : query.returning(key.map((c) => `${table}.${c.sqlName}`)).compile().sql;
    return { sql: compiled, name: this.#names(compiled), returning, literals: new ArrayLiterals(types) };
  }
}

/**
 * The column type of each value a condition binds, in filterShape's order (compileFilter calls
 * its operand in the same order). False when a list binds as one parameter.
 */
function operandTypes(node: FilterNode, into: ColumnType[]): boolean {
  switch (node.op) {
    case 'and':
    case 'or':
      for (const child of node.nodes) if (!operandTypes(child, into)) return false;
      return true;
    case 'null':
      return true;
    case 'cmp':
      into.push(node.column.type);
      return true;
    case 'in':
    case 'nin':
      if (!isShortList(node.values)) return false;
      for (let i = 0; i < node.values.length; i++) into.push(node.column.type);
      return true;
    case 'like':
      into.push('text');
      return true;
  }
}

/** One row of a run's unnest: the key, the patch values, the condition's values. */
export function runRow(command: UpdateCommand, shape: FilterShape | undefined): unknown[] {
  const row = command.key.concat(command.patch.params);
  if (shape !== undefined) for (const value of shape.params) row.push(value);
  return row;
}

/**
 * The returned item (a key row, or a whole row) of each of a run's ops, by position; undefined
 * where the op's update did not apply. PostgreSQL returns them in no promised order.
 */
export function matchReturned(
  ops: readonly WriteOp[],
  start: number,
  count: number,
  table: TableDef,
  returning: 'row' | 'key',
  returned: readonly Record<string, unknown>[],
): (Record<string, unknown> | undefined)[] {
  const names = table.primaryKey.map((c) => (returning === 'row' ? c.name : c.sqlName));
  const byKey = new Map<unknown, Record<string, unknown>>();
  for (const item of returned) byKey.set(keyIdentity(names.map((name) => item[name])), item);
  const found = new Array<Record<string, unknown> | undefined>(count);
  for (let i = 0; i < count; i++) found[i] = byKey.get(keyIdentity(((ops[start + i] as WriteOp).command as UpdateCommand).key));
  return found;
}
