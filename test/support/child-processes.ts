import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { compiledEntry } from '../../src/cli/package-paths.js';
import type { WorkerConfig } from '../../src/cli/stress/stress-protocol.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `sluice` CLI as a user would, collecting both streams. */
export function runCli(args: readonly string[], cwd: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [compiledEntry('cli', 'main.js'), ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Resolves with the first stdout line that starts with `prefix`; rejects if the process ends first. */
export function waitForLine(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith(prefix)) resolve(line);
    });
    child.on('exit', (code) => reject(new Error(`process exited (${code}) before printing "${prefix}"`)));
  });
}

/** Forks the compiled stress worker writing from the start, until it is killed. */
export function forkWriter(config: WorkerConfig): ChildProcess {
  return fork(compiledEntry('cli', 'stress', 'stress-worker.js'), [JSON.stringify({ ...config, autostart: true })], {
    execArgv: [],
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Resolves when a forked worker reports `ready` (it is about to write); rejects if it exits first. */
export function writerReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('message', (message: { type?: string }) => {
      if (message.type === 'ready') resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`writer exited (${signal ?? code}) before it was ready`)));
  });
}

/** Runs `node <args>` with the test's stdout and stderr; resolves on exit 0, rejects on any other exit. */
export function runNode(args: string[], what = 'child process'): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited with ${code}`))));
  });
}
