import { copyFileSync } from 'node:fs';
import { ratio, scratchDir, settle, Window } from './support/measure.js';
import { mediaFiles, mediaRow, RAW_INSERT_SQL, rawParams, scatteredPath } from './support/media-table.js';
import type { Budget, ScenarioResult } from './support/scenario-result.js';
import { createSchema, openRaw, openSluice, prefill, SLUICE_CACHE_KIB } from './support/sqlite-files.js';

/** Rows already in the table before measuring; large enough that its indexes outgrow a small cache. */
export const TABLE_ROWS = 1_000_000;
const IN_FLIGHT = 1024;
const RAW_ROWS_PER_TX = 1000;
/** SQLite's own default page cache (cache_size = -2000). */
const SQLITE_DEFAULT_CACHE_KIB = 2000;
/** 64 MiB of 4 KiB pages: the WAL bound Sluice's checkpoint watchdog already enforces. */
const LATE_CHECKPOINT_PAGES = 16_384;

async function sluiceScattered(file: string, budget: Budget, cacheKiB: number): Promise<number> {
  const db = await openSluice(file, 'process-crash', cacheKiB);
  const files = db.table(mediaFiles);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  let next = TABLE_ROWS;
  const worker = async () => {
    while (window.running()) {
      const n = next++;
      await files.insert(mediaRow(scatteredPath(), n));
      window.add(1);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await db.close();
  return window.perSecond;
}

function rawScattered(file: string, budget: Budget, cacheKiB: number, walAutocheckpoint?: number): number {
  const db = openRaw(file, { cacheKiB, walAutocheckpoint });
  const insert = db.prepare(RAW_INSERT_SQL);
  const chunk = db.transaction((from: number) => {
    for (let n = from; n < from + RAW_ROWS_PER_TX; n++) insert.run(rawParams(mediaRow(scatteredPath(), n)));
  });
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  for (let n = TABLE_ROWS; window.running(); n += RAW_ROWS_PER_TX) {
    chunk(n);
    window.add(RAW_ROWS_PER_TX);
  }
  db.close();
  return window.perSecond;
}

export async function run(budget: Budget, tableRows = TABLE_ROWS): Promise<ScenarioResult> {
  const scratch = scratchDir('scattered');
  try {
    const seed = scratch.file('seed.db');
    await createSchema(seed);
    const filled = performance.now();
    prefill(seed, tableRows, () => scatteredPath());
    const fillSeconds = (performance.now() - filled) / 1000;
    let copies = 0;
    const copy = () => {
      const file = scratch.file(`copy-${copies++}.db`);
      copyFileSync(seed, file);
      return file;
    };
    const rawBig = rawScattered(copy(), budget, SLUICE_CACHE_KIB);
    await settle();
    const sluiceBig = await sluiceScattered(copy(), budget, SLUICE_CACHE_KIB);
    await settle();
    const rawSmall = rawScattered(copy(), budget, SQLITE_DEFAULT_CACHE_KIB);
    await settle();
    const sluiceSmall = await sluiceScattered(copy(), budget, SQLITE_DEFAULT_CACHE_KIB);
    await settle();
    // Not a Sluice setting today: shows how much of the cost is checkpointing after every batch.
    const rawLateCheckpoint = rawScattered(copy(), budget, SLUICE_CACHE_KIB, LATE_CHECKPOINT_PAGES);
    return {
      id: 'sqlite-scattered-keys',
      title: `SQLite scattered keys: inserts with random UUID paths into a ${tableRows.toLocaleString('en')}-row table`,
      comparisons: [
        {
          measure: `Sluice default page cache (${SLUICE_CACHE_KIB / 1024} MiB) vs raw, same cache, ${RAW_ROWS_PER_TX} rows/tx`,
          unit: 'rows/s',
          sluice: sluiceBig,
          raw: rawBig,
          ratio: ratio(sluiceBig, rawBig),
        },
        {
          measure: `SQLite's default page cache (~2 MiB) on both sides`,
          unit: 'rows/s',
          sluice: sluiceSmall,
          raw: rawSmall,
          ratio: ratio(sluiceSmall, rawSmall),
        },
      ],
      notes: [
        `The table was filled with ${tableRows.toLocaleString('en')} random-key rows in ${fillSeconds.toFixed(0)} s; each measurement runs on its own copy of it.`,
        `A ${SLUICE_CACHE_KIB / 1024} MiB cache over a ~2 MiB one: Sluice ${ratio(sluiceBig, sluiceSmall).toFixed(2)}×, raw ${ratio(rawBig, rawSmall).toFixed(2)}×.`,
        `Raw with the ${SLUICE_CACHE_KIB / 1024} MiB cache and wal_autocheckpoint = ${LATE_CHECKPOINT_PAGES} pages instead of 1000: ${Math.round(rawLateCheckpoint).toLocaleString('en')} rows/s (${ratio(rawLateCheckpoint, rawBig).toFixed(2)}× the same raw run with the default). With scattered keys every batch dirties hundreds of index pages, so the default checkpoint runs (and fsyncs the database file) after almost every commit.`,
      ],
    };
  } finally {
    scratch.remove();
  }
}
