import type { ColumnType } from '../index.js';
import type { AnyTableDef } from '../internal.js';

/** A JSON Schema object, as fastify validates it and OpenAPI 3.1 publishes it. */
export type JsonSchema = Record<string, unknown>;

/** How a column's values travel over HTTP: timestamps as ISO strings (or epoch ms on input), blobs as base64. */
function valueSchema(type: ColumnType, direction: 'in' | 'out'): JsonSchema {
  switch (type) {
    case 'text':
      return { type: 'string' };
    case 'integer':
      return { type: 'integer' };
    case 'real':
      return { type: 'number' };
    case 'boolean':
      return { type: 'boolean' };
    case 'json':
      return {};
    case 'timestamp':
      return direction === 'out'
        ? { type: 'string', format: 'date-time' }
        : { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'integer' }] };
    case 'blob':
      return { type: 'string', contentEncoding: 'base64' };
  }
}

function columnSchema(column: AnyTableDef['columns'][number], direction: 'in' | 'out'): JsonSchema {
  const schema = valueSchema(column.type, direction);
  if (!column.nullable || column.type === 'json') return schema;
  if (typeof schema.type === 'string') return { ...schema, type: [schema.type, 'null'] };
  return { anyOf: [...((schema.anyOf as JsonSchema[] | undefined) ?? [schema]), { type: 'null' }] };
}

/** The schemas one table's routes validate with and publish: row, insert, patch, key parts, states. */
export interface TableSchemas {
  readonly row: JsonSchema;
  readonly insert: JsonSchema;
  readonly patch: JsonSchema;
  /** One schema per primary-key column, in key order. */
  readonly keyParts: readonly JsonSchema[];
  readonly states: readonly string[] | undefined;
}

export function tableSchemas(table: AnyTableDef): TableSchemas {
  const out: Record<string, JsonSchema> = {};
  const inProps: Record<string, JsonSchema> = {};
  const patchProps: Record<string, JsonSchema> = {};
  const required: string[] = [];
  const keyNames = new Set(table.primaryKey.map((c) => c.name));
  for (const column of table.columns) {
    out[column.name] = columnSchema(column, 'out');
    inProps[column.name] = columnSchema(column, 'in');
    // The state moves only by a transition (its own route), so a patch does not list it.
    if (!keyNames.has(column.name) && column.name !== table.lifecycle?.column.name) patchProps[column.name] = columnSchema(column, 'in');
    if (!column.nullable && !column.hasDefault) required.push(column.name);
  }
  const states = table.lifecycle ? [...table.lifecycle.states] : undefined;
  if (states && table.lifecycle) {
    const name = table.lifecycle.column.name;
    out[name] = { type: 'string', enum: states };
    inProps[name] = { type: 'string', enum: states };
  }
  return {
    // Every column comes back, null or not, so a client's type need not treat any as optional.
    row: { type: 'object', properties: out, required: table.columns.map((c) => c.name) },
    insert: { type: 'object', properties: inProps, required, additionalProperties: false },
    patch: { type: 'object', properties: patchProps, additionalProperties: false, minProperties: 1 },
    keyParts: table.primaryKey.map((c) => valueSchema(c.type, 'in')),
    states,
  };
}

/** Turns JSON input into the values the library takes: ISO strings to Dates, base64 to bytes. */
export function decodeValue(type: ColumnType, value: unknown): unknown {
  if (type === 'timestamp' && typeof value === 'string') {
    const at = new Date(value);
    return Number.isNaN(at.getTime()) ? value : at;
  }
  if (type === 'blob' && typeof value === 'string') return Buffer.from(value, 'base64');
  return value;
}

export function decodeRow(table: AnyTableDef, input: Record<string, unknown>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(input)) {
    const column = table.columnsByName.get(name);
    row[name] = column ? decodeValue(column.type, value) : value;
  }
  return row;
}

/** Each table's blob column names, found once: encodeRow runs for every row a response carries. */
const blobColumns = new WeakMap<AnyTableDef, readonly string[]>();

/** Blobs leave as base64; everything else serialises as JSON does (Dates as ISO strings). */
export function encodeRow<R>(table: AnyTableDef, row: R): R {
  let blobs = blobColumns.get(table);
  if (blobs === undefined) {
    blobs = table.columns.filter((c) => c.type === 'blob').map((c) => c.name);
    blobColumns.set(table, blobs);
  }
  if (blobs.length === 0 || row === undefined || row === null) return row;
  const copy: Record<string, unknown> = { ...(row as Record<string, unknown>) };
  for (const name of blobs) {
    const value = copy[name];
    if (value instanceof Uint8Array) copy[name] = Buffer.from(value).toString('base64');
  }
  return copy as R;
}
