import { type Expression, type ExpressionBuilder, type Kysely, type SqlBool, sql } from 'kysely';
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

const listStrategies = new WeakMap<Kysely<any>, ListParameters>();

/** Registers the list binding a dialect's builder compiles filters with. Returns the builder. */
export function withListParameters(builder: Kysely<any>, lists: ListParameters): Kysely<any> {
  listStrategies.set(builder, lists);
  return builder;
}

/** The list binding registered for a builder; undefined: one placeholder per value. */
export function listParametersOf(builder: Kysely<any>): ListParameters | undefined {
  return listStrategies.get(builder);
}

const FALSE = sql<SqlBool>`1 = 0`;
const TRUE = sql<SqlBool>`1 = 1`;

/**
 * Turns a checked filter into a query-builder expression. NULL follows the caller's intuition
 * rather than SQL's three-valued logic: `$ne` and `$nin` also match rows where the column is NULL,
 * and range operators never match NULL. The reference evaluator in the tests holds the same rules.
 */
export function compileFilter(node: FilterNode, lists?: ListParameters): WhereBuilder {
  return (eb) => toExpression(eb, node, lists);
}

function joined(terms: readonly Expression<SqlBool>[], operator: 'and' | 'or'): Expression<SqlBool> {
  if (terms.length === 1) return terms[0] as Expression<SqlBool>;
  return sql<SqlBool>`(${sql.join(
    terms.map((t) => sql`(${t})`),
    sql.raw(` ${operator} `),
  )})`;
}

function toExpression(eb: ExpressionBuilder<any, any>, node: FilterNode, lists: ListParameters | undefined): Expression<SqlBool> {
  switch (node.op) {
    // Joined flat: the builder's own and/or nests one node per term, and a list of tens of
    // thousands of terms then overflows the stack when the statement is compiled.
    case 'and':
      return node.nodes.length === 0
        ? TRUE
        : joined(
            node.nodes.map((n) => toExpression(eb, n, lists)),
            'and',
          );
    case 'or':
      return node.nodes.length === 0
        ? FALSE
        : joined(
            node.nodes.map((n) => toExpression(eb, n, lists)),
            'or',
          );
    case 'null':
      return eb(node.column.sqlName, node.isNull ? 'is' : 'is not', null);
    case 'cmp': {
      const comparison = eb(node.column.sqlName, node.cmp, node.value);
      return node.cmp === '<>' && node.column.nullable ? eb.or([comparison, eb(node.column.sqlName, 'is', null)]) : comparison;
    }
    case 'in':
      if (node.values.length === 0) return FALSE;
      return lists
        ? lists.membership(eb.ref(node.column.sqlName), node.column, lists.parameter(node.column, node.values), false)
        : eb(node.column.sqlName, 'in', node.values);
    case 'nin': {
      if (node.values.length === 0) return TRUE;
      const comparison = lists
        ? lists.membership(eb.ref(node.column.sqlName), node.column, lists.parameter(node.column, node.values), true)
        : eb(node.column.sqlName, 'not in', node.values);
      return node.column.nullable ? eb.or([comparison, eb(node.column.sqlName, 'is', null)]) : comparison;
    }
    case 'like':
      return sql<SqlBool>`${eb.ref(node.column.sqlName)} like ${node.pattern} escape '\\'`;
  }
}
