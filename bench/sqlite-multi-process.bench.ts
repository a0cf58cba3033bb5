import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkerReport } from './sqlite-multi-process-worker.js';
import { percentiles, ratio, scratchDir, settle } from './support/measure.js';
import { type Budget, goalAtLeast, goalAtMost, type ScenarioResult } from './support/scenario-result.js';
import { createSchema, type Durability, openRaw } from './support/sqlite-files.js';
import { workerRound } from './support/worker-round.js';

export const PROCESSES = 4;
/** Inserts each Sluice process keeps in flight (async workers awaiting one insert each). */
export const IN_FLIGHT_PER_PROCESS = 64;
/** The heavy round: 1,024 in flight across the processes, as in the single-process insert scenario. */
export const HEAVY_IN_FLIGHT_PER_PROCESS = 256;
const WORKER = fileURLToPath(new URL('./sqlite-multi-process-worker.ts', import.meta.url));

interface RoundResult {
  rowsPerSecond: number;
  perProcess: number[];
  latencyMs: { p50: number; p99: number; max: number };
  errors: number;
  busyRetries: number;
  lockWaitMaxMs: number;
  lost: number;
}

export async function round(
  mode: 'sluice' | 'raw' | 'raw-batch',
  file: string,
  sampleFile: (i: number) => string,
  budget: Budget,
  inFlight: number,
  gate: string,
  durability: Durability = 'process-crash',
): Promise<RoundResult> {
  const argLists = Array.from({ length: PROCESSES }, (_, i) => [
    mode,
    file,
    String(i),
    String(budget.warmupSeconds),
    String(budget.measureSeconds),
    String(inFlight),
    sampleFile(i),
    gate || '{}',
    durability,
  ]);
  const reports = await workerRound<WorkerReport>(WORKER, argLists, budget);
  const all: number[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const bytes = readFileSync(sampleFile(i));
    const samples = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
    for (const v of samples) all.push(v);
  }
  const db = openRaw(file);
  const stored = (db.prepare('select count(*) as n from media_files').get() as { n: number }).n;
  db.close();
  const acked = reports.reduce((sum, r) => sum + r.acked, 0);
  const p = percentiles(all);
  return {
    rowsPerSecond: reports.reduce((sum, r) => sum + r.counted, 0) / budget.measureSeconds,
    perProcess: reports.map((r) => r.counted / budget.measureSeconds),
    latencyMs: { p50: p.p50, p99: p.p99, max: p.max },
    errors: reports.reduce((sum, r) => sum + r.errors, 0),
    busyRetries: reports.reduce((sum, r) => sum + r.busyRetries, 0),
    lockWaitMaxMs: Math.max(...reports.map((r) => r.lockWaitMaxMs)),
    lost: Math.max(0, acked - stored),
  };
}

/**
 * Raw first, then Sluice at a moderate load (the goals are judged there) and at a heavy one
 * (1,024 in flight in all, as in the single-process insert scenario). `inFlight` and `gate`
 * (open() gate options) exist to try tunings; the recorded run uses the defaults.
 */
export async function run(budget: Budget, inFlight = IN_FLIGHT_PER_PROCESS, gate: Record<string, unknown> = {}): Promise<ScenarioResult> {
  const scratch = scratchDir('multi');
  try {
    const files = ['raw', 'sluice', 'sluice-heavy', 'raw-batch'].map((name) => scratch.file(`${name}.db`));
    for (const file of files) await createSchema(file);
    const [rawFile, sluiceFile, heavyFile, floorFile] = files as [string, string, string, string];
    const raw = await round('raw', rawFile, (i) => scratch.file(`raw-${i}.f64`), budget, 1, '');
    await settle(500);
    const floor = await round('raw-batch', floorFile, (i) => scratch.file(`floor-${i}.f64`), budget, inFlight, '');
    await settle(500);
    const sluice = await round('sluice', sluiceFile, (i) => scratch.file(`sluice-${i}.f64`), budget, inFlight, JSON.stringify(gate));
    await settle(500);
    const heavy = await round(
      'sluice',
      heavyFile,
      (i) => scratch.file(`heavy-${i}.f64`),
      budget,
      HEAVY_IN_FLIGHT_PER_PROCESS,
      JSON.stringify(gate),
    );
    const aggregate = ratio(sluice.rowsPerSecond, raw.rowsPerSecond);
    const fairness = (r: RoundResult) => Math.min(...r.perProcess) / Math.max(...r.perProcess);
    const perProcess = (r: RoundResult) => r.perProcess.map((v) => Math.round(v).toLocaleString('en')).join(', ');
    return {
      id: 'sqlite-multi-process',
      title: `SQLite, ${PROCESSES} processes inserting into one file`,
      comparisons: [
        {
          measure: `aggregate inserts: Sluice (${inFlight} in flight per process) vs raw autocommit (busy_timeout 5 s)`,
          unit: 'rows/s',
          sluice: sluice.rowsPerSecond,
          raw: raw.rowsPerSecond,
          ratio: aggregate,
          goal: goalAtLeast(aggregate, 4, '≥ 4× raw'),
        },
        {
          measure: 'acknowledgement latency p50',
          unit: 'ms',
          sluice: sluice.latencyMs.p50,
          raw: raw.latencyMs.p50,
          ratio: ratio(sluice.latencyMs.p50, raw.latencyMs.p50),
        },
        {
          measure: 'acknowledgement latency p99',
          unit: 'ms',
          sluice: sluice.latencyMs.p99,
          raw: raw.latencyMs.p99,
          ratio: ratio(sluice.latencyMs.p99, raw.latencyMs.p99),
          goal: goalAtMost(sluice.latencyMs.p99, 20, '≤ 20 ms'),
        },
        {
          measure: `the floor: raw lock–insert–commit of ${inFlight}-row transactions in ${PROCESSES} processes, each row's time from asking for the lock to COMMIT, p99 (Sluice p99 beside it)`,
          unit: 'ms',
          sluice: sluice.latencyMs.p99,
          raw: floor.latencyMs.p99,
          ratio: ratio(sluice.latencyMs.p99, floor.latencyMs.p99),
        },
        {
          measure: 'acknowledgement latency max',
          unit: 'ms',
          sluice: sluice.latencyMs.max,
          raw: raw.latencyMs.max,
          ratio: ratio(sluice.latencyMs.max, raw.latencyMs.max),
          goal: goalAtMost(sluice.latencyMs.max, 250, '≤ 250 ms'),
        },
        {
          measure: 'slowest ÷ fastest process throughput',
          unit: '',
          sluice: fairness(sluice),
          raw: fairness(raw),
          goal: goalAtLeast(fairness(sluice), 0.5, '≥ 0.5'),
        },
        {
          measure: `heavy load: Sluice with ${HEAVY_IN_FLIGHT_PER_PROCESS} in flight per process, aggregate`,
          unit: 'rows/s',
          sluice: heavy.rowsPerSecond,
          raw: raw.rowsPerSecond,
          ratio: ratio(heavy.rowsPerSecond, raw.rowsPerSecond),
        },
        {
          measure: 'heavy load: latency p99',
          unit: 'ms',
          sluice: heavy.latencyMs.p99,
          raw: raw.latencyMs.p99,
          ratio: ratio(heavy.latencyMs.p99, raw.latencyMs.p99),
        },
        {
          measure: 'heavy load: latency max',
          unit: 'ms',
          sluice: heavy.latencyMs.max,
          raw: raw.latencyMs.max,
          ratio: ratio(heavy.latencyMs.max, raw.latencyMs.max),
        },
        { measure: 'heavy load: slowest ÷ fastest process', unit: '', sluice: fairness(heavy), raw: fairness(raw) },
      ],
      notes: [
        `Per-process rows/s — Sluice (${inFlight} in flight): ${perProcess(sluice)}; Sluice (${HEAVY_IN_FLIGHT_PER_PROCESS} in flight): ${perProcess(heavy)}; raw: ${perProcess(raw)}; raw ${inFlight}-row transactions: ${perProcess(floor)} (aggregate ${Math.round(floor.rowsPerSecond).toLocaleString('en')} rows/s, p50 ${floor.latencyMs.p50.toFixed(2)} ms, max ${floor.latencyMs.max.toFixed(0)} ms).`,
        `Errors surfaced to callers — Sluice: ${sluice.errors} and ${heavy.errors}; raw (SQLITE_BUSY after the 5 s busy_timeout): ${raw.errors}. Sluice lock retries (async backoff): ${sluice.busyRetries} and ${heavy.busyRetries}; longest lock wait of one batch: ${sluice.lockWaitMaxMs.toFixed(0)} ms and ${heavy.lockWaitMaxMs.toFixed(0)} ms.`,
        `Acknowledged rows missing from the file afterwards — Sluice: ${sluice.lost + heavy.lost}, raw: ${raw.lost}.`,
        `With N writes in flight per process, latency is at least N ÷ that process's rows/s (each write queues behind the others): ${HEAVY_IN_FLIGHT_PER_PROCESS} in flight costs ${((HEAVY_IN_FLIGHT_PER_PROCESS / (heavy.rowsPerSecond / PROCESSES)) * 1000).toFixed(0)} ms on average by construction; the p99 above that is lock waits and CPU scheduling (${PROCESSES} busy processes on the cores listed above).`,
        `Each process is a separate node started with tsx (bench/sqlite-multi-process-worker.ts); all start on one signal after opening the file. Latency is from the call to its acknowledgement, over every write in the measured window of all ${PROCESSES} processes.`,
      ],
    };
  } finally {
    scratch.remove();
  }
}
