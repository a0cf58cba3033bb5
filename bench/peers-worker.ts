/**
 * One process of the peers scenario's shared-file part, started by support/peer-processes.ts:
 *   node --import tsx bench/peers-worker.ts <sluice|drizzle|typeorm> <file> <index> <warmupS> <measureS> <callers>
 * Prints "ready", waits for "go" on stdin, alternates inserts and status changes until the window
 * ends, then prints one JSON line (PeerWorkerReport).
 */
import { createInterface } from 'node:readline';
import { Window } from './support/measure.js';
import { mediaRow, sequentialPath } from './support/media-table.js';
import { type Contender, openWriter } from './support/peer-writers.js';

export interface PeerWorkerReport {
  /** Operations acknowledged inside the measured window. */
  readonly counted: number;
  readonly countedInserts: number;
  /** Acknowledged in total, warm-up included: the file must hold exactly these. */
  readonly ackedInserts: number;
  readonly ackedStatusChanges: number;
  /** Operations that rejected with SQLITE_BUSY (directly or as an ORM's wrapped cause). */
  readonly busy: number;
  readonly otherErrors: number;
  readonly firstOtherError?: string;
  /** Compare-and-set status changes that found the row in another state: none are expected. */
  readonly notApplied: number;
}

const [contender, file, index, warmup, measure, callers] = process.argv.slice(2);
/** Each process inserts its own key range, as separate ingesters would, and moves only its own rows. */
const keyBase = Number(index) * 100_000_000;

interface Step {
  path: string;
  from: string;
  to: string;
}
const NEXT: Record<string, string | undefined> = { pending: 'downloading', downloading: 'completed' };

function isBusy(error: unknown): boolean {
  for (let e = error as any; e; e = e.driverError ?? e.cause) {
    if (String(e.code).includes('BUSY') || /database is locked/.test(String(e.message))) return true;
  }
  return false;
}

async function waitForGo(): Promise<void> {
  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) if (line.trim() === 'go') break;
  // An open stdin would keep the process alive after its report.
  process.stdin.destroy();
}

const writer = await openWriter(contender as Contender, file as string, true);
await waitForGo();
const window = new Window(Number(warmup), Number(measure));
// Rows waiting for their next status change, oldest first; a failed step is not retried.
const steps: Step[] = [];
let head = 0;
let next = 0;
let counted = 0;
let countedInserts = 0;
let ackedInserts = 0;
let ackedStatusChanges = 0;
let busy = 0;
let otherErrors = 0;
let notApplied = 0;
let firstOtherError: string | undefined;

async function caller(): Promise<void> {
  while (window.running()) {
    // Every other operation is a status change, once an acknowledged row is there to change.
    const op = next++;
    const step = op % 2 === 1 && head < steps.length ? steps[head++] : undefined;
    try {
      if (step) {
        if (!(await writer.txSetStatus(step.path, step.from, step.to))) {
          notApplied++;
          continue;
        }
        ackedStatusChanges++;
        const then = NEXT[step.to];
        if (then) steps.push({ path: step.path, from: step.to, to: then });
      } else {
        const n = keyBase + op;
        const path = sequentialPath(n);
        await writer.txInsert(mediaRow(path, n));
        ackedInserts++;
        steps.push({ path, from: 'pending', to: 'downloading' });
      }
    } catch (error) {
      if (isBusy(error)) busy++;
      else {
        otherErrors++;
        firstOtherError ??= `${(error as Error).name}: ${(error as Error).message}`;
      }
      continue;
    }
    const now = performance.now();
    if (window.counts(now)) {
      counted++;
      if (!step) countedInserts++;
    }
  }
}

await Promise.all(Array.from({ length: Number(callers) }, caller));
await writer.close();
const report: PeerWorkerReport = {
  counted,
  countedInserts,
  ackedInserts,
  ackedStatusChanges,
  busy,
  otherErrors,
  notApplied,
  ...(firstOtherError ? { firstOtherError } : {}),
};
process.stdout.write(`${JSON.stringify(report)}\n`);
