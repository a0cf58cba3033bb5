import { SluiceError } from '../index.js';
import type { AnyTableDef } from '../internal.js';
import { sha256 } from './sha256.js';

/**
 * A strong entity tag for a row's JSON body exactly as the API sends it: the body changes with
 * every value of the row, so the tag does. SHA-256 keeps two different rows from sharing a tag,
 * which a PATCH's If-Match relies on.
 */
export function bodyEtag(json: string): string {
  return `"${sha256(json, 'base64url').slice(0, 27)}"`;
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
