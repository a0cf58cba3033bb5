import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Budget } from './scenario-result.js';

interface Worker<R> {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly report: Promise<R>;
}

/** A bench worker process: prints "ready", waits for "go" on stdin, prints one JSON report line. */
function startWorker<R>(script: string, args: readonly string[]): Worker<R> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  let onReady: () => void = () => {};
  let onReport: (r: R) => void = () => {};
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) => reject(new Error(`bench worker ${args.join(' ')} exited with ${code} before reporting`))),
  );
  exited.catch(() => {});
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    if (line === 'ready') onReady();
    else if (line.startsWith('{')) onReport(JSON.parse(line) as R);
  });
  return {
    child,
    ready: Promise.race([new Promise<void>((resolve) => (onReady = resolve)), exited]),
    report: Promise.race([new Promise<R>((resolve) => (onReport = resolve)), exited]),
  };
}

/**
 * Starts one process per argument list, releases them on one signal once all are ready (so none
 * starts with the file to itself) and collects their reports. A worker that dies or hangs must
 * not leave the others waiting forever: all are killed a minute past the budget.
 */
export async function workerRound<R>(script: string, argLists: readonly (readonly string[])[], budget: Budget): Promise<R[]> {
  const workers = argLists.map((args) => startWorker<R>(script, args));
  const limit = setTimeout(
    () => {
      for (const w of workers) w.child.kill('SIGKILL');
    },
    (budget.warmupSeconds + budget.measureSeconds + 60) * 1000,
  );
  try {
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin?.end('go\n');
    return await Promise.all(workers.map((w) => w.report));
  } finally {
    clearTimeout(limit);
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  }
}
