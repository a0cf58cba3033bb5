import { fileURLToPath } from 'node:url';
import { open } from '../../dist/index.js';
import type { PeerWorkerReport } from '../peers-worker.js';
import { countRows } from './peer-inserts.js';
import { mediaLifecycle } from './peer-tables.js';
import type { Contender } from './peer-writers.js';
import type { Budget } from './scenario-result.js';
import { workerRound } from './worker-round.js';

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

/** SHARED_PROCESSES processes of one contender on one fresh file, started on one signal once all have opened it. */
export async function sharedFileRound(contender: Contender, file: string, budget: Budget): Promise<SharedFileRound> {
  await createLifecycleSchema(file);
  const argLists = Array.from({ length: SHARED_PROCESSES }, (_, i) => [
    contender,
    file,
    String(i),
    String(budget.warmupSeconds),
    String(budget.measureSeconds),
    String(CALLERS_PER_PROCESS),
  ]);
  const reports = await workerRound<PeerWorkerReport>(WORKER, argLists, budget);
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
