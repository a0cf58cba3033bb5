import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { compareVersions, MIN_SQLITE_VERSION } from '../../internal.js';
import { packageRoot } from '../package-paths.js';

const run = promisify(execFile);

/** The SQLite a foreign (Python) writer will run with, and how it got it. */
export interface ForeignSqlite {
  readonly python: string;
  /** Put first on LD_LIBRARY_PATH; undefined when falling back to the system library. */
  readonly libraryDir: string | undefined;
  /** What Python's sqlite3.sqlite_version says under that environment. */
  readonly version: string;
  /** The version better-sqlite3 bundles, which Sluice itself runs. */
  readonly bundledVersion: string;
  /** Set, and meant to be shown loudly, when the foreign writer runs a SQLite older than the fix. */
  readonly warning: string | undefined;
}

/**
 * Python links the system libsqlite3 (3.40.1 here), older than 3.51.3, which fixed a WAL-reset bug
 * that can corrupt a file shared by processes. Build the amalgamation better-sqlite3 ships into a
 * libsqlite3.so.0 once (cached under node_modules/.cache/sluice) and run Python with it first on
 * LD_LIBRARY_PATH, so both sides of the shared file run the same, fixed SQLite.
 */
export async function prepareForeignSqlite(note: (text: string) => void): Promise<ForeignSqlite> {
  const python = process.env.SLUICE_PYTHON ?? 'python3';
  const source = join(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'deps', 'sqlite3');
  const bundledVersion = /#define SQLITE_VERSION\s+"([0-9.]+)"/.exec(readFileSync(join(source, 'sqlite3.h'), 'utf8'))?.[1] ?? 'unknown';
  let libraryDir: string | undefined;
  let buildProblem: string | undefined;
  if (process.platform !== 'linux') {
    buildProblem = `building a shared SQLite for Python is only set up on Linux (this is ${process.platform})`;
  } else {
    const dir = join(packageRoot(), 'node_modules', '.cache', 'sluice', `sqlite-${bundledVersion}`);
    const library = join(dir, 'libsqlite3.so.0');
    if (!existsSync(library)) {
      note(`Building SQLite ${bundledVersion} for the foreign writer into ${dir} (once; about 30 s)...`);
      try {
        await buildLibrary(join(source, 'sqlite3.c'), library);
      } catch (error) {
        buildProblem = `building ${library} failed: ${(error as Error).message.split('\n')[0]}`;
      }
    }
    if (existsSync(library)) libraryDir = dir;
  }
  let version = await pythonSqliteVersion(python, libraryDir);
  if (libraryDir !== undefined && version !== bundledVersion) {
    buildProblem = `Python still reports SQLite ${version} with ${libraryDir} on LD_LIBRARY_PATH (its sqlite3 module may be linked statically)`;
    libraryDir = undefined;
    version = await pythonSqliteVersion(python, undefined);
  }
  const warning =
    compareVersions(version, MIN_SQLITE_VERSION) < 0
      ? `THE FOREIGN WRITER RUNS THE SYSTEM SQLITE ${version}, OLDER THAN ${MIN_SQLITE_VERSION}: two processes writing one WAL file can corrupt it with that version. ${buildProblem ?? ''}`.trim()
      : undefined;
  return { python, libraryDir, version, bundledVersion, warning };
}

/** The environment that makes Python load the library chosen above. */
export function foreignEnv(sqlite: ForeignSqlite): NodeJS.ProcessEnv {
  if (sqlite.libraryDir === undefined) return { ...process.env };
  const existing = process.env.LD_LIBRARY_PATH;
  return { ...process.env, LD_LIBRARY_PATH: existing ? `${sqlite.libraryDir}:${existing}` : sqlite.libraryDir };
}

async function buildLibrary(source: string, library: string): Promise<void> {
  mkdirSync(dirname(library), { recursive: true });
  // Build under a private name and rename: two processes building at once both end with a whole file.
  const partial = `${library}.${process.pid}.partial`;
  try {
    await run(
      process.env.CC ?? 'gcc',
      [
        '-O2',
        '-shared',
        '-fPIC',
        '-DSQLITE_THREADSAFE=1',
        '-Wl,-soname,libsqlite3.so.0',
        '-o',
        partial,
        source,
        '-lpthread',
        '-ldl',
        '-lm',
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    renameSync(partial, library);
  } finally {
    rmSync(partial, { force: true });
  }
}

async function pythonSqliteVersion(python: string, libraryDir: string | undefined): Promise<string> {
  const env = foreignEnv({ libraryDir } as ForeignSqlite);
  const { stdout } = await run(python, ['-c', 'import sqlite3; print(sqlite3.sqlite_version)'], { env });
  return stdout.trim();
}
