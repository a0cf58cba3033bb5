import { type Database, fromEnv, type OpenOptions, open } from '../index.js';
import type { LoadedSchema } from './schema-loader.js';

/**
 * Opens the database a command names, with the tables of the loaded schema; SLUICE_* variables
 * and SLUICE_PROFILE fill in what the command's own options leave open (`sluice config` shows it).
 */
export function openDatabase(url: string, schema: LoadedSchema, extra: Partial<OpenOptions> = {}): Promise<Database> {
  return open(
    fromEnv({
      url,
      tables: [...schema.tables],
      schemaVersion: schema.schemaVersion,
      migrations: [...schema.migrations],
      tasks: schema.tasks,
      ...extra,
    }),
  );
}
