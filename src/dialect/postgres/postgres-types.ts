import type { ColumnType } from '../../schema/column-types.js';

/**
 * Storage types. Text compares in the "C" collation, byte order, as SQLite does: a filter or an
 * ORDER BY means the same on both dialects, and a cursor taken on one never skips rows on the other.
 */
export const POSTGRES_COLUMN_TYPES: Readonly<Record<ColumnType, string>> = {
  text: 'text collate "C"',
  integer: 'bigint',
  real: 'double precision',
  boolean: 'boolean',
  json: 'jsonb',
  timestamp: 'timestamptz',
  blob: 'bytea',
};

/** The array type one unnest() argument carries for a column of each type. */
export const POSTGRES_ARRAY_TYPES: Readonly<Record<ColumnType, string>> = {
  text: 'text[]',
  integer: 'bigint[]',
  real: 'double precision[]',
  boolean: 'boolean[]',
  json: 'jsonb[]',
  timestamp: 'timestamptz[]',
  blob: 'bytea[]',
};

/** An identifier quoted for PostgreSQL (the schema option is checked to be a plain identifier). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
