import { tasksTable } from '../internal.js';
import type { TableListing } from './database-tables.js';
import type { LoadedSchema } from './schema-loader.js';

/** What the database lacks of one table the schema expects. */
export interface TableGap {
  readonly name: string;
  /** The table is not there at all. */
  readonly missing: boolean;
  /** Columns the schema declares that the table lacks (as the database spells them). */
  readonly missingColumns: readonly string[];
}

interface Expected {
  readonly name: string;
  /** Empty: only the table's presence is checked (its columns are Sluice's business). */
  readonly columns: readonly string[];
}

/**
 * The tables `db.migrate()` would create for this schema: the declared ones (with the lease
 * columns a leased lifecycle adds), each lifecycle's history table, and the task store's table.
 */
function expectedTables(schema: LoadedSchema): Expected[] {
  const expected: Expected[] = [];
  for (const table of schema.tables) {
    expected.push({ name: table.name, columns: table.columns.map((c) => c.sqlName) });
    if (table.lifecycle?.history) expected.push({ name: `${table.name}_history`, columns: [] });
  }
  if (schema.tasks !== false) expected.push({ name: tasksTable.name, columns: tasksTable.columns.map((c) => c.sqlName) });
  return expected;
}

/** Every table of the schema that is missing, or lacks columns, in the database; empty when nothing is. */
export function schemaGaps(schema: LoadedSchema, listing: TableListing): TableGap[] {
  const gaps: TableGap[] = [];
  for (const { name, columns } of expectedTables(schema)) {
    const present = listing.get(name);
    if (present === undefined) gaps.push({ name, missing: true, missingColumns: [] });
    else {
      const missingColumns = columns.filter((c) => !present.includes(c));
      if (missingColumns.length > 0) gaps.push({ name, missing: false, missingColumns });
    }
  }
  return gaps;
}
