import { AsyncLocalStorage } from 'node:async_hooks';

/** Where a run of the CLI writes: the process's streams for the bin, buffers for an in-process caller. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** What stops a long-running command (serve); the bin waits for SIGTERM or SIGINT. */
  stopped?(): Promise<string>;
}

/** One run's writers and the exit code its command set (1 after a failed check or an error). */
export interface CliRunState {
  readonly io: CliIo;
  readonly stopped: () => Promise<string>;
  exitCode: number;
}

export const PROCESS_IO: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

// Commands reach the run they belong to through the async context rather than a parameter, so each
// register<Name>(program) keeps its one-argument shape and two in-process runs cannot cross outputs.
const current = new AsyncLocalStorage<CliRunState>();

export function newCliRun(io: CliIo): CliRunState {
  return { io, stopped: io.stopped ?? processSignal, exitCode: 0 };
}

export function withCliRun<T>(state: CliRunState, body: () => T): T {
  return current.run(state, body);
}

function processSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}

/** The run a command executes in; outside runCli (a direct call in a test), the process's streams. */
export function cliRun(): CliRunState {
  return current.getStore() ?? newCliRun(PROCESS_IO);
}
