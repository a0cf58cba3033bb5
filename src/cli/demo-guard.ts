import { SluiceError } from '../index.js';
import { tasksTable } from '../internal.js';
import { listTables, type TableListing } from './database-tables.js';
import { DEMO_CORE_COLUMNS, DEMO_HISTORY_COLUMNS, DEMO_HISTORY_TABLE, mediaFiles } from './media-files-table.js';

/** How the application names its schema, for every message that asks for it. */
export const NAME_THE_SCHEMA =
  "Name the application's schema with --schema ./schema.mjs, SLUICE_SCHEMA=./schema.mjs, or a sluice.config.mjs in the working directory (export default { url, schema })";

/** Sluice's own state (migrations, commit markers, sync outbox and node, the task store): never the application's. */
export function isSluiceTable(name: string): boolean {
  return name.startsWith('_sluice') || name === tasksTable.name;
}

interface Shape {
  /** Every column the table may have. */
  readonly allowed: ReadonlySet<string>;
  /** The columns it must have. */
  readonly required: readonly string[];
}

const DEMO_SHAPES: ReadonlyMap<string, Shape> = new Map([
  [mediaFiles.name, { allowed: new Set(mediaFiles.columns.map((c) => c.sqlName)), required: DEMO_CORE_COLUMNS }],
  [DEMO_HISTORY_TABLE, { allowed: new Set(DEMO_HISTORY_COLUMNS), required: DEMO_HISTORY_COLUMNS }],
]);

/**
 * Why the demo may not use this database; undefined when it may (it holds nothing, or only
 * Sluice's tables and the demo's own, in the demo's shape). A media_files of another shape is
 * the user's, and the migrator would add the demo's columns, indexes and triggers to it.
 */
export function whyNotDemo(url: string, listing: TableListing): string | undefined {
  const others: string[] = [];
  const foreignShaped: string[] = [];
  for (const [name, columns] of listing) {
    if (isSluiceTable(name)) continue;
    const shape = DEMO_SHAPES.get(name);
    if (shape === undefined) others.push(name);
    else if (!shape.required.every((c) => columns.includes(c)) || !columns.every((c) => shape.allowed.has(c))) {
      foreignShaped.push(`${name} (columns ${columns.join(', ')})`);
    }
  }
  if (others.length === 0 && foreignShaped.length === 0) return undefined;
  const found = [
    ...(others.length > 0 ? [`holds tables of its own (${list(others)})`] : []),
    ...(foreignShaped.length > 0 ? [`has ${list(foreignShaped)}, not in the shape of Sluice's demo table`] : []),
  ].join(' and ');
  return (
    `The database ${url} ${found}. Sluice's built-in demo table ${mediaFiles.name} is never added to a database that holds other tables, ` +
    `and a table of yours is never altered. ${NAME_THE_SCHEMA}; or give the demo a database of its own (--demo --db sqlite:./demo.db).`
  );
}

/** Refuses, with CONFIG, to let the demo table into a database that holds anything else. */
export async function assertDemoDatabase(url: string): Promise<void> {
  const reason = whyNotDemo(url, await listTables(url));
  if (reason !== undefined) throw new SluiceError('CONFIG', reason, { table: mediaFiles.name });
}

function list(names: readonly string[]): string {
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')} and ${names.length - 8} more`;
}
