import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { compiledEntry, packageRoot } from '../../src/cli/package-paths.js';

export interface CliJson {
  code: number | null;
  body: Record<string, any>;
  stderr: string;
}

/**
 * Runs the built `sluice` with --json in `cwd`, as a user would. The variables that name a
 * database or schema are cleared unless given, so the caller's environment cannot leak in.
 */
export function sluice(args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<CliJson> {
  const base = { ...process.env };
  delete base.SLUICE_SCHEMA;
  delete base.SLUICE_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [compiledEntry('cli', 'main.js'), ...args, '--json'], {
      cwd,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stdout.trim().split('\n');
      if (lines.length !== 1 || !lines[0]?.startsWith('{')) {
        reject(new Error(`sluice ${args.join(' ')}: stdout must be one JSON object, got ${JSON.stringify(stdout)}; stderr: ${stderr}`));
      } else resolve({ code, body: JSON.parse(lines[0]) as Record<string, any>, stderr });
    });
  });
}

/** The built package's entry, as a schema module imports it. */
export const PACKAGE_ENTRY = pathToFileURL(join(packageRoot(), 'dist', 'index.js')).href;

/** Writes a schema module exporting `tables` built from `definitions` (defineTable calls), and more lines. */
export function writeSchemaModule(file: string, definitions: readonly string[], ...more: string[]): string {
  writeFileSync(
    file,
    [
      `import { defineTable } from ${JSON.stringify(PACKAGE_ENTRY)};`,
      `export const tables = [${definitions.join(', ')}];`,
      ...more,
      '',
    ].join('\n'),
  );
  return file;
}

/** Everything that says what a SQLite file holds: its schema objects, their columns, and its bytes. */
export function snapshotSqlite(file: string): { objects: unknown[]; columns: Record<string, unknown[]>; sha256: string } {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    const objects = db.prepare('select type, name, tbl_name, sql from sqlite_master order by type, name').all();
    const tables = db.prepare("select name from sqlite_master where type = 'table' order by name").pluck().all() as string[];
    const columns = Object.fromEntries(tables.map((t) => [t, db.prepare('select * from pragma_table_info(?)').all(t)]));
    return { objects, columns, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
  } finally {
    db.close();
  }
}

/** The tables of a SQLite file, by name. */
export function sqliteTables(file: string): string[] {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return db.prepare("select name from sqlite_master where type = 'table' order by name").pluck().all() as string[];
  } finally {
    db.close();
  }
}
