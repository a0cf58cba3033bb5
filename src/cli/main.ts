#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
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

const { version } = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
const program = new Command('sluice')
  .description('Sluice: one write gate in front of SQLite or PostgreSQL, shared safely by many processes')
  .version(version);
for (const register of COMMANDS) register(program);
await program.parseAsync(process.argv);
