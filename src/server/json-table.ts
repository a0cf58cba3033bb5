import type { Database, Table } from '../index.js';
import type { AnyTableDef } from '../internal.js';

/** A row, patch or filter as a request's JSON decodes it (values already turned into Dates and bytes by the table's schema). */
export type JsonRow = Record<string, unknown>;

/**
 * The handle every route reads and writes through. The server learns its tables at run time, so
 * it programs against `Table<AnyTableDef>`: there a row, an insert, a patch and a filter are
 * records of any column, which a decoded JSON object is, and a state or an orderBy is a string.
 * (`Table<any>` turned every argument into `never` and called for a cast at each call.)
 */
export type JsonTable = Table<AnyTableDef>;

export function jsonTable(db: Database, def: AnyTableDef): JsonTable {
  return db.table(def);
}
