import { describeValue, didYouMean, SluiceError } from '../core/sluice-error.js';
import type { ColumnDef } from '../schema/define-table.js';
import type { RowCodec } from '../schema/row-codec.js';
import { COMPARISONS, type FilterNode, OPERATORS } from './filter.js';

/** Deep enough for any filter a person writes; shallow enough that a hostile one cannot blow the stack. */
const MAX_FILTER_DEPTH = 32;
const RANGE_TYPES = new Set(['text', 'integer', 'real', 'timestamp']);
const EQUALITY_TYPES = new Set(['text', 'integer', 'real', 'timestamp', 'boolean']);

/**
 * Checks a caller's filter against the table's schema and encodes its values. Every column name
 * must be one the schema declares, so nothing a caller passes can become SQL text.
 */
export function parseFilter(codec: RowCodec, filter: unknown): FilterNode {
  const table = codec.table.name;
  const fail = (message: string, column?: string, value?: unknown): never => {
    throw new SluiceError('VALIDATION', `Filter on ${table}: ${message}`, { table, column, value });
  };

  const parseObject = (object: unknown, path: string, depth = 0): FilterNode => {
    if (depth > MAX_FILTER_DEPTH) {
      return fail(`${path} nests $and/$or deeper than ${MAX_FILTER_DEPTH} levels; flatten the filter.`, undefined);
    }
    if (object === null || typeof object !== 'object' || Array.isArray(object)) {
      return fail(`${path} must be an object of column conditions, got ${describeValue(object)}.`, undefined, object);
    }
    const nodes: FilterNode[] = [];
    for (const [name, condition] of Object.entries(object)) {
      if (condition === undefined) continue;
      if (name === '$and' || name === '$or') {
        if (!Array.isArray(condition)) fail(`${name} takes an array of filters, got ${describeValue(condition)}.`, undefined, condition);
        nodes.push({
          op: name === '$and' ? 'and' : 'or',
          nodes: (condition as unknown[]).map((f, i) => parseObject(f, `${path}.${name}[${i}]`, depth + 1)),
        });
        continue;
      }
      const column = codec.table.columnsByName.get(name);
      if (!column) {
        return fail(`unknown column ${describeValue(name)}${didYouMean(name, [...codec.table.columnsByName.keys()])}.`, name);
      }
      nodes.push(parseCondition(column, condition));
    }
    return nodes.length === 1 ? (nodes[0] as FilterNode) : { op: 'and', nodes };
  };

  const encode = (column: ColumnDef, operator: string, value: unknown): unknown => {
    if (value === null || value === undefined) {
      fail(`${operator} on ${column.name} takes a value, got ${describeValue(value)}; use $null to test for NULL.`, column.name, value);
    }
    return codec.encodeValue({ ...column, nullable: false }, value);
  };

  const requireType = (column: ColumnDef, operator: string, allowed: Set<string>): void => {
    if (!allowed.has(column.type)) {
      fail(`${operator} cannot be used on ${column.type} column ${column.name}.`, column.name);
    }
  };

  const parseCondition = (column: ColumnDef, condition: unknown): FilterNode => {
    if (condition === null) return { op: 'null', column, isNull: true };
    if (isPlainObject(condition) && Object.keys(condition).length === 0) {
      fail(`the condition on ${column.name} is an empty object; pass a value or an operator such as { $eq: … }.`, column.name, condition);
    }
    const isOperatorObject =
      typeof condition === 'object' &&
      !(condition instanceof Date) &&
      !(condition instanceof Uint8Array) &&
      !Array.isArray(condition) &&
      Object.keys(condition).some((k) => k.startsWith('$'));
    if (!isOperatorObject) {
      requireType(column, 'equality', EQUALITY_TYPES);
      return { op: 'cmp', column, cmp: '=', value: encode(column, 'equality', condition) };
    }
    const nodes: FilterNode[] = [];
    for (const [operator, operand] of Object.entries(condition as Record<string, unknown>)) {
      if (operand === undefined) continue;
      switch (operator) {
        case '$eq':
        case '$ne':
          if (operand === null) {
            nodes.push({ op: 'null', column, isNull: operator === '$eq' });
            break;
          }
          requireType(column, operator, EQUALITY_TYPES);
          nodes.push({ op: 'cmp', column, cmp: COMPARISONS[operator], value: encode(column, operator, operand) });
          break;
        case '$gt':
        case '$gte':
        case '$lt':
        case '$lte':
          requireType(column, operator, RANGE_TYPES);
          nodes.push({ op: 'cmp', column, cmp: COMPARISONS[operator], value: encode(column, operator, operand) });
          break;
        case '$in':
        case '$nin':
          requireType(column, operator, EQUALITY_TYPES);
          if (!Array.isArray(operand))
            fail(`${operator} on ${column.name} takes an array, got ${describeValue(operand)}.`, column.name, operand);
          nodes.push({
            op: operator === '$in' ? 'in' : 'nin',
            column,
            values: (operand as unknown[]).map((v) => encode(column, operator, v)),
          });
          break;
        case '$like':
          requireType(column, operator, new Set(['text']));
          if (typeof operand !== 'string')
            fail(`$like on ${column.name} takes a string pattern, got ${describeValue(operand)}.`, column.name, operand);
          if (/(^|[^\\])(\\\\)*\\$/.test(operand as string)) {
            fail(
              `$like pattern ${describeValue(operand)} on ${column.name} ends in a lone escape character \\, which matches nothing; escape it as \\\\ to match a backslash.`,
              column.name,
              operand,
            );
          }
          nodes.push({ op: 'like', column, pattern: operand as string });
          break;
        case '$null':
          if (typeof operand !== 'boolean')
            fail(`$null on ${column.name} takes true or false, got ${describeValue(operand)}.`, column.name, operand);
          nodes.push({ op: 'null', column, isNull: operand as boolean });
          break;
        default: {
          fail(
            `unknown operator ${describeValue(operator)} on ${column.name}${didYouMean(operator, OPERATORS)} Known: ${OPERATORS.join(' ')}.`,
            column.name,
            operator,
          );
        }
      }
    }
    return nodes.length === 1 ? (nodes[0] as FilterNode) : { op: 'and', nodes };
  };

  return parseObject(filter ?? {}, 'the filter');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype;
}
