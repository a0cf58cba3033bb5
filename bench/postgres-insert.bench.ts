import { loadavg } from 'node:os';
import pg from 'pg';
import { open } from '../dist/index.js';
import { ratio, settle, Window } from './support/measure.js';
import { mediaFiles, mediaRow, RAW_INSERT_PG_SQL, sequentialPath } from './support/media-table.js';
import { CpuMeter, type PhaseFigures, type RawDriver, type RawShape, rawTransactions, TX_ROWS } from './support/postgres-raw-inserts.js';
import { type Budget, type Comparison, goalAtLeast, type ScenarioResult } from './support/scenario-result.js';

export const POSTGRES_URL = process.env.SLUICE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const IN_FLIGHT = 1024;
const RAW_CONNECTIONS = 8;

interface SluiceFigures extends PhaseFigures {
  readonly meanBatch: number;
  /** Share of the measured window the event loop was busy (the rest it waited, mostly for PostgreSQL). */
  readonly loopBusy: number;
}

async function sluiceInserts(schema: string, budget: Budget, first: number): Promise<SluiceFigures> {
  const db = await open({ url: POSTGRES_URL, tables: [mediaFiles], postgres: { schema } });
  await db.migrate();
  const files = db.table(mediaFiles);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  const cpu = new CpuMeter(window);
  let loopAtStart: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  let loopBusy = Number.NaN;
  let next = first;
  const worker = async () => {
    while (window.running()) {
      const n = next++;
      await files.insert(mediaRow(sequentialPath(n), n));
      const now = performance.now();
      window.add(1, now);
      if (loopAtStart === undefined && now >= window.startsAt) {
        cpu.tick(now);
        loopAtStart = performance.eventLoopUtilization();
      }
    }
    if (loopAtStart !== undefined && Number.isNaN(loopBusy)) loopBusy = performance.eventLoopUtilization(loopAtStart).utilization;
    cpu.stop();
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const meanBatch = db.stats().batches.meanSize;
  await db.close();
  return { rowsPerSecond: window.perSecond, cpuUsPerRow: cpu.perRow(window.counted), meanBatch, loopBusy };
}

/** What a hand-written service does: a pool of 8, each connection inserting one row per statement. */
async function rawAutocommit(schema: string, budget: Budget, first: number): Promise<PhaseFigures> {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: RAW_CONNECTIONS, options: `-c search_path=${schema}` });
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  const cpu = new CpuMeter(window);
  let next = first;
  const worker = async () => {
    const client = await pool.connect();
    try {
      while (window.running()) {
        cpu.tick();
        const n = next++;
        const row = mediaRow(sequentialPath(n), n);
        await client.query(RAW_INSERT_PG_SQL, [
          row.path,
          row.fileName,
          row.dockSn,
          row.size,
          row.fileHash,
          row.downloadStatus,
          row.transferStatus,
          row.retries,
          JSON.stringify(row.meta),
          row.createdAt,
          row.updatedAt,
        ]);
        window.add(1);
      }
      cpu.stop();
    } finally {
      client.release();
    }
  };
  await Promise.all(Array.from({ length: RAW_CONNECTIONS }, worker));
  await pool.end();
  return { rowsPerSecond: window.perSecond, cpuUsPerRow: cpu.perRow(window.counted) };
}

async function serverFacts(): Promise<{ version: string; synchronousCommit: string }> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const version = (await client.query('show server_version')).rows[0].server_version as string;
    const synchronousCommit = (await client.query('show synchronous_commit')).rows[0].synchronous_commit as string;
    return { version, synchronousCommit };
  } finally {
    await client.end();
  }
}

export async function postgresVersion(): Promise<string | undefined> {
  try {
    return (await serverFacts()).version;
  } catch {
    return undefined;
  }
}

type Phase = 'sluice' | `${RawDriver} ${RawShape}` | 'pg unnest autocommit' | 'autocommit';
/** Run in this order, then in reverse (A B … B A), so a drift in the machine's load hits every side alike. */
const PHASES: readonly Phase[] = [
  'sluice',
  'pg values',
  'postgres.js values',
  'pg unnest',
  'pg unnest autocommit',
  'postgres.js unnest',
  'autocommit',
];

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const rate = (x: number) => Math.round(x).toLocaleString('en-US');
const cpu = (x: number) => x.toFixed(1);

export async function run(budget: Budget): Promise<ScenarioResult> {
  const id = 'postgres-insert';
  const title = `PostgreSQL insert: one awaited promise per row, ${IN_FLIGHT} in flight, group commit`;
  let facts: { version: string; synchronousCommit: string };
  try {
    facts = await serverFacts();
  } catch (error) {
    return { id, title, comparisons: [], notes: [], skipped: `no PostgreSQL at ${POSTGRES_URL} (${(error as Error).message})` };
  }
  const schema = `sluice_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  const loadBefore = loadavg();
  const figures = new Map<Phase, PhaseFigures[]>();
  const sluiceRuns: SluiceFigures[] = [];
  try {
    const order = [...PHASES, ...[...PHASES].reverse()];
    for (let i = 0; i < order.length; i++) {
      const phase = order[i] as Phase;
      // Every phase starts on the same emptied table (the first Sluice phase creates it), so each
      // writes into the same DDL and an index of the same size; keys never repeat across phases.
      if (i > 0) {
        await admin.query(`truncate ${schema}.media_files`);
        await admin.query(`vacuum analyze ${schema}.media_files`);
        await settle(500);
      }
      const first = (i + 1) * 50_000_000;
      let result: PhaseFigures;
      if (phase === 'sluice') {
        const s = await sluiceInserts(schema, budget, first);
        sluiceRuns.push(s);
        result = s;
      } else if (phase === 'autocommit') {
        result = await rawAutocommit(schema, budget, first);
      } else if (phase === 'pg unnest autocommit') {
        result = await rawTransactions(
          POSTGRES_URL,
          schema,
          'pg',
          'unnest',
          new Window(budget.warmupSeconds, budget.measureSeconds),
          first,
          true,
        );
      } else {
        const [driver, shape] = phase.split(' ') as [RawDriver, RawShape];
        result = await rawTransactions(POSTGRES_URL, schema, driver, shape, new Window(budget.warmupSeconds, budget.measureSeconds), first);
      }
      figures.set(phase, [...(figures.get(phase) ?? []), result]);
    }
  } finally {
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.end();
  }
  const loadAfter = loadavg();
  const rows = (phase: Phase) => mean((figures.get(phase) ?? []).map((f) => f.rowsPerSecond));
  const cpuPerRow = (phase: Phase) => mean((figures.get(phase) ?? []).map((f) => f.cpuUsPerRow));
  const sluice = rows('sluice');
  // The goal is against the faster of the two raw statement shapes measured in this run.
  const rawShapes = (['values', 'unnest'] as const).map((shape) => ({ shape, rows: rows(`pg ${shape}`) })).sort((a, b) => b.rows - a.rows);
  const best = rawShapes[0] as { shape: RawShape; rows: number };
  const other = rawShapes[1] as { shape: RawShape; rows: number };
  const shapeText: Record<RawShape, string> = {
    values: `one multi-row INSERT … VALUES of ${TX_ROWS.toLocaleString('en-US')} rows`,
    unnest: 'one INSERT … SELECT * FROM unnest(11 arrays)',
  };
  const txMeasure = (shape: RawShape) =>
    `Sluice vs raw pg, one connection, ${TX_ROWS.toLocaleString('en-US')}-row transactions (BEGIN; ${shapeText[shape]}; COMMIT)`;
  const autocommit = rows('autocommit');
  const comparisons: Comparison[] = [
    {
      measure: txMeasure(best.shape),
      unit: 'rows/s',
      sluice,
      raw: best.rows,
      ratio: ratio(sluice, best.rows),
      goal: goalAtLeast(ratio(sluice, best.rows), 0.9, '≥ 0.9× raw'),
    },
    { measure: txMeasure(other.shape), unit: 'rows/s', sluice, raw: other.rows, ratio: ratio(sluice, other.rows) },
    {
      measure: `Sluice vs raw pg, one connection, one autocommit INSERT … SELECT * FROM unnest of ${TX_ROWS.toLocaleString('en-US')} rows (no BEGIN/COMMIT)`,
      unit: 'rows/s',
      sluice,
      raw: rows('pg unnest autocommit'),
      ratio: ratio(sluice, rows('pg unnest autocommit')),
      goal: goalAtLeast(ratio(sluice, rows('pg unnest autocommit')), 0.9, '≥ 0.9× raw'),
    },
    {
      measure: `Sluice vs raw pg, ${RAW_CONNECTIONS} connections, one autocommit insert per row`,
      unit: 'rows/s',
      sluice,
      raw: autocommit,
      ratio: ratio(sluice, autocommit),
      goal: goalAtLeast(ratio(sluice, autocommit), 6, '≥ 6× raw'),
    },
  ];
  const driverLine = (shape: RawShape) =>
    `${shape}: pg ${rate(rows(`pg ${shape}`))} rows/s (${cpu(cpuPerRow(`pg ${shape}`))} µs), postgres.js ${rate(rows(`postgres.js ${shape}`))} rows/s (${cpu(cpuPerRow(`postgres.js ${shape}`))} µs)`;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  return {
    id,
    title,
    comparisons,
    notes: [
      `PostgreSQL ${facts.version} on this machine, synchronous_commit = ${facts.synchronousCommit}; a dedicated schema (${schema}), dropped afterwards. Load average (1 / 5 / 15 min) ${load(loadBefore)} before the scenario, ${load(loadAfter)} after.`,
      `Each figure is the mean of two measurements, taken in the order ${PHASES.join(', ')}, then the reverse; every measurement starts on the emptied table.`,
      `Sluice: mean batch ${mean(sluiceRuns.map((s) => s.meanBatch)).toFixed(0)} rows; client CPU ${cpu(cpuPerRow('sluice'))} µs per row; the event loop was busy ${(100 * mean(sluiceRuns.map((s) => s.loopBusy))).toFixed(0)} % of the measured window (the rest it waited for PostgreSQL).`,
      `Raw transactions: one connection, BEGIN, the INSERT (a named prepared statement) and COMMIT awaited one after another, rows built in the timed loop with the same mediaRow() Sluice is given. The goal line uses the faster shape in this run (${best.shape}: ${rate(best.rows)} rows/s; ${other.shape}: ${rate(other.rows)}).`,
      `The two measurements of each (rows/s): ${PHASES.map((phase) => `${phase} ${(figures.get(phase) ?? []).map((f) => rate(f.rowsPerSecond)).join(' and ')}`).join('; ')}.`,
      `pg (the driver Sluice uses) vs postgres.js, the same 1,000-row transactions on one connection, rows/s (client CPU per row): ${driverLine('values')}; ${driverLine('unnest')}. Raw autocommit ×${RAW_CONNECTIONS}: ${cpu(cpuPerRow('autocommit'))} µs per row.`,
    ],
  };
}
