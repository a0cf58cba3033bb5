import { defineTable, open } from '../dist/index.js';
import { abba, rawChunks, scratchDir, Window } from './support/measure.js';
import { type Budget, comparedAtLeast, type ScenarioResult } from './support/scenario-result.js';
import { openRaw } from './support/sqlite-files.js';

const ROWS = 100_000;
const IN_FLIGHT = 1024;
const RAW_ROWS_PER_TX = 1000;

/**
 * A small row (4 columns, an integer key), where SQLite itself updates a row in about a microsecond:
 * the shape that shows Sluice's own cost per write, which media_files' 13 columns hide behind
 * SQLite's 4 µs.
 */
const counters = defineTable('counters', {
  columns: { id: 'integer', name: 'text', hits: 'integer', touched: 'integer' },
  primaryKey: 'id',
});
const RAW_UPDATE = 'update counters set hits = ?, touched = ? where id = ?';

async function createAndFill(file: string): Promise<void> {
  const db = await open({ url: `sqlite:${file}`, tables: [counters] });
  await db.migrate();
  await db.close();
  const raw = openRaw(file, { cacheKiB: 262_144 });
  const insert = raw.prepare('insert into counters (id, name, hits, touched) values (?, ?, 0, 0)');
  raw.transaction(() => {
    for (let i = 0; i < ROWS; i++) insert.run(i, `counter-${i}`);
  })();
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.close();
}

function rawUpdates(file: string, budget: Budget): number {
  const db = openRaw(file);
  const update = db.prepare(RAW_UPDATE);
  const chunk = db.transaction((from: number) => {
    for (let n = from; n < from + RAW_ROWS_PER_TX; n++) update.run(n, n, n % ROWS);
  });
  const perSecond = rawChunks(budget, RAW_ROWS_PER_TX, chunk);
  db.close();
  return perSecond;
}

async function sluiceUpdates(file: string, budget: Budget): Promise<number> {
  const db = await open({ url: `sqlite:${file}`, tables: [counters] });
  const table = db.table(counters);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  let next = 0;
  const worker = async () => {
    while (window.running()) {
      const n = next++;
      await table.update(n % ROWS, { hits: n, touched: n });
      window.add(1);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await db.close();
  return window.perSecond;
}

export async function run(budget: Budget): Promise<ScenarioResult> {
  const scratch = scratchDir('small-table');
  try {
    const [rawA, sluiceA, sluiceB, rawB] = ['raw-a', 'sluice-a', 'sluice-b', 'raw-b'].map((n) => scratch.file(`${n}.db`)) as [
      string,
      string,
      string,
      string,
    ];
    for (const file of [rawA, sluiceA, sluiceB, rawB]) await createAndFill(file);
    const result = await abba(
      (run) => rawUpdates(run === 0 ? rawA : rawB, budget),
      (run) => sluiceUpdates(run === 0 ? sluiceA : sluiceB, budget),
    );
    return {
      id: 'sqlite-small-table',
      title: `SQLite, a small 4-column row: update by key, one awaited promise per row, ${IN_FLIGHT} in flight`,
      comparisons: [
        comparedAtLeast(
          `update(id, { hits, touched }) vs raw prepared UPDATE, ${RAW_ROWS_PER_TX} rows per transaction`,
          'rows/s',
          result.b,
          result.a,
          0.8,
          '≥ 0.8× raw',
        ),
      ],
      notes: [
        `Table of ${ROWS.toLocaleString('en')} rows (integer key, a text, two integers), keys in order, wrapping around; transitions on a small row are the sqlite-lifecycle scenario's first line (cycle_jobs).`,
        `Means of two runs each in A B B A order (single runs — Sluice: ${result.runsB.map(Math.round).join(' and ')}; raw: ${result.runsA.map(Math.round).join(' and ')} rows/s).`,
      ],
    };
  } finally {
    scratch.remove();
  }
}
