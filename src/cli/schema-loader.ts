import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Migration, SluiceError } from '../index.js';
import { type AnyTableDef, describeValue, tasksTable } from '../internal.js';
import { MEDIA_FILES_SCHEMA_VERSION, mediaFiles } from './media-files-table.js';

/** What `open()` needs to know about the application's tables. */
export interface LoadedSchema {
  /** Where the schema came from, for messages: a module path and who named it, or the demo. */
  readonly source: string;
  readonly tables: readonly AnyTableDef[];
  readonly schemaVersion: number;
  readonly migrations: readonly Migration[];
  /** The task store: on when the module exports `tasks` (true or `{ resultTtlMs }`) or lists its table. */
  readonly tasks: false | true | { readonly resultTtlMs: number };
  /** True only for the built-in media_files demo table. */
  readonly demo: boolean;
  /** The flags that name this schema again on a command line, for advice such as "run sluice migrate …". */
  readonly flags: readonly string[];
}

/** Sluice's built-in demo table: used only with --demo or on the default demo file. */
export const BUILT_IN_SCHEMA: LoadedSchema = Object.freeze({
  source: "Sluice's built-in demo table media_files",
  tables: [mediaFiles],
  schemaVersion: MEDIA_FILES_SCHEMA_VERSION,
  migrations: [],
  tasks: false,
  demo: true,
  flags: ['--demo'],
});

/**
 * Imports a schema module: an ES module exporting `tables` (from defineTable) and optionally
 * `schemaVersion`, `migrations` and `tasks` (the open() option). `namedBy` says who pointed at it
 * (--schema, SLUICE_SCHEMA, a config file), so a refusal tells the user which setting to fix.
 */
export async function importSchemaModule(module: string, namedBy: string, base = process.cwd()): Promise<LoadedSchema> {
  const file = resolve(base, module);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new SluiceError('CONFIG', `Cannot load the schema module ${file} (named by ${namedBy}): ${(error as Error).message}.`, {
      value: module,
      cause: error,
    });
  }
  return schemaFromExports(exports, `${file}, named by ${namedBy}`, ['--schema', file]);
}

/** Checks what a schema module (or a config file's `schema` object) exports. */
export function schemaFromExports(exports: Record<string, unknown>, source: string, flags: readonly string[]): LoadedSchema {
  const { tables, schemaVersion = 1, migrations = [], tasks = false } = exports;
  if (!Array.isArray(tables) || tables.length === 0 || !tables.every(isTable)) {
    throw new SluiceError(
      'CONFIG',
      `The schema ${source} must export \`tables\`, a non-empty array of defineTable() results; found ${describeValue(tables)}.`,
      { value: tables },
    );
  }
  if (!Number.isSafeInteger(schemaVersion) || (schemaVersion as number) < 1) {
    throw new SluiceError(
      'CONFIG',
      `The schema ${source} exports schemaVersion ${describeValue(schemaVersion)}; use a whole number >= 1.`,
      {
        value: schemaVersion,
      },
    );
  }
  if (!Array.isArray(migrations)) {
    throw new SluiceError('CONFIG', `The schema ${source} exports migrations ${describeValue(migrations)}; use an array.`, {
      value: migrations,
    });
  }
  if (!(typeof tasks === 'boolean' || (typeof tasks === 'object' && tasks !== null && 'resultTtlMs' in tasks))) {
    throw new SluiceError('CONFIG', `The schema ${source} exports tasks ${describeValue(tasks)}; use true, false or { resultTtlMs }.`, {
      value: tasks,
    });
  }
  // A module that lists the task table (perhaps from another copy of Sluice) gets the store's own.
  const listsTasks = (tables as AnyTableDef[]).some((t) => t.name === tasksTable.name);
  return {
    source,
    tables: (tables as AnyTableDef[]).filter((t) => t.name !== tasksTable.name),
    schemaVersion: schemaVersion as number,
    migrations: migrations as Migration[],
    tasks: tasks === false && listsTasks ? true : (tasks as LoadedSchema['tasks']),
    demo: false,
    flags,
  };
}

export function isTable(value: unknown): value is AnyTableDef {
  return typeof value === 'object' && value !== null && 'columnsByName' in value && 'name' in value;
}
