import type { Command } from 'commander';
import { type CommonOptions, commandAction } from '../cli-command.js';
import { prepareForeignSqlite } from '../foreign/foreign-sqlite.js';

/**
 * Builds, once, the SQLite that Sluice itself runs as a shared library for other programs on the
 * same file (a Python script, the sqlite3 CLI), and prints how to use it. Distributions ship
 * SQLite older than 3.51.3, whose WAL-reset race can corrupt a file two processes write.
 */
export function registerForeignSqlite(program: Command): void {
  program
    .command('foreign-sqlite')
    .description(
      "build SQLite (the version Sluice bundles, >= 3.51.3) as libsqlite3.so.0 for foreign writers such as Python's sqlite3, and print the LD_LIBRARY_PATH that makes them use it",
    )
    .option('--json', 'print exactly one JSON object on stdout and nothing else', false)
    .action(
      commandAction('foreign-sqlite', async (_options: Omit<CommonOptions, 'db'> & { db?: string }, ui) => {
        const foreign = await prepareForeignSqlite((text) => ui.note(text));
        const ok = foreign.libraryDir !== undefined && foreign.warning === undefined;
        const lines = ok
          ? [
              `SQLite ${foreign.version} for foreign writers is in ${foreign.libraryDir}.`,
              'Run them with it first on the library path, for example:',
              `  LD_LIBRARY_PATH=${foreign.libraryDir} ${foreign.python} your_writer.py`,
              `  LD_LIBRARY_PATH=${foreign.libraryDir} ${foreign.python} -c 'import sqlite3; print(sqlite3.sqlite_version)'   # ${foreign.version}`,
            ]
          : [`No fixed SQLite for foreign writers: ${foreign.warning ?? 'the build did not produce a library'}.`];
        return {
          ok,
          data: {
            libraryDir: foreign.libraryDir ?? null,
            version: foreign.version,
            bundledVersion: foreign.bundledVersion,
            warning: foreign.warning ?? null,
          },
          text: lines.join('\n'),
        };
      }),
    );
}
