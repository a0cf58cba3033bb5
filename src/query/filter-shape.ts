import type { FilterNode } from './filter.js';
import { isShortList, type ListParameters } from './filter-compiler.js';

export interface FilterShape {
  /** Equal for filters that compile to the same SQL text, whatever their values. */
  readonly key: string;
  /** The values, in the order the compiled SQL binds them (compileFilter's traversal order). */
  readonly params: unknown[];
}

/**
 * A filter's shape and values apart, so a statement compiled once per shape serves every filter
 * of that shape: compare-and-set updates on the hot path then skip the query builder.
 */
export function filterShape(node: FilterNode, lists?: ListParameters): FilterShape {
  const params: unknown[] = [];
  const key = walk(node, params, lists);
  return { key, params };
}

function walk(node: FilterNode, params: unknown[], lists: ListParameters | undefined): string {
  switch (node.op) {
    case 'and':
    case 'or':
      return `${node.op}(${node.nodes.map((n) => walk(n, params, lists)).join(',')})`;
    case 'null':
      return `${node.column.name} ${node.isNull ? 'is' : 'not'} null`;
    case 'cmp':
      params.push(node.value);
      return `${node.column.name}${node.cmp}?`;
    case 'in':
    case 'nin':
      if (lists && !isShortList(node.values)) {
        params.push(lists.parameter(node.column, node.values));
        return `${node.column.name} ${node.op}[]`;
      }
      params.push(...node.values);
      return `${node.column.name} ${node.op}${node.values.length}`;
    case 'like':
      params.push(node.pattern);
      return `${node.column.name} like ?`;
  }
}
