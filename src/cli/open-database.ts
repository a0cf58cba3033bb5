import type { Command } from 'commander';
import { type Database, type OpenOptions, open } from '../index.js';
import type { LoadedSchema } from './schema-loader.js';

export interface SchemaOption {
  schema?: string;
}

/** Adds --schema to a command. */
export function withSchemaOption(command: Command): Command {
  return command.option(
    '--schema <module>',
    'an ES module exporting `tables` (and optional `schemaVersion`, `migrations`); default: the built-in media_files table',
  );
}

/** Opens the database a command names, with the tables of the loaded schema. */
export function openDatabase(url: string, schema: LoadedSchema, extra: Partial<OpenOptions> = {}): Promise<Database> {
  return open({
    url,
    tables: [...schema.tables],
    schemaVersion: schema.schemaVersion,
    migrations: [...schema.migrations],
    tasks: schema.tasks,
    ...extra,
  });
}
