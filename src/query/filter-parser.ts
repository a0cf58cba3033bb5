import { describeValue, didYouMean, SluiceError } from '../core/sluice-error.js';
import type { ColumnDef } from '../schema/define-table.js';
import type { RowCodec } from '../schema/row-codec.js';
import { COMPARISONS, type FilterNode, OPERATORS } from './filter.js';

/** Deep enough for any filter a person writes; shallow enough that a hostile one cannot blow the stack. */
const MAX_FILTER_DEPTH = 32;
const RANGE_TYPES = new Set(['text', 'integer', 'real', 'timestamp']);
const EQUALITY_TYPES = new Set(['text', 'integer', 'real', 'timestamp', 'boolean']);
const TEXT_TYPES = new Set(['text']);

/**
 * Checks a caller's filter against the table's schema and encodes its values. Every column name
 * must be one the schema declares, so nothing a caller passes can become SQL text.
 */
export function parseFilter(codec: RowCodec, filter: unknown): FilterNode {
  return new FilterParser(codec).object(filter ?? {}, 'the filter', 0);
}

/** One table's filters: its columns decide what a name may be, its codec how a value is encoded. */
class FilterParser {
  readonly #codec: RowCodec;
  readonly #table: string;

  constructor(codec: RowCodec) {
    this.#codec = codec;
    this.#table = codec.table.name;
  }

  /** An object of column conditions, `$and` and `$or`; its entries are ANDed. */
  object(object: unknown, path: string, depth: number): FilterNode {
    if (depth > MAX_FILTER_DEPTH) {
      return this.#fail(`${path} nests $and/$or deeper than ${MAX_FILTER_DEPTH} levels; flatten the filter.`, undefined);
    }
    if (object === null || typeof object !== 'object' || Array.isArray(object)) {
      return this.#fail(`${path} must be an object of column conditions, got ${describeValue(object)}.`, undefined, object);
    }
    const nodes: FilterNode[] = [];
    for (const [name, condition] of Object.entries(object)) {
      if (condition === undefined) continue;
      if (name === '$and' || name === '$or') {
        if (!Array.isArray(condition))
          this.#fail(`${name} takes an array of filters, got ${describeValue(condition)}.`, undefined, condition);
        nodes.push({
          op: name === '$and' ? 'and' : 'or',
          nodes: (condition as unknown[]).map((f, i) => this.object(f, `${path}.${name}[${i}]`, depth + 1)),
        });
        continue;
      }
      const column = this.#codec.table.columnsByName.get(name);
      if (!column) {
        return this.#fail(`unknown column ${describeValue(name)}${didYouMean(name, [...this.#codec.table.columnsByName.keys()])}.`, name);
      }
      nodes.push(this.#condition(column, condition));
    }
    return nodes.length === 1 ? (nodes[0] as FilterNode) : { op: 'and', nodes };
  }

  /** One column's condition: a bare value (equality), null, or an object of operators, ANDed. */
  #condition(column: ColumnDef, condition: unknown): FilterNode {
    if (condition === null) return { op: 'null', column, isNull: true };
    if (isPlainObject(condition) && Object.keys(condition).length === 0) {
      this.#fail(
        `the condition on ${column.name} is an empty object; pass a value or an operator such as { $eq: … }.`,
        column.name,
        condition,
      );
    }
    const isOperatorObject =
      typeof condition === 'object' &&
      !(condition instanceof Date) &&
      !(condition instanceof Uint8Array) &&
      !Array.isArray(condition) &&
      Object.keys(condition).some((k) => k.startsWith('$'));
    if (!isOperatorObject) {
      this.#requireType(column, 'equality', EQUALITY_TYPES);
      return { op: 'cmp', column, cmp: '=', value: this.#encode(column, 'equality', condition) };
    }
    const nodes: FilterNode[] = [];
    for (const [operator, operand] of Object.entries(condition as Record<string, unknown>)) {
      if (operand !== undefined) nodes.push(this.#operator(column, operator, operand));
    }
    return nodes.length === 1 ? (nodes[0] as FilterNode) : { op: 'and', nodes };
  }

  #operator(column: ColumnDef, operator: string, operand: unknown): FilterNode {
    switch (operator) {
      case '$eq':
      case '$ne':
        if (operand === null) return { op: 'null', column, isNull: operator === '$eq' };
        this.#requireType(column, operator, EQUALITY_TYPES);
        return { op: 'cmp', column, cmp: COMPARISONS[operator], value: this.#encode(column, operator, operand) };
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        this.#requireType(column, operator, RANGE_TYPES);
        return { op: 'cmp', column, cmp: COMPARISONS[operator], value: this.#encode(column, operator, operand) };
      case '$in':
      case '$nin':
        this.#requireType(column, operator, EQUALITY_TYPES);
        if (!Array.isArray(operand))
          this.#fail(`${operator} on ${column.name} takes an array, got ${describeValue(operand)}.`, column.name, operand);
        return {
          op: operator === '$in' ? 'in' : 'nin',
          column,
          values: (operand as unknown[]).map((v) => this.#encode(column, operator, v)),
        };
      case '$like':
        return this.#like(column, operand);
      case '$null':
        if (typeof operand !== 'boolean')
          this.#fail(`$null on ${column.name} takes true or false, got ${describeValue(operand)}.`, column.name, operand);
        return { op: 'null', column, isNull: operand as boolean };
      default:
        return this.#fail(
          `unknown operator ${describeValue(operator)} on ${column.name}${didYouMean(operator, OPERATORS)} Known: ${OPERATORS.join(' ')}.`,
          column.name,
          operator,
        );
    }
  }

  #like(column: ColumnDef, operand: unknown): FilterNode {
    this.#requireType(column, '$like', TEXT_TYPES);
    if (typeof operand !== 'string')
      this.#fail(`$like on ${column.name} takes a string pattern, got ${describeValue(operand)}.`, column.name, operand);
    // A pattern ending in a lone escape matches no row: refuse it rather than answer with nothing.
    if (/(^|[^\\])(\\\\)*\\$/.test(operand as string)) {
      this.#fail(
        `$like pattern ${describeValue(operand)} on ${column.name} ends in a lone escape character \\, which matches nothing; escape it as \\\\ to match a backslash.`,
        column.name,
        operand,
      );
    }
    return { op: 'like', column, pattern: operand as string };
  }

  #encode(column: ColumnDef, operator: string, value: unknown): unknown {
    if (value === null || value === undefined) {
      this.#fail(
        `${operator} on ${column.name} takes a value, got ${describeValue(value)}; use $null to test for NULL.`,
        column.name,
        value,
      );
    }
    return this.#codec.encodeValue({ ...column, nullable: false }, value);
  }

  #requireType(column: ColumnDef, operator: string, allowed: ReadonlySet<string>): void {
    if (!allowed.has(column.type)) this.#fail(`${operator} cannot be used on ${column.type} column ${column.name}.`, column.name);
  }

  #fail(message: string, column?: string, value?: unknown): never {
    throw new SluiceError('VALIDATION', `Filter on ${this.#table}: ${message}`, { table: this.#table, column, value });
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype;
}
