import { ratio, rawChunks, scratchDir, settle, Window } from './support/measure.js';
import { mediaFiles, mediaRow, RAW_INSERT_SQL, rawParams, sequentialPath } from './support/media-table.js';
import { type Budget, goalAtLeast, type ScenarioResult } from './support/scenario-result.js';
import { createSchema, type Durability, openRaw, openSluice } from './support/sqlite-files.js';

/** Writers in flight at once through Sluice: each awaits its own insert before the next. */
export const IN_FLIGHT = 1024;
/** Rows per raw transaction: big enough that the commit is amortised, as a batch job would write. */
export const RAW_ROWS_PER_TX = 1000;

export interface SluiceInsertFigure {
  rowsPerSecond: number;
  meanBatch: number;
  ackP50Ms: number;
  ackP99Ms: number;
}

/** N async workers, each looping `await insert(row)`: one promise per row, IN_FLIGHT of them pending. */
export async function sluiceInserts(
  file: string,
  budget: Budget,
  durability: Durability,
  inFlight = IN_FLIGHT,
): Promise<SluiceInsertFigure> {
  const db = await openSluice(file, durability);
  const files = db.table(mediaFiles);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  let next = 0;
  const worker = async () => {
    while (window.running()) {
      const n = next++;
      await files.insert(mediaRow(sequentialPath(n), n));
      window.add(1);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const stats = db.stats();
  await db.close();
  return { rowsPerSecond: window.perSecond, meanBatch: stats.batches.meanSize, ackP50Ms: stats.ackMs.p50, ackP99Ms: stats.ackMs.p99 };
}

/** Prepared single-row inserts, RAW_ROWS_PER_TX to a transaction, one after another. */
export function rawTransactionInserts(file: string, budget: Budget, durability: Durability): number {
  const db = openRaw(file, { durability });
  const insert = db.prepare(RAW_INSERT_SQL);
  const chunk = db.transaction((from: number) => {
    for (let n = from; n < from + RAW_ROWS_PER_TX; n++) insert.run(rawParams(mediaRow(sequentialPath(n), n)));
  });
  const perSecond = rawChunks(budget, RAW_ROWS_PER_TX, chunk);
  db.close();
  return perSecond;
}

/** Prepared single-row inserts, each its own transaction: what an app that writes as rows arrive does. */
export function rawAutocommitInserts(file: string, budget: Budget, durability: Durability): number {
  const db = openRaw(file, { durability });
  const insert = db.prepare(RAW_INSERT_SQL);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  for (let n = 0; window.running(); n++) {
    insert.run(rawParams(mediaRow(sequentialPath(n), n)));
    window.add(1);
  }
  db.close();
  return window.perSecond;
}

export async function run(budget: Budget): Promise<ScenarioResult> {
  const scratch = scratchDir('insert');
  let fileNo = 0;
  const fresh = async () => {
    const file = scratch.file(`insert-${fileNo++}.db`);
    await createSchema(file);
    return file;
  };
  try {
    // A B B A order for each pair, averaged: a machine whose load drifts during the run
    // (other jobs on a shared box) then tilts neither side.
    const rawTxA = rawTransactionInserts(await fresh(), budget, 'process-crash');
    await settle();
    const sluiceA = await sluiceInserts(await fresh(), budget, 'process-crash');
    await settle();
    const rawTxFullA = rawTransactionInserts(await fresh(), budget, 'power-loss');
    await settle();
    const sluiceFullA = await sluiceInserts(await fresh(), budget, 'power-loss');
    await settle();
    const sluiceFullB = await sluiceInserts(await fresh(), budget, 'power-loss');
    await settle();
    const rawTxFullB = rawTransactionInserts(await fresh(), budget, 'power-loss');
    await settle();
    const sluiceB = await sluiceInserts(await fresh(), budget, 'process-crash');
    await settle();
    const rawTxB = rawTransactionInserts(await fresh(), budget, 'process-crash');
    await settle();
    const rawAuto = rawAutocommitInserts(await fresh(), budget, 'process-crash');
    const rawTx = (rawTxA + rawTxB) / 2;
    const rawTxFull = (rawTxFullA + rawTxFullB) / 2;
    const sluice = meanFigure(sluiceA, sluiceB);
    const sluiceFull = meanFigure(sluiceFullA, sluiceFullB);
    const vsTx = ratio(sluice.rowsPerSecond, rawTx);
    const fullCost = 1 - sluiceFull.rowsPerSecond / sluice.rowsPerSecond;
    const rawFullCost = 1 - rawTxFull / rawTx;
    return {
      id: 'sqlite-insert',
      title: `SQLite insert: one awaited promise per row, ${IN_FLIGHT} in flight`,
      comparisons: [
        {
          measure: `insert vs raw prepared inserts, ${RAW_ROWS_PER_TX} rows per transaction`,
          unit: 'rows/s',
          sluice: sluice.rowsPerSecond,
          raw: rawTx,
          ratio: vsTx,
          goal: goalAtLeast(vsTx, 0.8, '≥ 0.8× raw'),
        },
        {
          measure: 'insert vs raw prepared inserts, autocommit (one transaction per row)',
          unit: 'rows/s',
          sluice: sluice.rowsPerSecond,
          raw: rawAuto,
          ratio: ratio(sluice.rowsPerSecond, rawAuto),
        },
        {
          measure: `durability 'power-loss' (synchronous=FULL) vs raw at ${RAW_ROWS_PER_TX} rows/tx, FULL`,
          unit: 'rows/s',
          sluice: sluiceFull.rowsPerSecond,
          raw: rawTxFull,
          ratio: ratio(sluiceFull.rowsPerSecond, rawTxFull),
        },
      ],
      notes: [
        `Throughput lost to 'power-loss' (synchronous=FULL) against 'process-crash' (NORMAL, the default): Sluice ${pct(fullCost)} (mean batch ${sluiceFull.meanBatch.toFixed(0)} rows under FULL, ${sluice.meanBatch.toFixed(0)} under NORMAL); raw at ${RAW_ROWS_PER_TX} rows/tx ${pct(rawFullCost)}. A negative figure means FULL measured faster: its cost (one WAL fsync per commit, i.e. per batch) is then below this run's noise, which the two single runs below show (Sluice NORMAL differed by ${pct(spread(sluiceA.rowsPerSecond, sluiceB.rowsPerSecond))}).`,
        `Sluice acknowledgement latency with ${IN_FLIGHT} in flight: p50 ${sluice.ackP50Ms.toFixed(1)} ms, p99 ≤ ${sluice.ackP99Ms.toFixed(1)} ms (process-crash); p50 ${sluiceFull.ackP50Ms.toFixed(1)} ms, p99 ≤ ${sluiceFull.ackP99Ms.toFixed(1)} ms (power-loss).`,
        `Each Sluice and raw figure is the mean of two runs taken in A B B A order (single runs — Sluice: ${round(sluiceA.rowsPerSecond)} and ${round(sluiceB.rowsPerSecond)}; raw: ${round(rawTxA)} and ${round(rawTxB)}; power-loss Sluice: ${round(sluiceFullA.rowsPerSecond)} and ${round(sluiceFullB.rowsPerSecond)}; raw: ${round(rawTxFullA)} and ${round(rawTxFullB)}).`,
        'Every measurement writes a fresh file with identical DDL (created by Sluice), WAL, the same synchronous level and a 64 MiB page cache; keys arrive in order (DJI_…_000000123_V.MP4).',
      ],
    };
  } finally {
    scratch.remove();
  }
}

function meanFigure(a: SluiceInsertFigure, b: SluiceInsertFigure): SluiceInsertFigure {
  return {
    rowsPerSecond: (a.rowsPerSecond + b.rowsPerSecond) / 2,
    meanBatch: (a.meanBatch + b.meanBatch) / 2,
    ackP50Ms: (a.ackP50Ms + b.ackP50Ms) / 2,
    ackP99Ms: Math.max(a.ackP99Ms, b.ackP99Ms),
  };
}

/** How far two runs of the same measurement differ, as a fraction of their mean. */
function spread(a: number, b: number): number {
  return Math.abs(a - b) / ((a + b) / 2);
}

function round(value: number): string {
  return Math.round(value).toLocaleString('en');
}

function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}
