import { sluiceInserts } from './sqlite-insert.bench.js';
import { IN_FLIGHT_PER_PROCESS, round } from './sqlite-multi-process.bench.js';
import { sluiceUpdates } from './sqlite-update.bench.js';
import { abba, ratio, scratchDir, settle } from './support/measure.js';
import { sequentialPath } from './support/media-table.js';
import { type Budget, comparedAtLeast, type ScenarioResult } from './support/scenario-result.js';
import { createSchema, type Durability, prefill } from './support/sqlite-files.js';

const UPDATE_ROWS = 100_000;

/**
 * What 'power-loss' (synchronous=FULL: an fsync of the WAL at every COMMIT) costs against
 * 'process-crash' (NORMAL), through Sluice in each write scenario. The rule: if FULL costs
 * under 5 % everywhere, it becomes the default.
 */
export async function run(budget: Budget): Promise<ScenarioResult> {
  const scratch = scratchDir('durability');
  let files = 0;
  const fresh = async (rows = 0) => {
    const file = scratch.file(`d${files++}.db`);
    await createSchema(file);
    if (rows > 0) prefill(file, rows, sequentialPath);
    return file;
  };
  // Each pair runs NORMAL, FULL, FULL, NORMAL.
  const pair = async (measure: (durability: Durability) => Promise<number>) => {
    const runs = await abba(
      () => measure('process-crash'),
      () => measure('power-loss'),
    );
    return { normal: runs.a, full: runs.b };
  };
  try {
    const insert = await pair(async (d) => (await sluiceInserts(await fresh(), budget, d)).rowsPerSecond);
    const update = await pair(async (d) => sluiceUpdates(await fresh(UPDATE_ROWS), budget, 'none', d));
    const multi = async (d: Durability) => {
      const file = await fresh();
      const result = await round('sluice', file, (i) => scratch.file(`mp-${files}-${i}.f64`), budget, IN_FLIGHT_PER_PROCESS, '', d);
      return { rows: result.rowsPerSecond, p99: result.latencyMs.p99 };
    };
    const multiNormal = await multi('process-crash');
    await settle(500);
    const multiFull = await multi('power-loss');
    const line = (measure: string, normal: number, full: number) =>
      comparedAtLeast(measure, 'rows/s', full, normal, 0.95, 'FULL costs < 5 %');
    return {
      id: 'durability',
      title: "Durability: 'power-loss' (synchronous=FULL) against 'process-crash' (NORMAL), both through Sluice",
      comparisons: [
        line('insert, 1,024 in flight: FULL vs NORMAL', insert.normal, insert.full),
        line('update(key, patch), 1,024 in flight: FULL vs NORMAL', update.normal, update.full),
        line(`4 processes inserting, ${IN_FLIGHT_PER_PROCESS} in flight each: FULL vs NORMAL`, multiNormal.rows, multiFull.rows),
        {
          measure: '4 processes: acknowledgement p99, FULL vs NORMAL',
          unit: 'ms',
          sluice: multiFull.p99,
          raw: multiNormal.p99,
          ratio: ratio(multiFull.p99, multiNormal.p99),
        },
      ],
      notes: [
        "The 'raw' column holds NORMAL here, the 'Sluice' column FULL. One process: means of NORMAL, FULL, FULL, NORMAL runs; 4 processes: one run each.",
        'A group commit syncs once per batch of hundreds of rows, so FULL adds one fsync per batch, not per row.',
      ],
    };
  } finally {
    scratch.remove();
  }
}
