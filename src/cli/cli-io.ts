import { AsyncLocalStorage } from 'node:async_hooks';

/** Where a run of the CLI writes: the process's streams for the bin, buffers for an in-process caller. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** One run's writers and the exit code its command set (1 after a failed check or an error). */
export interface CliRunState {
  readonly io: CliIo;
  exitCode: number;
}

export const PROCESS_IO: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

// Commands reach the run they belong to through the async context rather than a parameter, so each
// register<Name>(program) keeps its one-argument shape and two in-process runs cannot cross outputs.
const current = new AsyncLocalStorage<CliRunState>();

export function withCliRun<T>(state: CliRunState, body: () => T): T {
  return current.run(state, body);
}

/** The run a command executes in; outside runCli (a direct call in a test), the process's streams. */
export function cliRun(): CliRunState {
  return current.getStore() ?? { io: PROCESS_IO, exitCode: 0 };
}
