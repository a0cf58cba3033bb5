import type { Command } from 'commander';
import { type CommonOptions, commandAction, withCommonOptions } from '../cli-command.js';
import { openDatabase, type SchemaOption, withSchemaOption } from '../open-database.js';
import { loadSchema } from '../schema-loader.js';

type MigrateOptions = CommonOptions & SchemaOption;

export function registerMigrate(program: Command): void {
  const command = program
    .command('migrate')
    .description(
      'apply the schema: create missing tables, columns and indexes and run pending migrations (safe to run from two processes)',
    );
  withSchemaOption(withCommonOptions(command)).action(
    commandAction('migrate', async (options: MigrateOptions) => {
      const schema = await loadSchema(options.schema);
      const db = await openDatabase(options.db, schema);
      try {
        const report = await db.migrate();
        const changes = report.applied.length === 0 ? ['  nothing to do: the schema is up to date'] : report.applied.map((s) => `  ${s}`);
        return {
          ok: true,
          data: { db: options.db, schema: schema.source, report },
          text: [`Migrated ${options.db} (${schema.source}): schema version ${report.fromVersion} → ${report.toVersion}`, ...changes].join(
            '\n',
          ),
        };
      } finally {
        await db.close();
      }
    }),
  );
}
