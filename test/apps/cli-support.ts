import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { compiledEntry, packageRoot } from '../../src/cli/package-paths.js';
import { runCli } from '../../src/cli/run-cli.js';

export interface CliJson {
  code: number | null;
  body: Record<string, any>;
  stderr: string;
}

export interface CliText {
  code: number;
  stdout: string;
  stderr: string;
}

/** The variables that name a database, schema or sync target: cleared for every run unless given. */
const ISOLATED = ['SLUICE_SCHEMA', 'SLUICE_URL', 'SLUICE_SYNC_TARGET', 'SLUICE_SYNC_SCHEMA'];

/**
 * Runs `sluice <args…>` in this process through runCli, in `cwd` with `env` laid over the
 * environment, and gives back what it wrote and its exit code. The working directory and the
 * variables are the process's own, so they are set for the run and restored after it; tests in
 * one file run one after another, and each file has a process of its own (pool: forks).
 */
export async function sluiceText(
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
  hooks: { onStderr?: (text: string) => void; stopped?: () => Promise<string> } = {},
): Promise<CliText> {
  const saved = Object.fromEntries([...ISOLATED, ...Object.keys(env)].map((name) => [name, process.env[name]]));
  const savedCwd = process.cwd();
  for (const name of ISOLATED) delete process.env[name];
  Object.assign(process.env, env);
  process.chdir(cwd);
  let stdout = '';
  let stderr = '';
  try {
    const code = await runCli(args, {
      stdout: (t) => (stdout += t),
      stderr: (t) => {
        stderr += t;
        hooks.onStderr?.(t);
      },
      ...(hooks.stopped ? { stopped: hooks.stopped } : {}),
    });
    return { code, stdout, stderr };
  } finally {
    process.chdir(savedCwd);
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** sluiceText with --json: stdout must be exactly one JSON object, which comes back parsed. */
export async function sluice(
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
  hooks: Parameters<typeof sluiceText>[3] = {},
): Promise<CliJson> {
  const run = await sluiceText([...args, '--json'], cwd, env, hooks);
  const lines = run.stdout.trim().split('\n');
  if (lines.length !== 1 || !lines[0]?.startsWith('{')) {
    throw new Error(`sluice ${args.join(' ')}: stdout must be one JSON object, got ${JSON.stringify(run.stdout)}; stderr: ${run.stderr}`);
  }
  return { code: run.code, body: JSON.parse(lines[0]) as Record<string, any>, stderr: run.stderr };
}

/**
 * Runs the built `sluice` with --json in `cwd` as a separate process, as a user would: for the
 * tests where the process boundary is the point. Same isolation of the environment as sluiceText.
 */
export function sluiceBin(args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<CliJson> {
  const base = { ...process.env };
  for (const name of ISOLATED) delete base[name];
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
