import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import type { FilterNode } from './filter.js';

export type WhereBuilder = (eb: ExpressionBuilder<any, any>) => Expression<SqlBool>;

const FALSE = sql<SqlBool>`1 = 0`;
const TRUE = sql<SqlBool>`1 = 1`;

/**
 * Turns a checked filter into a query-builder expression. NULL follows the caller's intuition
 * rather than SQL's three-valued logic: `$ne` and `$nin` also match rows where the column is NULL,
 * and range operators never match NULL. The reference evaluator in the tests holds the same rules.
 */
export function compileFilter(node: FilterNode): WhereBuilder {
  return (eb) => toExpression(eb, node);
}

function toExpression(eb: ExpressionBuilder<any, any>, node: FilterNode): Expression<SqlBool> {
  switch (node.op) {
    case 'and':
      return node.nodes.length === 0 ? TRUE : eb.and(node.nodes.map((n) => toExpression(eb, n)));
    case 'or':
      return node.nodes.length === 0 ? FALSE : eb.or(node.nodes.map((n) => toExpression(eb, n)));
    case 'null':
      return eb(node.column.sqlName, node.isNull ? 'is' : 'is not', null);
    case 'cmp': {
      const comparison = eb(node.column.sqlName, node.cmp, node.value);
      return node.cmp === '<>' && node.column.nullable ? eb.or([comparison, eb(node.column.sqlName, 'is', null)]) : comparison;
    }
    case 'in':
      return node.values.length === 0 ? FALSE : eb(node.column.sqlName, 'in', node.values);
    case 'nin': {
      if (node.values.length === 0) return TRUE;
      const comparison = eb(node.column.sqlName, 'not in', node.values);
      return node.column.nullable ? eb.or([comparison, eb(node.column.sqlName, 'is', null)]) : comparison;
    }
    case 'like':
      return sql<SqlBool>`${eb.ref(node.column.sqlName)} like ${node.pattern} escape '\\'`;
  }
}
