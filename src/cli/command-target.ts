import { resolve } from 'node:path';
import type { Command } from 'commander';
import { SluiceError } from '../index.js';
import { parseUrl } from '../internal.js';
import { DEFAULT_DB_URL } from './cli-command.js';
import { type CliConfig, loadCliConfig } from './cli-config.js';
import { assertDemoDatabase, NAME_THE_SCHEMA } from './demo-guard.js';
import { BUILT_IN_SCHEMA, importSchemaModule, type LoadedSchema } from './schema-loader.js';

/** The options that say which database and which tables a command works on. */
export interface TargetOptions {
  db?: string;
  schema?: string;
  demo?: boolean;
}

export interface CommandTarget {
  readonly url: string;
  /** The application's schema, the built-in demo table, or undefined when none is named. */
  readonly schema: LoadedSchema | undefined;
}

/** Adds --schema and --demo to a command that opens the application's tables. */
export function withSchemaOptions(
  command: Command,
  demo = "use Sluice's built-in demo table media_files (refused in a database that holds other tables)",
): Command {
  return withDemoOption(
    command.option(
      '--schema <module>',
      'an ES module exporting `tables` (and optional `schemaVersion`, `migrations`, `tasks`); default: $SLUICE_SCHEMA, else `schema` in sluice.config.mjs',
    ),
    demo,
  );
}

export function withDemoOption(
  command: Command,
  description = "run on Sluice's built-in demo table media_files in a database of its own (refused in a database that holds other tables)",
): Command {
  return command.option('--demo', description, false);
}

/** --db, else SLUICE_URL, else `url` in sluice.config.{js,mjs}, else the default demo file. */
export async function resolveUrl(options: TargetOptions, cwd = process.cwd(), env = process.env): Promise<string> {
  return urlFrom(options, env, options.db === undefined && !env.SLUICE_URL ? await loadCliConfig(cwd) : undefined);
}

/**
 * Finds the database and the application's schema the way drizzle-kit finds its config:
 * --schema, else SLUICE_SCHEMA, else `schema` in sluice.config.{js,mjs} in the working directory.
 * The built-in demo table only with --demo, or when nothing names a schema and the database is
 * the default demo file. The config file is read only when a flag or variable does not settle it.
 */
export async function resolveTarget(options: TargetOptions, cwd = process.cwd(), env = process.env): Promise<CommandTarget> {
  if (options.demo && options.schema !== undefined) {
    throw new SluiceError(
      'CONFIG',
      `--demo uses Sluice's built-in demo table and --schema ${options.schema} the application's tables; pass one of them.`,
      { value: options.schema },
    );
  }
  const schemaSettled = options.demo === true || options.schema !== undefined || Boolean(env.SLUICE_SCHEMA);
  const urlSettled = options.db !== undefined || Boolean(env.SLUICE_URL);
  const config = schemaSettled && urlSettled ? undefined : await loadCliConfig(cwd);
  const url = urlFrom(options, env, config);
  if (options.demo) return { url, schema: BUILT_IN_SCHEMA };
  const schema =
    options.schema !== undefined
      ? await importSchemaModule(options.schema, '--schema', cwd)
      : env.SLUICE_SCHEMA
        ? await importSchemaModule(env.SLUICE_SCHEMA, 'SLUICE_SCHEMA', cwd)
        : await config?.loadSchema();
  if (schema !== undefined) return { url, schema };
  return { url, schema: isDefaultDemoFile(url, cwd) ? BUILT_IN_SCHEMA : undefined };
}

/** The schema a command cannot work without; CONFIG, naming where to set it, when there is none. */
export function requireSchema(target: CommandTarget, command: string): LoadedSchema {
  if (target.schema !== undefined) return target.schema;
  throw new SluiceError(
    'CONFIG',
    `sluice ${command} needs the application's schema, and none is named for ${target.url}. ${NAME_THE_SCHEMA}. ` +
      `Sluice's built-in demo table media_files is used only with --demo or on the default demo file (${DEFAULT_DB_URL}), and never in a database that holds other tables.`,
  );
}

/** The schema, after checking that the demo table (if that is what it is) may go into this database. */
export async function schemaToWrite(target: CommandTarget, command: string): Promise<LoadedSchema> {
  const schema = requireSchema(target, command);
  if (schema.demo) await assertDemoDatabase(target.url);
  return schema;
}

/**
 * For stress and smoke, which write only the demo table: the database, once it is sure to be the
 * demo's (--demo, or the default demo file) and to hold nothing else.
 */
export async function resolveDemoUrl(options: TargetOptions, command: string, cwd = process.cwd(), env = process.env): Promise<string> {
  const url = await resolveUrl(options, cwd, env);
  if (!options.demo && !isDefaultDemoFile(url, cwd)) {
    throw new SluiceError(
      'CONFIG',
      `sluice ${command} writes Sluice's built-in demo table media_files, never an application's tables, and ${url} is not the default demo file (${DEFAULT_DB_URL}). ` +
        `To run it there, pass --demo; it refuses a database that holds other tables, so give it one of its own (--demo --db sqlite:./${command}.db).`,
      { value: url },
    );
  }
  await assertDemoDatabase(url);
  return url;
}

/** The command line that applies this schema to this database, for advice in a report. */
export function migrateCommand(target: CommandTarget, schema: LoadedSchema): string {
  return ['sluice', 'migrate', '--db', target.url, ...schema.flags].map(shellWord).join(' ');
}

export function isDefaultDemoFile(url: string, cwd = process.cwd()): boolean {
  const location = parseUrl(url);
  const demo = parseUrl(DEFAULT_DB_URL);
  if (location.kind !== 'sqlite' || demo.kind !== 'sqlite' || location.file === ':memory:') return false;
  return resolve(cwd, location.file) === resolve(cwd, demo.file);
}

function urlFrom(options: TargetOptions, env: NodeJS.ProcessEnv, config: CliConfig | undefined): string {
  return options.db ?? (env.SLUICE_URL || undefined) ?? config?.url ?? DEFAULT_DB_URL;
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
