import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import type { ColumnDef } from '../schema/define-table.js';
import type { FilterNode } from './filter.js';

export type WhereBuilder = (eb: ExpressionBuilder<any, any>) => Expression<SqlBool>;

/**
 * How a dialect binds an `$in` / `$nin` list: as one parameter (an array, a JSON text), so a list
 * of any length is one bound value and one statement text, instead of one placeholder per value
 * (PostgreSQL refuses more than 65,535; SQLite's default limit is 32,766).
 */
export interface ListParameters {
  /** `column IN (list)`, or `column NOT IN (list)` when `negate`, for a non-empty list. */
  membership(column: Expression<unknown>, def: ColumnDef, parameter: unknown, negate: boolean): Expression<SqlBool>;
  /** The one bound value that carries the list, in the form the dialect's driver takes. */
  parameter(def: ColumnDef, values: readonly unknown[]): unknown;
}

/**
 * Lists up to this long bind one placeholder per value (`col in (?, ?)`): a lifecycle's source
 * states, a handful of ids. SQLite reads a JSON list back through json_each for every row it
 * tests, which halves a compare-and-set update's rate (339–392k against 715–729k rows/s in
 * bench/sqlite-update-shapes.ts); a short list costs nothing.
 */
export const SHORT_LIST = 8;

/** Whether a list binds one placeholder per value even where the dialect has a list parameter. */
export function isShortList(values: readonly unknown[]): boolean {
  return values.length <= SHORT_LIST;
}

/**
 * What stands in the SQL for each value of a filter, in filterShape's order. By default a bound
 * parameter; a multi-row update passes references to its VALUES columns instead.
 */
export type Operand = (value: unknown) => unknown;

const asParameter: Operand = (value) => value;

const FALSE = sql<SqlBool>`1 = 0`;
const TRUE = sql<SqlBool>`1 = 1`;

/**
 * Turns a checked filter into a query-builder expression. NULL follows the caller's intuition
 * rather than SQL's three-valued logic: `$ne` and `$nin` also match rows where the column is NULL,
 * and range operators never match NULL. The reference evaluator in the tests holds the same rules.
 */
export function compileFilter(node: FilterNode, lists?: ListParameters, operand: Operand = asParameter): WhereBuilder {
  return (eb) => toExpression(eb, node, lists, operand);
}

function joined(terms: readonly Expression<SqlBool>[], operator: 'and' | 'or'): Expression<SqlBool> {
  if (terms.length === 1) return terms[0] as Expression<SqlBool>;
  return sql<SqlBool>`(${sql.join(
    terms.map((t) => sql`(${t})`),
    sql.raw(` ${operator} `),
  )})`;
}

function toExpression(
  eb: ExpressionBuilder<any, any>,
  node: FilterNode,
  lists: ListParameters | undefined,
  operand: Operand,
): Expression<SqlBool> {
  switch (node.op) {
    // Joined flat: the builder's own and/or nests one node per term, and a list of tens of
    // thousands of terms then overflows the stack when the statement is compiled.
    case 'and':
      return node.nodes.length === 0
        ? TRUE
        : joined(
            node.nodes.map((n) => toExpression(eb, n, lists, operand)),
            'and',
          );
    case 'or':
      return node.nodes.length === 0
        ? FALSE
        : joined(
            node.nodes.map((n) => toExpression(eb, n, lists, operand)),
            'or',
          );
    case 'null':
      return eb(node.column.sqlName, node.isNull ? 'is' : 'is not', null);
    case 'cmp': {
      const comparison = eb(node.column.sqlName, node.cmp, operand(node.value));
      return node.cmp === '<>' && node.column.nullable ? eb.or([comparison, eb(node.column.sqlName, 'is', null)]) : comparison;
    }
    case 'in':
      if (node.values.length === 0) return FALSE;
      return membership(eb, node.column, node.values, lists, operand, false);
    case 'nin': {
      if (node.values.length === 0) return TRUE;
      const comparison = membership(eb, node.column, node.values, lists, operand, true);
      return node.column.nullable ? eb.or([comparison, eb(node.column.sqlName, 'is', null)]) : comparison;
    }
    case 'like':
      return sql<SqlBool>`${eb.ref(node.column.sqlName)} like ${operand(node.pattern)} escape '\\'`;
  }
}

function membership(
  eb: ExpressionBuilder<any, any>,
  column: ColumnDef,
  values: readonly unknown[],
  lists: ListParameters | undefined,
  operand: Operand,
  negate: boolean,
): Expression<SqlBool> {
  if (lists === undefined || isShortList(values)) return eb(column.sqlName, negate ? 'not in' : 'in', values.map(operand));
  return lists.membership(eb.ref(column.sqlName), column, operand(lists.parameter(column, values)), negate);
}
