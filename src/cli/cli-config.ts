import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SluiceError } from '../index.js';
import { closestName, describeValue } from '../internal.js';
import { importSchemaModule, isTable, type LoadedSchema, schemaFromExports } from './schema-loader.js';

/** The names the CLI looks for in the working directory, as drizzle-kit looks for drizzle.config.*. */
export const CONFIG_FILES = ['sluice.config.mjs', 'sluice.config.js'] as const;
const KEYS = ['url', 'schema'];

/** A `sluice.config.{js,mjs}`: `export default { url, schema }`. */
export interface CliConfig {
  readonly file: string;
  /** The default --db. */
  readonly url?: string;
  /** The application's schema; undefined when the file names none. */
  loadSchema(): Promise<LoadedSchema | undefined>;
}

/** Finds and imports the config file in `cwd`; undefined when there is none. */
export async function loadCliConfig(cwd: string): Promise<CliConfig | undefined> {
  const found = CONFIG_FILES.map((name) => join(cwd, name)).filter((file) => existsSync(file));
  if (found.length === 0) return undefined;
  if (found.length > 1) {
    throw new SluiceError('CONFIG', `Both ${found.join(' and ')} exist; keep one, so it is clear which one names the database and schema.`);
  }
  const file = found[0] as string;
  let config: unknown;
  try {
    config = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
  } catch (error) {
    throw new SluiceError('CONFIG', `Cannot load ${file}: ${(error as Error).message}.`, { value: file, cause: error });
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new SluiceError('CONFIG', `${file} must \`export default { url, schema }\`; its default export is ${describeValue(config)}.`, {
      value: file,
    });
  }
  const record = config as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!KEYS.includes(key)) {
      const near = closestName(key, KEYS);
      throw new SluiceError(
        'CONFIG',
        `${file} has an unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}; it takes url and schema.`,
        { value: key },
      );
    }
  }
  const { url, schema } = record;
  if (url !== undefined && (typeof url !== 'string' || url.length === 0)) {
    throw new SluiceError('CONFIG', `${file} has url ${describeValue(url)}; use a database URL such as sqlite:./data/app.db.`, {
      value: url,
    });
  }
  return { file, ...(url === undefined ? {} : { url }), loadSchema: () => schemaOf(file, schema) };
}

/** `schema` is a module path (relative to the config file), the tables themselves, or `{ tables, schemaVersion?, migrations?, tasks? }`. */
async function schemaOf(file: string, schema: unknown): Promise<LoadedSchema | undefined> {
  if (schema === undefined) return undefined;
  if (typeof schema === 'string' && schema.length > 0) return importSchemaModule(schema, file, dirname(file));
  const source = `the schema in ${file}`;
  if (Array.isArray(schema) && schema.every(isTable)) return schemaFromExports({ tables: schema }, source, []);
  if (typeof schema === 'object' && schema !== null && !Array.isArray(schema)) {
    return schemaFromExports(schema as Record<string, unknown>, source, []);
  }
  throw new SluiceError(
    'CONFIG',
    `${file} has schema ${describeValue(schema)}; use a module path ('./schema.mjs'), an array of defineTable() results, or { tables, schemaVersion, migrations }.`,
    { value: file },
  );
}
