import { type Database, type OpenOptions, open } from '../index.js';
import type { LoadedSchema } from './schema-loader.js';

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
