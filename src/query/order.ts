import { describeValue, didYouMean, SluiceError } from '../core/sluice-error.js';
import type { ColumnDef, TableDef } from '../schema/define-table.js';

export interface OrderTerm {
  readonly column: ColumnDef;
  readonly descending: boolean;
}

/** `'-updatedAt'` sorts descending; a list sorts by each in turn. The primary key breaks ties. */
export type OrderBy<Row> = `${'' | '-'}${keyof Row & string}` | readonly `${'' | '-'}${keyof Row & string}`[];

export function parseOrder(table: TableDef, orderBy: unknown): OrderTerm[] {
  const list = orderBy === undefined ? [] : Array.isArray(orderBy) ? orderBy : [orderBy];
  const terms: OrderTerm[] = [];
  for (const item of list) {
    if (typeof item !== 'string') {
      throw new SluiceError('VALIDATION', `orderBy on ${table.name} takes column names, got ${describeValue(item)}.`, {
        table: table.name,
        value: item,
      });
    }
    const descending = item.startsWith('-');
    const name = descending ? item.slice(1) : item;
    const column = table.columnsByName.get(name);
    if (!column) {
      throw new SluiceError(
        'VALIDATION',
        `orderBy on ${table.name} names unknown column ${describeValue(name)}${didYouMean(name, [...table.columnsByName.keys()])}.`,
        {
          table: table.name,
          column: name,
        },
      );
    }
    if (column.type === 'json' || column.type === 'blob') {
      throw new SluiceError('VALIDATION', `orderBy on ${table.name} cannot sort by ${column.type} column ${name}.`, {
        table: table.name,
        column: name,
      });
    }
    terms.push({ column, descending });
  }
  for (const column of table.primaryKey) {
    if (!terms.some((t) => t.column === column)) terms.push({ column, descending: false });
  }
  return terms;
}

/** Sorts decoded rows as the database would for `terms` (text by code point), for results whose order SQL leaves open. */
export function compareByTerms(terms: readonly OrderTerm[]): (a: Record<string, unknown>, b: Record<string, unknown>) => number {
  return (a, b) => {
    for (const { column, descending } of terms) {
      const x = comparable(a[column.name]);
      const y = comparable(b[column.name]);
      if (x === y) continue;
      if (x === null) return descending ? -1 : 1;
      if (y === null) return descending ? 1 : -1;
      const order =
        typeof x === 'string' && typeof y === 'string'
          ? Buffer.compare(Buffer.from(x), Buffer.from(y))
          : (x as number) < (y as number)
            ? -1
            : 1;
      return descending ? -order : order;
    }
    return 0;
  };
}

function comparable(value: unknown): unknown {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value ?? null;
}
