import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { open } from '../../dist/index.js';
import type { PeerWorkerReport } from '../peers-worker.js';
import { countRows } from './peer-inserts.js';
import { mediaLifecycle } from './peer-tables.js';
import type { Contender } from './peer-writers.js';
import type { Budget } from './scenario-result.js';

export const SHARED_PROCESSES = 4;
export const CALLERS_PER_PROCESS = 64;
const WORKER = fileURLToPath(new URL('../peers-worker.ts', import.meta.url));

export interface SharedFileRound {
  opsPerSecond: number;
  insertShare: number;
  busy: number;
  otherErrors: number;
  firstOtherError: string | undefined;
  notApplied: number;
  /** Acknowledged inserts and status changes the file does not show afterwards. */
  lost: number;
}

/** Creates the lifecycle table (and its triggers) through Sluice, so every contender writes into the same DDL. */
export async function createLifecycleSchema(file: string): Promise<void> {
  const db = await open({ url: `sqlite:${file}`, tables: [mediaLifecycle] });
  await db.migrate();
  await db.close();
}

function startWorker(args: string[]): { child: ChildProcess; ready: Promise<void>; report: Promise<PeerWorkerReport> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  let onReady: () => void = () => {};
  let onReport: (r: PeerWorkerReport) => void = () => {};
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) => reject(new Error(`peers worker ${args[0]} exited with ${code}`))),
  );
  exited.catch(() => {});
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    if (line === 'ready') onReady();
    else if (line.startsWith('{')) onReport(JSON.parse(line) as PeerWorkerReport);
  });
  return {
    child,
    ready: Promise.race([new Promise<void>((resolve) => (onReady = resolve)), exited]),
    report: Promise.race([new Promise<PeerWorkerReport>((resolve) => (onReport = resolve)), exited]),
  };
}

/** SHARED_PROCESSES processes of one contender on one fresh file, started on one signal once all have opened it. */
export async function sharedFileRound(contender: Contender, file: string, budget: Budget): Promise<SharedFileRound> {
  await createLifecycleSchema(file);
  const workers = Array.from({ length: SHARED_PROCESSES }, (_, i) =>
    startWorker([contender, file, String(i), String(budget.warmupSeconds), String(budget.measureSeconds), String(CALLERS_PER_PROCESS)]),
  );
  // A worker stuck in a lock must not hold the whole run: a 5 s busy_timeout per op is the worst a caller should see.
  const limit = setTimeout(
    () => {
      for (const w of workers) w.child.kill('SIGKILL');
    },
    (budget.warmupSeconds + budget.measureSeconds + 60) * 1000,
  );
  let reports: PeerWorkerReport[];
  try {
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin?.end('go\n');
    reports = await Promise.all(workers.map((w) => w.report));
  } finally {
    clearTimeout(limit);
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  }
  const sum = (pick: (r: PeerWorkerReport) => number) => reports.reduce((total, r) => total + pick(r), 0);
  // A row that moved twice shows two acknowledged status changes.
  const storedChanges =
    countRows(file, "where transfer_status = 'downloading'") + 2 * countRows(file, "where transfer_status = 'completed'");
  const counted = sum((r) => r.counted);
  return {
    opsPerSecond: counted / budget.measureSeconds,
    insertShare: counted === 0 ? 0 : sum((r) => r.countedInserts) / counted,
    busy: sum((r) => r.busy),
    otherErrors: sum((r) => r.otherErrors),
    firstOtherError: reports.find((r) => r.firstOtherError)?.firstOtherError,
    notApplied: sum((r) => r.notApplied),
    lost: Math.max(0, sum((r) => r.ackedInserts) - countRows(file)) + Math.max(0, sum((r) => r.ackedStatusChanges) - storedChanges),
  };
}
