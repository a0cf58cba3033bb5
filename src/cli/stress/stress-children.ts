import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type ForeignSqlite, foreignEnv } from '../foreign/foreign-sqlite.js';
import { compiledEntry, scriptFile } from '../package-paths.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { ChildMessage, ParentMessage, ProcessSummary, WorkerConfig } from './stress-protocol.js';

/** A writer process as the runner sees it: ready, go, progress, summary, exit. */
export interface StressChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly ready: Promise<void>;
  /** Resolves with the summary, or undefined when the process ended without one. */
  readonly done: Promise<ProcessSummary | undefined>;
  acked: number;
  go(endAt: number): void;
  kill(): void;
}

/** Forks the compiled stress worker; its stdout and stderr go to our stderr, never our stdout. */
export function forkNodeWriter(config: WorkerConfig): StressChild {
  const child = fork(compiledEntry('cli', 'stress', 'stress-worker.js'), [JSON.stringify(config)], {
    execArgv: [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout?.pipe(process.stderr, { end: false });
  child.stderr?.pipe(process.stderr, { end: false });
  // A child that died early makes send() fail; its exit is what the runner reports.
  child.on('error', () => {});
  let summary: ProcessSummary | undefined;
  let failure: string | undefined;
  const handle: StressChild = {
    name: config.name,
    process: child,
    acked: 0,
    ready: new Promise((resolve, reject) => {
      child.on('message', (message: ChildMessage) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'progress') handle.acked = message.acked;
        else if (message.type === 'summary') summary = message.summary;
        else if (message.type === 'failed') {
          failure = message.message;
          reject(new Error(`${config.name} failed: ${message.message}`));
        }
      });
      child.on('exit', (code, signal) =>
        reject(new Error(`${config.name} exited (${signal ?? code}) before it was ready${failure ? `: ${failure}` : ''}`)),
      );
    }),
    done: new Promise((resolve) => child.on('exit', () => resolve(summary))),
    go: (endAt) => child.send({ type: 'go', endAt } satisfies ParentMessage),
    kill: () => child.kill('SIGKILL'),
  };
  handle.ready.catch(() => {});
  return handle;
}

export interface ForeignWriterConfig {
  readonly file: string;
  readonly logFile: string;
  readonly name: string;
  readonly prefix: string;
}

/** Starts scripts/foreign_writer.py under the SQLite chosen by prepareForeignSqlite. */
export function spawnForeignWriter(config: ForeignWriterConfig, sqlite: ForeignSqlite): StressChild {
  const child = spawn(
    sqlite.python,
    [scriptFile('foreign_writer.py'), '--db', config.file, '--log', config.logFile, '--name', config.name, '--prefix', config.prefix],
    { env: foreignEnv(sqlite), stdio: ['pipe', 'pipe', 'pipe'] },
  );
  child.stderr?.pipe(process.stderr, { end: false });
  child.stdin?.on('error', () => {});
  let summary: ProcessSummary | undefined;
  let onReady: (() => void) | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    child.on('exit', (code, signal) => reject(new Error(`${config.name} (Python) exited (${signal ?? code}) before it was ready`)));
    child.on('error', reject);
  });
  ready.catch(() => {});
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let message: { type?: string; summary?: ProcessSummary & { latencies?: number[] } };
    try {
      message = JSON.parse(line);
    } catch {
      process.stderr.write(`[${config.name}] ${line}\n`);
      return;
    }
    if (message.type === 'ready') onReady?.();
    else if (message.type === 'summary' && message.summary) {
      const { latencies = [], ...rest } = message.summary;
      const histogram = new LatencyHistogram();
      for (const ms of latencies) histogram.record(ms);
      summary = { ...rest, latency: histogram.toJSON() };
    }
  });
  return {
    name: config.name,
    process: child,
    acked: 0,
    ready,
    done: new Promise((resolve) => child.on('close', () => resolve(summary))),
    go: (endAt) => child.stdin?.end(`go ${endAt}\n`),
    kill: () => child.kill('SIGKILL'),
  };
}
