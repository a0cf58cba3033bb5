import type { Command } from 'commander';
import { type CommonOptions, commandAction, withCommonOptions } from '../cli-command.js';
import { resolveTarget, schemaToWrite, type TargetOptions, withSchemaOptions } from '../command-target.js';
import { openDatabase } from '../open-database.js';

type MigrateOptions = CommonOptions & TargetOptions;

export function registerMigrate(program: Command): void {
  const command = program
    .command('migrate')
    .description(
      "apply the application's schema (--schema, SLUICE_SCHEMA or sluice.config.mjs): create missing tables, columns and indexes and run pending migrations (safe to run from two processes)",
    );
  withSchemaOptions(withCommonOptions(command)).action(
    commandAction('migrate', async (options: MigrateOptions) => {
      const target = await resolveTarget(options);
      const schema = await schemaToWrite(target, 'migrate');
      const db = await openDatabase(target.url, schema);
      try {
        const report = await db.migrate();
        const changes = report.applied.length === 0 ? ['  nothing to do: the schema is up to date'] : report.applied.map((s) => `  ${s}`);
        return {
          ok: true,
          data: { db: target.url, schema: schema.source, report },
          text: [`Migrated ${target.url} (${schema.source}): schema version ${report.fromVersion} → ${report.toVersion}`, ...changes].join(
            '\n',
          ),
        };
      } finally {
        await db.close();
      }
    }),
  );
}
