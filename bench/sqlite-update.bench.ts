import { ratio, scratchDir, settle, Window } from './support/measure.js';
import { mediaFiles, RAW_UPDATE_SQL, sequentialPath } from './support/media-table.js';
import { type Budget, goalAtLeast, type ScenarioResult } from './support/scenario-result.js';
import { createSchema, openRaw, openSluice, prefill } from './support/sqlite-files.js';

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

async function sluiceUpdates(file: string, budget: Budget): Promise<number> {
  const db = await openSluice(file);
  const files = db.table(mediaFiles);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  let next = 0;
  const worker = async () => {
    while (window.running()) {
      const n = next++;
      await files.update(keyOf(n), { transferStatus: STATUSES[n % 4] as string, retries: n % 5, updatedAt: new Date(n) });
      window.add(1);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await db.close();
  return window.perSecond;
}

function rawUpdates(file: string, budget: Budget): number {
  const db = openRaw(file);
  const update = db.prepare(RAW_UPDATE_SQL);
  const chunk = db.transaction((from: number) => {
    for (let n = from; n < from + RAW_ROWS_PER_TX; n++) update.run(STATUSES[n % 4], n % 5, new Date(n).getTime(), keyOf(n));
  });
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  for (let n = 0; window.running(); n += RAW_ROWS_PER_TX) {
    chunk(n);
    window.add(RAW_ROWS_PER_TX);
  }
  db.close();
  return window.perSecond;
}

export async function run(budget: Budget): Promise<ScenarioResult> {
  const scratch = scratchDir('update');
  try {
    const files = ['raw-a', 'sluice-a', 'sluice-b', 'raw-b'].map((name) => scratch.file(`${name}.db`));
    for (const file of files) {
      await createSchema(file);
      prefill(file, ROWS, sequentialPath);
    }
    const [rawFileA, sluiceFileA, sluiceFileB, rawFileB] = files as [string, string, string, string];
    // A B B A order, averaged, so load that drifts during the run tilts neither side.
    const rawA = rawUpdates(rawFileA, budget);
    await settle();
    const sluiceA = await sluiceUpdates(sluiceFileA, budget);
    await settle();
    const sluiceB = await sluiceUpdates(sluiceFileB, budget);
    await settle();
    const rawB = rawUpdates(rawFileB, budget);
    const raw = (rawA + rawB) / 2;
    const sluice = (sluiceA + sluiceB) / 2;
    const r = ratio(sluice, raw);
    return {
      id: 'sqlite-update',
      title: `SQLite update by key: one awaited promise per row, ${IN_FLIGHT} in flight`,
      comparisons: [
        {
          measure: `update(key, patch of 3 columns) vs raw prepared UPDATE, ${RAW_ROWS_PER_TX} rows per transaction`,
          unit: 'rows/s',
          sluice,
          raw,
          ratio: r,
          goal: goalAtLeast(r, 0.8, '≥ 0.8× raw (same shape as insert)'),
        },
      ],
      notes: [
        `Table of ${ROWS.toLocaleString('en')} rows; both sides update the same keys in the same order (arrival order, wrapping around). Sluice's update returns the updated row (RETURNING), which the raw UPDATE does not.`,
        `Means of two runs each in A B B A order (single runs — Sluice: ${Math.round(sluiceA)} and ${Math.round(sluiceB)}; raw: ${Math.round(rawA)} and ${Math.round(rawB)} rows/s).`,
      ],
    };
  } finally {
    scratch.remove();
  }
}
