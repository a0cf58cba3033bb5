import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { type CliIo, newCliRun, PROCESS_IO, withCliRun } from './cli-io.js';
import { registerBench } from './commands/bench.js';
import { registerCleanup } from './commands/cleanup.js';
import { registerConfig } from './commands/config.js';
import { registerDoctor } from './commands/doctor.js';
import { registerForeignSqlite } from './commands/foreign-sqlite.js';
import { registerMigrate } from './commands/migrate.js';
import { registerServe } from './commands/serve.js';
import { registerSmoke } from './commands/smoke.js';
import { registerStress } from './commands/stress.js';
import { registerSync } from './commands/sync.js';
import { packageRoot } from './package-paths.js';

/**
 * The commands, one line each. A command module exports `register<Name>(program)`, which adds its
 * subcommand with `withCommonOptions` (--db, --json) and `commandAction` from ./cli-command.ts.
 */
const COMMANDS: readonly ((program: Command) => void)[] = [
  registerMigrate,
  registerStress,
  registerBench,
  registerSmoke,
  registerDoctor,
  registerCleanup,
  registerServe,
  registerSync,
  registerForeignSqlite,
  registerConfig,
];

/**
 * Runs `sluice <argv…>` in this process and resolves to its exit code: 0, 1 after a failed check or
 * an error, or commander's code for a usage error (2 is never used; commander says 1). Nothing here
 * calls process.exit, so a test can run many commands in one process and read what each wrote.
 */
export async function runCli(argv: readonly string[], io: CliIo = PROCESS_IO): Promise<number> {
  const state = newCliRun(io);
  const program = buildProgram(io);
  try {
    await withCliRun(state, () => program.parseAsync([...argv], { from: 'user' }));
  } catch (error) {
    // --help, --version and usage errors: commander has already written its text through io.
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
  return state.exitCode;
}

function buildProgram(io: CliIo): Command {
  const { version } = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  const program = new Command('sluice')
    .description('Sluice: one write gate in front of SQLite or PostgreSQL, shared safely by many processes')
    .version(version);
  for (const register of COMMANDS) register(program);
  // Subcommands inherit neither setting from the program, so each gets both.
  for (const command of [program, ...program.commands]) {
    command.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  }
  return program;
}
