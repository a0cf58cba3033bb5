import type { Command } from 'commander';
import { type Database, open, SluiceError } from '../../index.js';
import { parseUrl } from '../../internal.js';
import { type CommonOptions, commandAction, DEFAULT_DB_URL, withCommonOptions } from '../cli-command.js';
import { type CommandTarget, migrateCommand, resolveTarget, type TargetOptions, withSchemaOptions } from '../command-target.js';
import { listTables, type TableListing, unreadable } from '../database-tables.js';
import { NAME_THE_SCHEMA, whyNotDemo } from '../demo-guard.js';
import { openDatabase } from '../open-database.js';
import { schemaGaps } from '../schema-check.js';
import type { LoadedSchema } from '../schema-loader.js';

type DoctorOptions = CommonOptions & TargetOptions;

interface TableFacts {
  name: string;
  rows: number | null;
  missing?: true;
  missingColumns?: readonly string[];
  problem?: string;
}

/** What the checks found: a problem makes doctor fail; a warning is worth reading. */
interface Findings {
  readonly problems: string[];
  readonly warnings: string[];
}

export function registerDoctor(program: Command): void {
  const command = program
    .command('doctor')
    .description(
      "check the database: integrity, WAL size, checkpoint, schema and library versions, and, given the application's schema, that every table and column is there",
    );
  withSchemaOptions(withCommonOptions(command), "check Sluice's built-in demo table media_files").action(
    commandAction('doctor', async (options: DoctorOptions) => {
      const target = await resolveTarget(options);
      const listing = await listTables(target.url);
      const findings: Findings = { problems: [], warnings: [] };
      const schema = schemaToCheck(target, listing, options.demo === true, findings);
      const db = await openForLooking(target.url, schema);
      try {
        const facts = await db.diagnose();
        const integrity = facts.integrity;
        if (Array.isArray(integrity) && !(integrity.length === 1 && integrity[0] === 'ok')) {
          findings.problems.push(`integrity_check reports: ${integrity.slice(0, 5).join('; ')}`);
        }
        const tables =
          schema === undefined ? [] : await checkTables(db, target, schema, listing, Number(facts.schemaVersion ?? 0), findings);
        if (schema === undefined) {
          findings.warnings.push(`no schema is named, so the tables were not compared with the application's. ${NAME_THE_SCHEMA}.`);
        }
        const healthy = findings.problems.length === 0;
        const lines = [`Doctor for ${target.url} (${schema?.source ?? 'no schema named: the database alone'})`];
        for (const [key, value] of Object.entries(facts)) lines.push(`  ${key.padEnd(20)} ${format(value)}`);
        if (schema !== undefined) {
          lines.push(`  ${'codeSchemaVersion'.padEnd(20)} ${schema.schemaVersion}`, '  tables:');
          for (const t of tables) lines.push(`    ${t.name.padEnd(24)} ${describeTable(t)}`);
        } else {
          lines.push(`  ${'tables'.padEnd(20)} ${[...listing.keys()].join(', ') || '(none)'}`);
        }
        for (const p of findings.problems) lines.push(`PROBLEM: ${p}`);
        for (const w of findings.warnings) lines.push(`warning: ${w}`);
        if (!healthy) lines.push('NOT HEALTHY');
        else lines.push(schema === undefined ? 'no problems found in integrity, WAL and versions; tables not compared' : 'healthy');
        return {
          ok: healthy,
          data: {
            db: target.url,
            schema: schema?.source ?? null,
            diagnosis: facts,
            codeSchemaVersion: schema?.schemaVersion ?? null,
            tables,
            databaseTables: [...listing].map(([name, columns]) => ({ name, columns })),
            problems: findings.problems,
            warnings: findings.warnings,
          },
          text: lines.join('\n'),
        };
      } finally {
        await db.close();
      }
    }),
  );
}

/**
 * The schema to compare the database with. The demo table is compared only where it may be:
 * on the default demo file holding other tables, doctor looks at the database alone instead of
 * advising to migrate the demo into it; an explicit --demo there is refused like everywhere else.
 */
function schemaToCheck(target: CommandTarget, listing: TableListing, demoFlag: boolean, findings: Findings): LoadedSchema | undefined {
  if (!target.schema?.demo) return target.schema;
  const reason = whyNotDemo(target.url, listing);
  if (reason === undefined) return target.schema;
  if (demoFlag) throw new SluiceError('CONFIG', reason, { value: target.url });
  findings.warnings.push(`${DEFAULT_DB_URL} is the default demo file, but it holds tables that are not the demo's.`);
  return undefined;
}

/**
 * Doctor only looks: a typo'd path must not leave a new, empty, "healthy" database behind, and a
 * database newer than the code is exactly what doctor must be able to look at, so it opens
 * without the version guard; it never migrates, so nothing is written under a wrong version.
 */
async function openForLooking(url: string, schema: LoadedSchema | undefined): Promise<Database> {
  const looking = { schemaVersion: Number.MAX_SAFE_INTEGER, sqlite: { create: false } } as const;
  try {
    return await (schema === undefined ? open({ url, tables: [], ...looking }) : openDatabase(url, schema, looking));
  } catch (error) {
    // open() lets a damaged file's SqliteError through unclassified; doctor names it.
    const location = parseUrl(url);
    if (SluiceError.is(error) || location.kind !== 'sqlite') throw error;
    throw unreadable(location.file, error);
  }
}

/** Compares the schema with the database: a missing table, column or migration makes doctor fail, with the command that fixes it. */
async function checkTables(
  db: Database,
  target: CommandTarget,
  schema: LoadedSchema,
  listing: TableListing,
  dbVersion: number,
  findings: Findings,
): Promise<TableFacts[]> {
  const fix = `run \`${migrateCommand(target, schema)}\``;
  const gaps = new Map(schemaGaps(schema, listing).map((gap) => [gap.name, gap]));
  for (const gap of gaps.values()) {
    findings.problems.push(
      gap.missing
        ? `table ${gap.name} is missing: ${fix}`
        : `table ${gap.name} lacks the column${gap.missingColumns.length === 1 ? '' : 's'} ${gap.missingColumns.join(', ')}: ${fix}`,
    );
  }
  if (dbVersion > schema.schemaVersion) {
    findings.problems.push(
      `the database is at schema version ${dbVersion}, newer than this code's ${schema.schemaVersion}: upgrade the code`,
    );
  } else if (dbVersion < schema.schemaVersion) {
    findings.problems.push(`the database is at schema version ${dbVersion}, the code at ${schema.schemaVersion}: ${fix}`);
  }
  const tables: TableFacts[] = [];
  for (const table of schema.tables) {
    const gap = gaps.get(table.name);
    if (gap?.missing) {
      tables.push({ name: table.name, rows: null, missing: true });
      continue;
    }
    const facts: TableFacts = { name: table.name, rows: null, ...(gap ? { missingColumns: gap.missingColumns } : {}) };
    try {
      facts.rows = await db.table(table).count();
    } catch (error) {
      facts.problem = SluiceError.is(error) ? `${error.code}: ${error.message}` : String(error);
      findings.warnings.push(`table ${table.name} cannot be counted: ${facts.problem}`);
    }
    tables.push(facts);
  }
  return tables;
}

function describeTable(t: TableFacts): string {
  if (t.missing) return 'MISSING';
  const rows = t.rows === null ? 'unreadable (see below)' : `${t.rows} rows`;
  return t.missingColumns ? `${rows}, lacks ${t.missingColumns.join(', ')}` : rows;
}

function format(value: unknown): string {
  if (Array.isArray(value)) return value.join('; ');
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}
