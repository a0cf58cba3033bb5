import type { Command } from 'commander';
import { SluiceError } from '../../index.js';
import { type CommonOptions, commandAction, withCommonOptions } from '../cli-command.js';
import { openDatabase, type SchemaOption, withSchemaOption } from '../open-database.js';
import { loadSchema } from '../schema-loader.js';

type DoctorOptions = CommonOptions & SchemaOption;

interface TableFacts {
  name: string;
  rows: number | null;
  problem?: string;
}

export function registerDoctor(program: Command): void {
  const command = program
    .command('doctor')
    .description('check the database: integrity, WAL size, checkpoint, schema version, library version, tables');
  withSchemaOption(withCommonOptions(command)).action(
    commandAction('doctor', async (options: DoctorOptions) => {
      const schema = await loadSchema(options.schema);
      // A database newer than the code is exactly what doctor must be able to look at, so it opens
      // without the version guard; it never migrates, so nothing is written under a wrong version.
      // Doctor only looks: a typo'd path must not leave a new, empty, "healthy" database behind.
      const db = await openDatabase(options.db, { ...schema, schemaVersion: Number.MAX_SAFE_INTEGER }, { sqlite: { create: false } });
      try {
        const facts = await db.diagnose();
        const tables: TableFacts[] = [];
        for (const table of schema.tables) {
          try {
            tables.push({ name: table.name, rows: await db.table(table).count() });
          } catch (error) {
            tables.push({ name: table.name, rows: null, problem: SluiceError.is(error) ? error.message : String(error) });
          }
        }
        const problems: string[] = [];
        const warnings: string[] = [];
        const integrity = facts.integrity;
        if (Array.isArray(integrity) && !(integrity.length === 1 && integrity[0] === 'ok')) {
          problems.push(`integrity_check reports: ${integrity.slice(0, 5).join('; ')}`);
        }
        const dbVersion = Number(facts.schemaVersion ?? 0);
        if (dbVersion > schema.schemaVersion) {
          problems.push(`the database is at schema version ${dbVersion}, newer than this code's ${schema.schemaVersion}: upgrade the code`);
        } else if (dbVersion < schema.schemaVersion) {
          warnings.push(`the database is at schema version ${dbVersion}, the code at ${schema.schemaVersion}: run \`sluice migrate\``);
        }
        for (const t of tables) if (t.problem) warnings.push(`table ${t.name}: ${t.problem}`);
        const lines = [`Doctor for ${options.db} (${schema.source})`];
        for (const [key, value] of Object.entries(facts)) lines.push(`  ${key.padEnd(20)} ${format(value)}`);
        lines.push(`  ${'codeSchemaVersion'.padEnd(20)} ${schema.schemaVersion}`, '  tables:');
        for (const t of tables) lines.push(`    ${t.name.padEnd(24)} ${t.rows === null ? 'unreadable (see below)' : `${t.rows} rows`}`);
        for (const p of problems) lines.push(`PROBLEM: ${p}`);
        for (const w of warnings) lines.push(`warning: ${w}`);
        if (problems.length === 0) lines.push('healthy');
        return {
          ok: problems.length === 0,
          data: { db: options.db, diagnosis: facts, codeSchemaVersion: schema.schemaVersion, tables, problems, warnings },
          text: lines.join('\n'),
        };
      } finally {
        await db.close();
      }
    }),
  );
}

function format(value: unknown): string {
  if (Array.isArray(value)) return value.join('; ');
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}
