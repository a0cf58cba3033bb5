/**
 * Raw better-sqlite3 only: what each shape of UPDATE costs SQLite, the measurements behind the
 * multi-row update path (src/dialect/sqlite/sqlite-batch.ts). Not a scenario of `npm run bench`;
 * run it alone: `npx tsx bench/sqlite-update-shapes.ts`. Figures are in BENCHMARKS.md (issue 11).
 */
import { open } from '../dist/index.js';
import { cycleJobs, leasedJobs } from './support/jobs-table.js';
import { scratchDir } from './support/measure.js';
import { mediaRow, RAW_INSERT_SQL, rawParams, sequentialPath } from './support/media-table.js';
import { createSchema, openRaw } from './support/sqlite-files.js';

const ROWS = 100_000;
const SECONDS = 1.5;
const RUN = 64;

/** Rows per second of `step(from)` called in 1,000-row transactions until SECONDS pass. */
function rate(db: ReturnType<typeof openRaw>, step: (n: number) => void, perTransaction: number): number {
  const transaction = db.transaction(step);
  const started = performance.now();
  let rows = 0;
  while (performance.now() - started < SECONDS * 1000) {
    transaction(rows);
    rows += perTransaction;
  }
  return Math.round(rows / ((performance.now() - started) / 1000));
}

function values(rows: number, width: number): string {
  const row = `(${Array.from({ length: width }, () => '?').join(',')})`;
  return Array.from({ length: rows }, () => row).join(',');
}

/** Transitions on a two-column lifecycle table with Sluice's triggers: every row applies. */
async function transitions(file: string): Promise<void> {
  const setup = await open({ url: `sqlite:${file}`, tables: [cycleJobs, leasedJobs] });
  await setup.migrate();
  await setup.close();
  const db = openRaw(file);
  const insert = db.prepare('insert into cycle_jobs (id, status) values (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) insert.run(i, 'a');
  })();
  const states = ['a', 'b', 'c'];
  let round = 0;
  // Each transaction moves every row one state on, so the next starts where this one left off.
  const move = (run: (from: string, to: string) => void) => () => {
    const from = states[round % 3] as string;
    const to = states[(round + 1) % 3] as string;
    round++;
    run(from, to);
  };
  const single = db.prepare('update cycle_jobs set status = ? where id = ? and status = ?');
  const json = db.prepare('update cycle_jobs set status = ? where id = ? and status in (select value from json_each(?))');
  const base = `update cycle_jobs set status = v.column2 from (values ${values(RUN, 3)}) as v where cycle_jobs.id = v.column1 and status in (v.column3)`;
  const counted = db.prepare(base);
  const keys = db.prepare(`${base} returning cycle_jobs.id`).raw(true);
  const rows = db.prepare(`${base} returning cycle_jobs.id as id, cycle_jobs.status as status`);
  const savepoint = db.prepare('savepoint run');
  const release = db.prepare('release run');
  const params = new Array<unknown>(RUN * 3);
  const multi = (statement: (p: unknown[]) => void) =>
    move((from, to) => {
      for (let i = 0; i < ROWS; i += RUN) {
        for (let j = 0; j < RUN; j++) {
          params[j * 3] = i + j;
          params[j * 3 + 1] = to;
          params[j * 3 + 2] = from;
        }
        statement(params);
      }
    });
  const report = (name: string, step: () => void) =>
    console.log(`transition  ${name.padEnd(48)} ${rate(db, step, ROWS).toLocaleString('en')} rows/s`);
  report(
    'single-row UPDATE … AND status = ?',
    move((from, to) => {
      for (let i = 0; i < ROWS; i++) single.run(to, i, from);
    }),
  );
  report(
    'single-row, status IN json_each(?)',
    move((from, to) => {
      for (let i = 0; i < ROWS; i++) json.run(to, i, JSON.stringify([from]));
    }),
  );
  report(
    `${RUN}-row UPDATE … FROM (VALUES …), counted`,
    multi((p) => counted.run(p)),
  );
  report(
    `${RUN}-row, inside SAVEPOINT … RELEASE`,
    multi((p) => {
      savepoint.run();
      counted.run(p);
      release.run();
    }),
  );
  report(
    `${RUN}-row, RETURNING the keys`,
    multi((p) => keys.all(p)),
  );
  report(
    `${RUN}-row, RETURNING the rows`,
    multi((p) => rows.all(p)),
  );
  db.close();
}

/** A three-column patch of media_files (11 columns): run sizes, and what RETURNING costs. */
async function mediaUpdates(file: string): Promise<void> {
  await createSchema(file);
  const db = openRaw(file);
  const insert = db.prepare(RAW_INSERT_SQL);
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) insert.run(rawParams(mediaRow(sequentialPath(i), i)));
  })();
  const paths = Array.from({ length: ROWS }, (_, i) => sequentialPath(i));
  const statuses = ['downloading', 'completed', 'failed', 'pending'];
  const report = (name: string, step: (n: number) => void, per: number) =>
    console.log(`media       ${name.padEnd(48)} ${rate(db, step, per).toLocaleString('en')} rows/s`);
  const single = db.prepare('update media_files set transfer_status = ?, retries = ?, updated_at = ? where path = ?');
  report(
    'single-row UPDATE',
    (from) => {
      for (let n = from; n < from + 1024; n++) single.run(statuses[n % 4], n % 5, n, paths[n % ROWS]);
    },
    1024,
  );
  const columns = (db.prepare('pragma table_info(media_files)').all() as { name: string }[]).map((c) => `media_files.${c.name}`);
  for (const size of [32, RUN, 128]) {
    const base = `update media_files set transfer_status = v.column2, retries = v.column3, updated_at = v.column4 from (values ${values(size, 4)}) as v where media_files.path = v.column1`;
    const shapes: [string, string, boolean][] = [
      ['counted', base, false],
      ['RETURNING path', `${base} returning media_files.path`, true],
      ['RETURNING *', `${base} returning ${columns.join(',')}`, true],
    ];
    for (const [name, sql, returns] of shapes) {
      const statement = db.prepare(sql);
      if (returns) statement.raw(true);
      const params = new Array<unknown>(size * 4);
      const per = Math.ceil(1024 / size) * size;
      report(
        `${size}-row, ${name}`,
        (from) => {
          for (let i = from; i < from + per; i += size) {
            for (let j = 0; j < size; j++) {
              const n = i + j;
              params[j * 4] = paths[n % ROWS];
              params[j * 4 + 1] = statuses[n % 4];
              params[j * 4 + 2] = n % 5;
              params[j * 4 + 3] = n;
            }
            if (returns) statement.all(params);
            else statement.run(params);
          }
        },
        per,
      );
    }
  }
  db.close();
}

const scratch = scratchDir('update-shapes');
try {
  await transitions(scratch.file('cycle.db'));
  await mediaUpdates(scratch.file('media.db'));
} finally {
  scratch.remove();
}
