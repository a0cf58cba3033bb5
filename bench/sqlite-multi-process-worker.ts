/**
 * One writer process of the multi-process scenario, started by sqlite-multi-process.bench.ts:
 *   node --import tsx bench/sqlite-multi-process-worker.ts <sluice|raw|raw-batch> <file> <index> <warmupS> <measureS> <inFlight> <samplesFile> [gateJson] [durability]
 * Prints "ready", waits for "go" on stdin, inserts until the window ends, writes its latency
 * samples (ms, Float64) to samplesFile and prints one JSON line with its counts.
 */
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Samples, Window } from './support/measure.js';
import { mediaFiles, mediaRow, RAW_INSERT_SQL, rawParams, sequentialPath } from './support/media-table.js';
import { openRaw, openSluice } from './support/sqlite-files.js';

export interface WorkerReport {
  readonly index: number;
  /** Rows acknowledged inside the measured window. */
  readonly counted: number;
  /** Rows acknowledged in total, warm-up included: the table must hold exactly the sum of these. */
  readonly acked: number;
  /** Writes that failed (raw: SQLITE_BUSY after busy_timeout; Sluice: a rejected promise). */
  readonly errors: number;
  readonly busyRetries: number;
  /** Sluice only: the longest time a batch waited for another process's lock (ms). */
  readonly lockWaitMaxMs: number;
}

const [mode, file, index, warmup, measure, inFlight, samplesFile, gateJson, durability] = process.argv.slice(2);
const processIndex = Number(index);
/** Each process writes its own key range, as separate ingesters would. */
const keyBase = processIndex * 100_000_000;

async function waitForGo(): Promise<void> {
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === 'go') break;
  }
  // An open stdin would keep the process alive after its report.
  process.stdin.destroy();
}

async function runSluice(): Promise<WorkerReport> {
  const db = await openSluice(
    file as string,
    durability === 'power-loss' ? 'power-loss' : 'process-crash',
    undefined,
    gateJson ? (JSON.parse(gateJson) as Record<string, number>) : undefined,
  );
  const files = db.table(mediaFiles);
  await waitForGo();
  const window = new Window(Number(warmup), Number(measure));
  const samples = new Samples();
  let next = keyBase;
  let acked = 0;
  let errors = 0;
  const worker = async () => {
    while (window.running()) {
      const n = next++;
      const t0 = performance.now();
      try {
        await files.insert(mediaRow(sequentialPath(n), n));
        acked++;
      } catch {
        errors++;
        continue;
      }
      const t1 = performance.now();
      if (window.counts(t1)) {
        window.add(1, t1);
        samples.add(t1 - t0);
      }
    }
  };
  await Promise.all(Array.from({ length: Number(inFlight) }, worker));
  const stats = db.stats();
  await db.close();
  writeFileSync(samplesFile as string, samples.values());
  return {
    index: processIndex,
    counted: window.counted,
    acked,
    errors,
    busyRetries: stats.busy.retries,
    lockWaitMaxMs: stats.lockWaitMs.max,
  };
}

async function runRaw(): Promise<WorkerReport> {
  const db = openRaw(file as string, { busyTimeoutMs: 5000 });
  const insert = db.prepare(RAW_INSERT_SQL);
  await waitForGo();
  const window = new Window(Number(warmup), Number(measure));
  const samples = new Samples();
  let acked = 0;
  let errors = 0;
  for (let n = keyBase; window.running(); n++) {
    const t0 = performance.now();
    try {
      insert.run(rawParams(mediaRow(sequentialPath(n), n)));
      acked++;
    } catch {
      errors++;
      continue;
    }
    const t1 = performance.now();
    if (window.counts(t1)) {
      window.add(1, t1);
      samples.add(t1 - t0);
    }
  }
  db.close();
  writeFileSync(samplesFile as string, samples.values());
  return { index: processIndex, counted: window.counted, acked, errors, busyRetries: 0, lockWaitMaxMs: 0 };
}

/**
 * The floor under any write gate: nothing but BEGIN IMMEDIATE (SQLite's own busy handler, 5 s),
 * `inFlight` inserts, COMMIT, in a loop. Every row of a transaction counts the time from asking
 * for the lock to its COMMIT, which no acknowledgement of a row in that batch can beat.
 */
function runRawBatches(): Promise<WorkerReport> {
  const db = openRaw(file as string, { busyTimeoutMs: 5000 });
  const insert = db.prepare(RAW_INSERT_SQL);
  const batch = Number(inFlight);
  const transaction = db.transaction((from: number) => {
    for (let n = from; n < from + batch; n++) insert.run(rawParams(mediaRow(sequentialPath(n), n)));
  });
  const body = async () => {
    await waitForGo();
    const window = new Window(Number(warmup), Number(measure));
    const samples = new Samples();
    let acked = 0;
    let errors = 0;
    for (let n = keyBase; window.running(); n += batch) {
      const t0 = performance.now();
      try {
        transaction.immediate(n);
        acked += batch;
      } catch {
        errors += batch;
        continue;
      }
      const t1 = performance.now();
      if (window.counts(t1)) {
        window.add(batch, t1);
        for (let i = 0; i < batch; i++) samples.add(t1 - t0);
      }
    }
    db.close();
    writeFileSync(samplesFile as string, samples.values());
    return { index: processIndex, counted: window.counted, acked, errors, busyRetries: 0, lockWaitMaxMs: 0 };
  };
  return body();
}

const report = mode === 'sluice' ? await runSluice() : mode === 'raw-batch' ? await runRawBatches() : await runRaw();
process.stdout.write(`${JSON.stringify(report)}\n`);
