import { createHash } from 'node:crypto';
import { SluiceError } from '../index.js';
import type { AnyTableDef } from '../internal.js';

/** A strong entity tag for a row as the API returns it: equal rows, equal tags. */
export function rowEtag(row: unknown): string {
  return `"${createHash('sha256').update(JSON.stringify(row)).digest('base64url').slice(0, 27)}"`;
}

/**
 * The compare-and-set filter that holds only while the row still has every value of `row`, so a
 * PATCH with If-Match applies atomically or not at all. JSON and blob values cannot be compared
 * by a filter, so a table with such columns does not take If-Match.
 */
export function unchangedFilter(table: AnyTableDef, row: Record<string, unknown>): Record<string, unknown> {
  const uncomparable = table.columns.filter((c) => c.type === 'json' || c.type === 'blob');
  if (uncomparable.length > 0) {
    throw new SluiceError(
      'VALIDATION',
      `If-Match is not available on ${table.name}: its ${uncomparable.map((c) => c.name).join(', ')} column(s) cannot be compared atomically. Use ?where= to compare the columns that matter.`,
      { table: table.name },
    );
  }
  const filter: Record<string, unknown> = {};
  for (const column of table.columns) {
    const value = row[column.name];
    filter[column.name] = value === null || value === undefined ? { $null: true } : value;
  }
  return filter;
}
