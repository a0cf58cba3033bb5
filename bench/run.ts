/**
 * `npm run bench`: runs every scenario, one after another, and writes BENCHMARKS.md.
 *   tsx bench/run.ts [--seconds S] [--only id,id] [--out FILE] [--table-rows N] [--gate JSON]
 * Each scenario compares Sluice with the raw driver in the same run; see BENCHMARKS.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as durability from './durability.bench.js';
import * as examples from './examples.bench.js';
import * as http from './http.bench.js';
import * as logging from './logging.bench.js';
import * as peers from './peers.bench.js';
import * as postgresClaims from './postgres-claims.bench.js';
import * as postgresInsert from './postgres-insert.bench.js';
import * as replicas from './replicas.bench.js';
import * as rollups from './rollups.bench.js';
import * as soak from './soak.bench.js';
import * as sqliteGet from './sqlite-get.bench.js';
import * as sqliteInsert from './sqlite-insert.bench.js';
import * as sqliteLifecycle from './sqlite-lifecycle.bench.js';
import * as sqliteMultiProcess from './sqlite-multi-process.bench.js';
import * as sqliteScatteredKeys from './sqlite-scattered-keys.bench.js';
import * as sqliteSmallTable from './sqlite-small-table.bench.js';
import * as sqliteUpdate from './sqlite-update.bench.js';
import { describeMachine } from './support/machine.js';
import { figure, markdownReport } from './support/markdown-report.js';
import type { Budget, ScenarioResult } from './support/scenario-result.js';
import { sqliteVersion } from './support/sqlite-files.js';
import * as sync from './sync.bench.js';
import * as workers from './workers.bench.js';

const KEPT_MARKER = '<!-- Hand-written from here on: bench/run.ts keeps this part when it rewrites the figures above. -->';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    only: { type: 'string' },
    out: { type: 'string', default: 'BENCHMARKS.md' },
    'table-rows': { type: 'string' },
    /** open() gate options for the multi-process scenario, to compare tunings (e.g. '{"backoffMaxMs":20}'). */
    gate: { type: 'string', default: '{}' },
    /** Minutes of the seed-000 soak at the end of the run; 0 leaves it out. */
    'soak-minutes': { type: 'string', default: '10' },
    /** Seconds each seed example runs. */
    'example-seconds': { type: 'string', default: '20' },
  },
});

const budget: Budget = { warmupSeconds: Number(values.warmup), measureSeconds: Number(values.seconds) };
const tableRows = values['table-rows'] === undefined ? sqliteScatteredKeys.TABLE_ROWS : Number(values['table-rows']);

/** Every scenario, in run order; adding one is one line here (a file exporting run(budget)). */
const scenarios: { id: string; run: () => Promise<ScenarioResult> }[] = [
  { id: 'sqlite-insert', run: () => sqliteInsert.run(budget) },
  { id: 'sqlite-update', run: () => sqliteUpdate.run(budget) },
  { id: 'sqlite-small-table', run: () => sqliteSmallTable.run(budget) },
  { id: 'sqlite-get', run: () => sqliteGet.run(budget) },
  { id: 'sqlite-scattered-keys', run: () => sqliteScatteredKeys.run(budget, tableRows) },
  {
    id: 'sqlite-multi-process',
    run: () =>
      sqliteMultiProcess.run(
        { warmupSeconds: budget.warmupSeconds, measureSeconds: budget.measureSeconds * 2 },
        sqliteMultiProcess.IN_FLIGHT_PER_PROCESS,
        JSON.parse(values.gate) as Record<string, unknown>,
      ),
  },
  { id: 'postgres-insert', run: () => postgresInsert.run(budget) },
  { id: 'sqlite-lifecycle', run: () => sqliteLifecycle.run(budget) },
  { id: 'postgres-claims', run: () => postgresClaims.run(budget) },
  { id: 'workers', run: () => workers.run(budget) },
  { id: 'rollups', run: () => rollups.run(budget) },
  { id: 'sync', run: () => sync.run(budget) },
  { id: 'replicas', run: () => replicas.run(budget) },
  { id: 'http', run: () => http.run(budget) },
  { id: 'peers', run: () => peers.run(budget) },
  { id: 'durability', run: () => durability.run(budget) },
  { id: 'logging', run: () => logging.run(budget) },
  { id: 'examples', run: () => examples.run(Number(values['example-seconds'])) },
  ...(Number(values['soak-minutes']) > 0 ? [{ id: 'soak', run: () => soak.run(Number(values['soak-minutes'])) }] : []),
];

const only = values.only?.split(',');
const startedAt = new Date();
const began = performance.now();
const machine = describeMachine(sqliteVersion(), await postgresInstalled());
const results: ScenarioResult[] = [];
for (const scenario of scenarios) {
  if (only && !only.includes(scenario.id)) continue;
  const t0 = performance.now();
  process.stderr.write(`${scenario.id} …`);
  let result: ScenarioResult;
  try {
    result = await scenario.run();
  } catch (error) {
    result = { id: scenario.id, title: scenario.id, comparisons: [], notes: [], skipped: `failed: ${(error as Error).message}` };
  }
  results.push(result);
  process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  for (const c of result.comparisons) {
    const goal = c.goal ? ` [${c.goal.text}: ${c.goal.met ? 'met' : 'MISSED'}]` : '';
    const raw = c.raw === undefined ? '' : ` raw ${figure(c.raw, c.unit)}`;
    const r = c.ratio === undefined ? '' : ` ${c.ratio.toFixed(2)}×`;
    process.stderr.write(`  ${c.measure}: Sluice ${figure(c.sluice, c.unit)}${raw}${r}${goal}\n`);
  }
  if (result.skipped) process.stderr.write(`  not run: ${result.skipped}\n`);
}
const seconds = (performance.now() - began) / 1000;
writeFileSync(values.out, markdownReport(machine, budget, results, startedAt, seconds) + keptNotes(values.out));
process.stderr.write(`wrote ${values.out} (${seconds.toFixed(0)} s)\n`);

/** The hand-written analysis below KEPT_MARKER survives every regeneration of the file. */
function keptNotes(file: string): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(KEPT_MARKER);
  return at < 0 ? '' : `\n${text.slice(at)}`;
}

async function postgresInstalled(): Promise<string | undefined> {
  return postgresInsert.postgresVersion();
}
