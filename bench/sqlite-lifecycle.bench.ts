import { open } from '../dist/index.js';
import { CYCLE, cycleJobs, cycleStep, leasedJobs, RAW_CLAIM_SQLITE, sluiceClaimRate } from './support/jobs-table.js';
import { abba, ratio, rawChunks, scratchDir, settle, Window } from './support/measure.js';
import { type Budget, comparedAtLeast, type ScenarioResult } from './support/scenario-result.js';
import { openRaw } from './support/sqlite-files.js';

const ROWS = 100_000;
const IN_FLIGHT = 1024;
const RAW_ROWS_PER_TX = 1000;
const CLAIM_BATCH = 50;
const CLAIMERS = 8;

async function createAndFill(file: string): Promise<void> {
  const db = await open({
    url: `sqlite:${file}`,
    tables: [cycleJobs, leasedJobs],
    maintenance: { reapIntervalMs: 0, retentionIntervalMs: 0, retentionBatchSize: 1000 },
  });
  await db.migrate();
  await db.close();
  const raw = openRaw(file, { cacheKiB: 262_144 });
  const cycle = raw.prepare('insert into cycle_jobs (id, status) values (?, ?)');
  const leased = raw.prepare("insert into leased_jobs (id, status, payload, attempt) values (?, 'pending', ?, 0)");
  raw.transaction(() => {
    for (let i = 0; i < ROWS; i++) {
      cycle.run(i, CYCLE[0]);
      leased.run(i, `job-${i}`);
    }
  })();
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.close();
}

/** `returning`: the raw statement also reads the row back, as transition(…, { returning: 'row' }) does. */
function rawTransitions(file: string, budget: Budget, returning = false): number {
  const db = openRaw(file);
  const sql = 'update cycle_jobs set status = ? where id = ? and status = ?';
  const update = db.prepare(returning ? `${sql} returning *` : sql);
  const chunk = db.transaction((from: number) => {
    for (let n = from; n < from + RAW_ROWS_PER_TX; n++) {
      const step = cycleStep(n, ROWS);
      if (returning) update.get(step.to, step.id, step.from);
      else update.run(step.to, step.id, step.from);
    }
  });
  const perSecond = rawChunks(budget, RAW_ROWS_PER_TX, chunk);
  db.close();
  return perSecond;
}

async function sluiceTransitions(file: string, budget: Budget, returning: 'none' | 'row' = 'none'): Promise<number> {
  const db = await open({
    url: `sqlite:${file}`,
    tables: [cycleJobs, leasedJobs],
    maintenance: { reapIntervalMs: 0, retentionIntervalMs: 0, retentionBatchSize: 1000 },
  });
  const jobs = db.table(cycleJobs);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  let next = 0;
  let missed = 0;
  const worker = async () => {
    while (window.running()) {
      const step = cycleStep(next++, ROWS);
      const result =
        returning === 'row'
          ? await jobs.transition(step.id, step.to, { from: step.from, returning: 'row' })
          : await jobs.transition(step.id, step.to, { from: step.from });
      if (!result.applied) missed++;
      window.add(1);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await db.close();
  if (missed > 0) throw new Error(`${missed} transitions did not apply: the benchmark's steps are out of order`);
  return window.perSecond;
}

function rawClaims(file: string, budget: Budget): number {
  const db = openRaw(file);
  const claim = db.prepare(RAW_CLAIM_SQLITE);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  while (window.running()) {
    const rows = claim.all('raw', Date.now() + 60_000, CLAIM_BATCH);
    if (rows.length === 0) break;
    window.add(rows.length);
  }
  db.close();
  return window.perSecond;
}

async function sluiceClaims(file: string, budget: Budget): Promise<number> {
  const db = await open({
    url: `sqlite:${file}`,
    tables: [cycleJobs, leasedJobs],
    maintenance: { reapIntervalMs: 0, retentionIntervalMs: 0, retentionBatchSize: 1000 },
  });
  return sluiceClaimRate(db, budget, CLAIMERS, CLAIM_BATCH);
}

export async function run(budget: Budget): Promise<ScenarioResult> {
  const scratch = scratchDir('lifecycle');
  try {
    const [rawFile, sluiceFile, sluiceFileB, rawFileB, sluiceRowFile, rawRowFile] = [
      'raw',
      'sluice',
      'sluice-b',
      'raw-b',
      'sluice-row',
      'raw-row',
    ].map((name) => scratch.file(`${name}.db`)) as [string, string, string, string, string, string];
    for (const file of [rawFile, sluiceFile, sluiceFileB, rawFileB, sluiceRowFile, rawRowFile]) await createAndFill(file);
    const transitions = await abba(
      (run) => rawTransitions(run === 0 ? rawFile : rawFileB, budget),
      (run) => sluiceTransitions(run === 0 ? sluiceFile : sluiceFileB, budget),
    );
    const sluiceRow = await sluiceTransitions(sluiceRowFile, budget, 'row');
    await settle();
    const rawRow = rawTransitions(rawRowFile, budget, true);
    await settle();
    const { a: rawT, b: sluiceT } = transitions;
    const rawC = rawClaims(rawFile, budget);
    await settle();
    const sluiceC = await sluiceClaims(sluiceFile, budget);
    return {
      id: 'sqlite-lifecycle',
      title: 'SQLite lifecycle: compare-and-set transitions and leased claims',
      comparisons: [
        comparedAtLeast(
          `transition(key, to, { from }) with ${IN_FLIGHT} in flight vs raw UPDATE … WHERE id = ? AND status = ?, ${RAW_ROWS_PER_TX} per transaction`,
          'rows/s',
          sluiceT,
          rawT,
          0.7,
          '≥ 0.7× raw',
        ),
        {
          measure: `transition(key, to, { from, returning: 'row' }) vs raw UPDATE … RETURNING *, ${RAW_ROWS_PER_TX} per transaction`,
          unit: 'rows/s',
          sluice: sluiceRow,
          raw: rawRow,
          ratio: ratio(sluiceRow, rawRow),
        },
        {
          measure: `claim(limit ${CLAIM_BATCH}), ${CLAIMERS} claimers in flight vs raw claim statement (UPDATE … IN (SELECT … LIMIT ${CLAIM_BATCH}) RETURNING), one per transaction`,
          unit: 'rows/s',
          sluice: sluiceC,
          raw: rawC,
          ratio: ratio(sluiceC, rawC),
        },
      ],
      notes: [
        `Both files hold ${ROWS.toLocaleString('en')} rows per table and the lifecycle triggers Sluice installs, so the raw statements pay for the same triggers.`,
        `Sluice checks each move against the lifecycle before queueing it; by default it resolves { applied } and reads no row back, like the raw UPDATE. Transitions: means of A B B A runs (Sluice ${transitions.runsB.map(Math.round).join(' and ')}, raw ${transitions.runsA.map(Math.round).join(' and ')} rows/s); the returning: 'row' pair ran once each.`,
        'Claims stop when the table has no pending rows left; a run that empties it reports the rate over the measured window.',
      ],
    };
  } finally {
    scratch.remove();
  }
}
