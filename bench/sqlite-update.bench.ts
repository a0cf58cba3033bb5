import { abba, ratio, rawChunks, scratchDir, settle, Window } from './support/measure.js';
import { mediaFiles, RAW_UPDATE_SQL, sequentialPath } from './support/media-table.js';
import { type Budget, comparedAtLeast, type ScenarioResult } from './support/scenario-result.js';
import { createSchema, type Durability, openRaw, openSluice, prefill } from './support/sqlite-files.js';

const ROWS = 100_000;
const IN_FLIGHT = 1024;
const RAW_ROWS_PER_TX = 1000;
const STATUSES = ['downloading', 'completed', 'failed', 'pending'] as const;

/**
 * The n-th update's key: files in arrival order, as the scheduler moves them on, the same for
 * Sluice and raw. Scattered keys would make both sides disk-bound (see the scattered-keys scenario).
 */
function keyOf(n: number): string {
  return sequentialPath(n % ROWS);
}

export async function sluiceUpdates(
  file: string,
  budget: Budget,
  returning: 'none' | 'row' = 'none',
  durability: Durability = 'process-crash',
): Promise<number> {
  const db = await openSluice(file, durability);
  const files = db.table(mediaFiles);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  let next = 0;
  const worker = async () => {
    while (window.running()) {
      const n = next++;
      const patch = { transferStatus: STATUSES[n % 4] as string, retries: n % 5, updatedAt: new Date(n) };
      if (returning === 'row') await files.update(keyOf(n), patch, { returning: 'row' });
      else await files.update(keyOf(n), patch);
      window.add(1);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await db.close();
  return window.perSecond;
}

/** `returning`: the raw statement also reads the row back (RETURNING *), as update(…, { returning: 'row' }) does. */
function rawUpdates(file: string, budget: Budget, returning = false): number {
  const db = openRaw(file);
  const update = db.prepare(returning ? `${RAW_UPDATE_SQL} returning *` : RAW_UPDATE_SQL);
  const chunk = db.transaction((from: number) => {
    for (let n = from; n < from + RAW_ROWS_PER_TX; n++) {
      if (returning) update.get(STATUSES[n % 4], n % 5, new Date(n).getTime(), keyOf(n));
      else update.run(STATUSES[n % 4], n % 5, new Date(n).getTime(), keyOf(n));
    }
  });
  const perSecond = rawChunks(budget, RAW_ROWS_PER_TX, chunk);
  db.close();
  return perSecond;
}

export async function run(budget: Budget): Promise<ScenarioResult> {
  const scratch = scratchDir('update');
  try {
    const files = ['raw-a', 'sluice-a', 'sluice-b', 'raw-b', 'raw-row', 'sluice-row'].map((name) => scratch.file(`${name}.db`));
    for (const file of files) {
      await createSchema(file);
      prefill(file, ROWS, sequentialPath);
    }
    const [rawFileA, sluiceFileA, sluiceFileB, rawFileB, rawRowFile, sluiceRowFile] = files as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const main = await abba(
      (run) => rawUpdates(run === 0 ? rawFileA : rawFileB, budget),
      (run) => sluiceUpdates(run === 0 ? sluiceFileA : sluiceFileB, budget),
    );
    const sluiceRow = await sluiceUpdates(sluiceRowFile, budget, 'row');
    await settle();
    const rawRow = rawUpdates(rawRowFile, budget, true);
    const { a: raw, b: sluice } = main;
    return {
      id: 'sqlite-update',
      title: `SQLite update by key: one awaited promise per row, ${IN_FLIGHT} in flight`,
      comparisons: [
        comparedAtLeast(
          `update(key, patch of 3 columns) vs raw prepared UPDATE, ${RAW_ROWS_PER_TX} rows per transaction`,
          'rows/s',
          sluice,
          raw,
          0.8,
          '≥ 0.8× raw (same shape as insert)',
        ),
        {
          measure: `update(key, patch, { returning: 'row' }) vs raw prepared UPDATE … RETURNING *, ${RAW_ROWS_PER_TX} rows per transaction`,
          unit: 'rows/s',
          sluice: sluiceRow,
          raw: rawRow,
          ratio: ratio(sluiceRow, rawRow),
        },
      ],
      notes: [
        `Table of ${ROWS.toLocaleString('en')} rows; both sides update the same keys in the same order (arrival order, wrapping around). By default update() resolves with nothing, as the raw UPDATE returns nothing; runs of same-shape updates go as one UPDATE … FROM (VALUES …). The second line reads the row back on both sides (one run each, Sluice then raw).`,
        `Means of two runs each in A B B A order (single runs — Sluice: ${main.runsB.map(Math.round).join(' and ')}; raw: ${main.runsA.map(Math.round).join(' and ')} rows/s).`,
      ],
    };
  } finally {
    scratch.remove();
  }
}
