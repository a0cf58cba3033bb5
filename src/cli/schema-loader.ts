import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Migration, SluiceError } from '../index.js';
import { type AnyTableDef, describeValue, tasksTable } from '../internal.js';
import { MEDIA_FILES_SCHEMA_VERSION, mediaFiles } from './media-files-table.js';

/** What `open()` needs to know about the application's tables. */
export interface LoadedSchema {
  readonly source: string;
  readonly tables: readonly AnyTableDef[];
  readonly schemaVersion: number;
  readonly migrations: readonly Migration[];
  /** The task store: on when the module exports `tasks` (true or `{ resultTtlMs }`) or lists its table. */
  readonly tasks: false | true | { readonly resultTtlMs: number };
}

export const BUILT_IN_SCHEMA: LoadedSchema = Object.freeze({
  source: 'built-in media-files schema (media_files)',
  tables: [mediaFiles],
  schemaVersion: MEDIA_FILES_SCHEMA_VERSION,
  migrations: [],
  tasks: false,
});

/**
 * The application's schema plus the media_files table that stress and smoke write to. Their runs
 * open the database with the application's own tables, version and migrations too, so a database
 * migrated by a newer schema version is not refused and its other tables are left as they are.
 */
export function withMediaFiles(schema: LoadedSchema): LoadedSchema {
  if (schema === BUILT_IN_SCHEMA) return schema;
  const own = schema.tables.find((t) => t.name === mediaFiles.name);
  if (own && own !== mediaFiles) {
    throw new SluiceError(
      'CONFIG',
      `The schema module ${schema.source} defines its own media_files table; stress and smoke write Sluice's built-in one. Rename the application's table or run them against another database.`,
      { table: mediaFiles.name },
    );
  }
  return {
    ...schema,
    source: `${schema.source} + built-in media_files`,
    tables: own ? schema.tables : [...schema.tables, mediaFiles],
    schemaVersion: Math.max(schema.schemaVersion, MEDIA_FILES_SCHEMA_VERSION),
  };
}

/**
 * Loads `--schema <module>`: an ES module exporting `tables` (from defineTable) and optionally
 * `schemaVersion`, `migrations` and `tasks` (the open() option). Without the option, the built-in
 * media-files schema.
 */
export async function loadSchema(module: string | undefined): Promise<LoadedSchema> {
  if (module === undefined) return BUILT_IN_SCHEMA;
  const file = resolve(module);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new SluiceError('CONFIG', `Cannot load the schema module ${file}: ${(error as Error).message}.`, { value: module, cause: error });
  }
  const { tables, schemaVersion = 1, migrations = [], tasks = false } = exports;
  if (!Array.isArray(tables) || tables.length === 0 || !tables.every(isTable)) {
    throw new SluiceError(
      'CONFIG',
      `The schema module ${file} must export \`tables\`, a non-empty array of defineTable() results; found ${describeValue(tables)}.`,
      { value: module },
    );
  }
  if (!Number.isSafeInteger(schemaVersion) || (schemaVersion as number) < 1) {
    throw new SluiceError(
      'CONFIG',
      `The schema module ${file} exports schemaVersion ${describeValue(schemaVersion)}; use a whole number >= 1.`,
      {
        value: schemaVersion,
      },
    );
  }
  if (!Array.isArray(migrations)) {
    throw new SluiceError('CONFIG', `The schema module ${file} exports migrations ${describeValue(migrations)}; use an array.`, {
      value: migrations,
    });
  }
  if (!(typeof tasks === 'boolean' || (typeof tasks === 'object' && tasks !== null && 'resultTtlMs' in tasks))) {
    throw new SluiceError(
      'CONFIG',
      `The schema module ${file} exports tasks ${describeValue(tasks)}; use true, false or { resultTtlMs }.`,
      {
        value: tasks,
      },
    );
  }
  // A module that lists the task table (perhaps from another copy of Sluice) gets the store's own.
  const listsTasks = (tables as AnyTableDef[]).some((t) => t.name === tasksTable.name);
  return {
    source: file,
    tables: (tables as AnyTableDef[]).filter((t) => t.name !== tasksTable.name),
    schemaVersion: schemaVersion as number,
    migrations: migrations as Migration[],
    tasks: tasks === false && listsTasks ? true : (tasks as LoadedSchema['tasks']),
  };
}

function isTable(value: unknown): value is AnyTableDef {
  return typeof value === 'object' && value !== null && 'columnsByName' in value && 'name' in value;
}
