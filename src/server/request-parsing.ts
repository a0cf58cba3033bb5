import { SluiceError } from '../index.js';
import { type AnyTableDef, describeValue } from '../internal.js';
import { decodeValue } from './table-schemas.js';

const MAX_FILTER_DEPTH = 32;
const MAX_FILTER_NODES = 1000;
/** No column name is longer; a filter's longer name is refused before the library looks for a close one. */
const MAX_NAME_LENGTH = 128;

/**
 * The key in a record's path: the value itself for a one-column key (a number for an integer
 * column), a JSON array in key order for a composite key.
 */
export function parseKey(table: AnyTableDef, raw: string): unknown {
  const columns = table.primaryKey;
  if (columns.length === 1) return keyPart(table, columns[0]!, raw, true);
  let parts: unknown;
  try {
    parts = JSON.parse(raw);
  } catch {
    parts = undefined;
  }
  if (!Array.isArray(parts) || parts.length !== columns.length) {
    throw new SluiceError(
      'VALIDATION',
      `${table.name} has a composite key (${columns.map((c) => c.name).join(', ')}): give it as a JSON array of ${columns.length} values, got ${describeValue(raw)}.`,
      { table: table.name, value: raw },
    );
  }
  return Object.fromEntries(columns.map((column, i) => [column.name, keyPart(table, column, parts[i], false)]));
}

function keyPart(table: AnyTableDef, column: AnyTableDef['columns'][number], value: unknown, fromText: boolean): unknown {
  if (fromText && typeof value === 'string') {
    if (column.type === 'integer' || column.type === 'real') {
      const n = value.trim() === '' ? Number.NaN : Number(value);
      if (!Number.isFinite(n) || (column.type === 'integer' && !Number.isSafeInteger(n))) {
        throw new SluiceError('VALIDATION', `${table.name}.${column.name} is ${column.type}: ${describeValue(value)} is not a key of it.`, {
          table: table.name,
          column: column.name,
          value,
        });
      }
      return n;
    }
    if (column.type === 'boolean') {
      if (value === 'true' || value === 'false') return value === 'true';
      throw new SluiceError('VALIDATION', `${table.name}.${column.name} is boolean: use true or false, got ${describeValue(value)}.`, {
        table: table.name,
        column: column.name,
        value,
      });
    }
  }
  return decodeValue(column.type, value);
}

/** Parses a query string's JSON parameter, naming it when it is not JSON. */
export function parseJsonParameter(name: string, raw: string | undefined): unknown {
  if (raw === undefined || raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new SluiceError('VALIDATION', `The ${name} parameter is not valid JSON (${(error as Error).message}).`, { value: raw });
  }
}

/**
 * A filter from JSON: checks its shape (an object, not too deep or large) and turns timestamp
 * and blob operands into the values the library compares; the library checks names and operators.
 */
export function decodeFilter(table: AnyTableDef, filter: unknown, what = 'where'): Record<string, unknown> | undefined {
  if (filter === undefined || filter === null) return undefined;
  let nodes = 0;
  const walk = (node: unknown, depth: number): Record<string, unknown> => {
    if (depth > MAX_FILTER_DEPTH) {
      throw new SluiceError('VALIDATION', `${what} nests deeper than ${MAX_FILTER_DEPTH} levels.`, { table: table.name });
    }
    if (typeof node !== 'object' || node === null || Array.isArray(node)) {
      throw new SluiceError('VALIDATION', `${what} must be a JSON object of column conditions, got ${describeValue(node)}.`, {
        table: table.name,
        value: node,
      });
    }
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(node)) {
      if (++nodes > MAX_FILTER_NODES) {
        throw new SluiceError('VALIDATION', `${what} has more than ${MAX_FILTER_NODES} conditions.`, { table: table.name });
      }
      if (name === '$and' || name === '$or') {
        out[name] = Array.isArray(value) ? value.map((branch) => walk(branch, depth + 1)) : value;
        continue;
      }
      const column = table.columnsByName.get(name);
      if (!column && name.length > MAX_NAME_LENGTH) {
        // The library's "did you mean" compares names letter by letter: a megabyte-long one is refused here.
        throw new SluiceError('VALIDATION', `${what} names a column of ${name.length} characters; ${table.name} has no such column.`, {
          table: table.name,
        });
      }
      out[name] = column ? decodeOperand(column.type, value) : value;
    }
    return out;
  };
  return walk(filter, 0);
}

function decodeOperand(type: Parameters<typeof decodeValue>[0], value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return decodeValue(type, value);
  const out: Record<string, unknown> = {};
  for (const [op, operand] of Object.entries(value)) {
    if (op === '$null' || op === '$like') out[op] = operand;
    else out[op] = Array.isArray(operand) ? operand.map((v) => decodeValue(type, v)) : decodeValue(type, operand);
  }
  return out;
}

/** `-updatedAt` or `status,-updatedAt`: the library checks each name. */
export function parseOrderBy(raw: string | undefined): string | string[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  const terms = raw.split(',').map((t) => t.trim());
  return terms.length === 1 ? terms[0] : terms;
}

/**
 * True when `text` is a JSON array with more than `max` items at its top level. Scans only as
 * far as item max + 1 (strings and nesting skipped), so a huge array costs what its first items
 * do; malformed text is left to the parser to describe.
 */
export function arrayLongerThan(text: string, max: number): boolean {
  let i = 0;
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  if (text[i] !== '[') return false;
  let depth = 0;
  let commas = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, past escapes.
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
    } else if (c === 0x5d || c === 0x7d) {
      if (--depth === 0) return false;
    } else if (c === 0x2c && depth === 1 && ++commas >= max) {
      // max commas at the top level separate max + 1 items.
      return true;
    }
  }
  return false;
}
