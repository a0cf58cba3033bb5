import { SluiceError } from '../core/sluice-error.js';
import type { JsRow } from '../schema/row-codec.js';
import type { FilterNode } from './filter.js';
import type { OrderTerm } from './order.js';

/**
 * Keyset pagination: a cursor holds the sort values of the last row seen, and the next page is
 * the rows strictly after it in the sort order. Unlike OFFSET it costs the same on page 1,000 as
 * on page 1 and never skips or repeats a row when rows are inserted meanwhile.
 */
export function encodeCursor(terms: readonly OrderTerm[], row: JsRow): string {
  const values = terms.map((t) => {
    const value = row[t.column.name];
    return value instanceof Date ? value.getTime() : value;
  });
  // The order travels with the values: a cursor from another orderBy would silently skip rows.
  return Buffer.from(JSON.stringify({ o: orderSignature(terms), v: values })).toString('base64url');
}

function orderSignature(terms: readonly OrderTerm[]): string {
  return terms.map((t) => `${t.descending ? '-' : ''}${t.column.name}`).join(',');
}

export function cursorFilter(
  terms: readonly OrderTerm[],
  cursor: string,
  encode: (term: OrderTerm, value: unknown) => unknown,
): FilterNode {
  let decoded: { o?: unknown; v?: unknown } | undefined;
  try {
    decoded = typeof cursor === 'string' ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) : undefined;
  } catch {
    decoded = undefined;
  }
  const values = decoded?.v;
  const expected = orderSignature(terms);
  if (decoded !== null && typeof decoded === 'object' && typeof decoded.o === 'string' && decoded.o !== expected) {
    throw new SluiceError(
      'VALIDATION',
      `The page cursor was made for orderBy ${JSON.stringify(decoded.o)}, but this query sorts by ${JSON.stringify(expected)}; a cursor only continues the query that produced it.`,
      { value: cursor },
    );
  }
  if (decoded === null || typeof decoded !== 'object' || !Array.isArray(values) || values.length !== terms.length) {
    throw new SluiceError(
      'VALIDATION',
      'The page cursor is not one this query produced; pass the `next` value of the previous page unchanged, with the same orderBy.',
      { value: cursor },
    );
  }
  const encoded = terms.map((term, i) => encode(term, values[i]));
  const branches: FilterNode[] = terms.map((term, i) => ({
    op: 'and',
    nodes: [
      ...terms.slice(0, i).map((t, j): FilterNode => ({ op: 'cmp', column: t.column, cmp: '=', value: encoded[j] })),
      { op: 'cmp', column: term.column, cmp: term.descending ? '<' : '>', value: encoded[i] },
    ],
  }));
  return { op: 'or', nodes: branches };
}

export function requireNonNullOrder(table: string, terms: readonly OrderTerm[]): void {
  for (const term of terms) {
    if (term.column.nullable) {
      throw new SluiceError(
        'VALIDATION',
        `page() on ${table} cannot sort by nullable column ${term.column.name}: a cursor cannot place NULLs. Use find() with limit, or sort by a non-null column.`,
        {
          table,
          column: term.column.name,
        },
      );
    }
  }
}
