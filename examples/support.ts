/**
 * What every example shares: how it is started (`npm run example -- <name> [--seconds S]`), how a
 * role runs as its own OS process, and the one JSON line each example ends with.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ExampleOptions {
  /** How long the load runs. */
  readonly seconds: number;
  /** A folder of the example's own for its files; a fresh temp folder by default. */
  readonly dir?: string;
  /** PostgreSQL for the examples that need it; default: $SLUICE_TEST_POSTGRES_URL or the local server. */
  readonly postgresUrl?: string;
  /** Redis for the examples that use it; default: $SLUICE_TEST_REDIS_URL or the local server. */
  readonly redisUrl?: string;
}

/** One line of an example's result: each figure beside the seed's promise, and whether it was met. */
export interface ExampleReport {
  readonly example: string;
  readonly seconds: number;
  readonly figures: Record<string, unknown>;
  readonly promised: Record<string, string>;
  readonly met: boolean;
}

export const postgresUrl = (options: ExampleOptions) =>
  options.postgresUrl ?? process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const redisUrl = (options: ExampleOptions) => options.redisUrl ?? process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function exampleDir(options: ExampleOptions, name: string): string {
  return options.dir ?? mkdtempSync(join(tmpdir(), `sluice-${name}-`));
}

/** Starts `module` again as a child process in `role`, speaking over IPC (TypeScript through tsx). */
export function forkRole(module: string, role: string, args: Record<string, unknown>, nodeFlags: readonly string[] = []): ChildProcess {
  return fork(module, ['--role', role, JSON.stringify(args)], {
    execArgv: ['--import', 'tsx', ...nodeFlags],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** The role this process was started in, and its arguments; undefined in the parent. */
export function roleOf(argv = process.argv): { role: string; args: Record<string, unknown> } | undefined {
  const at = argv.indexOf('--role');
  if (at < 0) return undefined;
  return { role: argv[at + 1] as string, args: JSON.parse(argv[at + 2] ?? '{}') as Record<string, unknown> };
}

/** Resolves with the first IPC message of `type` from a child; rejects if it exits first. */
export function message<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type?: string }) => {
      if (m.type === type) {
        child.off('message', onMessage);
        resolve(m as T);
      }
    };
    child.on('message', onMessage);
    child.once('exit', (code, signal) => reject(new Error(`the ${type} message never came: the process exited (${signal ?? code})`)));
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Milliseconds with one decimal, for figures. */
export const ms = (value: number) => Math.round(value * 10) / 10;
