import { type Command, InvalidArgumentError } from 'commander';
import { SluiceError } from '../index.js';
import { type CliIo, cliRun, PROCESS_IO } from './cli-io.js';
import { type Progress, startProgress } from './cli-progress-bar.js';

export const DEFAULT_DB_URL = 'sqlite:./data/sluice.db';

/** The options every command takes; --db is resolved by ./command-target.ts (SLUICE_URL, sluice.config.mjs, default). */
export interface CommonOptions {
  db?: string;
  json: boolean;
}

/** What a command hands back: the --json object, the text a person reads, and whether all was well. */
export interface CommandOutcome {
  /** false → exit code 1 (a failed check, a surfaced error). */
  readonly ok: boolean;
  readonly data: Record<string, unknown>;
  readonly text: string;
}

/** What a command may use while it runs; nothing here writes to stdout. */
export interface CommandUi {
  readonly json: boolean;
  /** A progress bar on a terminal; a no-op otherwise (and always with --json). */
  progress(label: string, total: number, unit: string): Progress;
  /** A line for the person watching (stderr, so stdout stays one JSON object with --json). */
  note(text: string): void;
}

/** Adds --db and --json to a command. */
export function withCommonOptions(command: Command): Command {
  return command
    .option(
      '--db <url>',
      `database URL: sqlite:./path.db, sqlite::memory: or postgres://user@host/db (default: $SLUICE_URL, else \`url\` in sluice.config.mjs, else ${DEFAULT_DB_URL})`,
    )
    .option('--json', 'print exactly one JSON object on stdout and nothing else', false);
}

/**
 * Wraps a command body: prints its outcome as text or as one JSON object, turns any error into
 * its code and message, and sets the exit code. Never calls process.exit, so stdout drains.
 */
export function commandAction<O extends CommonOptions>(
  name: string,
  body: (options: O, ui: CommandUi) => Promise<CommandOutcome>,
): (options: O) => Promise<void> {
  return async (options) => {
    const run = cliRun();
    const ui = createUi(options.json, run.io);
    const writeJson = (value: Record<string, unknown>) => run.io.stdout(`${JSON.stringify(value)}\n`);
    try {
      const outcome = await body(options, ui);
      if (options.json) writeJson({ command: name, ok: outcome.ok, ...outcome.data });
      else run.io.stdout(`${outcome.text.trimEnd()}\n`);
      if (!outcome.ok) run.exitCode = 1;
    } catch (error) {
      const code = SluiceError.is(error) ? error.code : unclassified(error);
      const message = error instanceof Error ? error.message : String(error);
      if (options.json) writeJson({ command: name, ok: false, error: { code, message } });
      else run.io.stderr(`sluice ${name}: ${code}: ${message}\n`);
      run.exitCode = 1;
    }
  };
}

/**
 * A code for an error the library let through unclassified. A driver's SQLite error is the
 * database failing, as the library's own fallback classifies it; anything else is a bug here.
 */
function unclassified(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? 'UNAVAILABLE' : 'ERROR';
}

function createUi(json: boolean, io: CliIo): CommandUi {
  const onTerminal = !json && io === PROCESS_IO && process.stdout.isTTY === true;
  return {
    json,
    progress: (label, total, unit) => startProgress(onTerminal, label, total, unit),
    note: (text) => {
      if (!json) io.stderr(`${text}\n`);
    },
  };
}

/** A commander argument parser for whole numbers in a range. */
export function wholeNumber(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
    return n;
  };
}
