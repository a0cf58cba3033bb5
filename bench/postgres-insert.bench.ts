import pg from 'pg';
import { open } from '../dist/index.js';
import { ratio, settle, Window } from './support/measure.js';
import { mediaFiles, mediaRow, RAW_INSERT_PG_SQL, sequentialPath } from './support/media-table.js';
import { type Budget, goalAtLeast, type ScenarioResult } from './support/scenario-result.js';

export const POSTGRES_URL = process.env.SLUICE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const IN_FLIGHT = 1024;
const RAW_CONNECTIONS = 8;

async function sluiceInserts(schema: string, budget: Budget): Promise<{ rowsPerSecond: number; meanBatch: number }> {
  const db = await open({ url: POSTGRES_URL, tables: [mediaFiles], postgres: { schema } });
  await db.migrate();
  const files = db.table(mediaFiles);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  let next = 0;
  const worker = async () => {
    while (window.running()) {
      const n = next++;
      await files.insert(mediaRow(sequentialPath(n), n));
      window.add(1);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const meanBatch = db.stats().batches.meanSize;
  await db.close();
  return { rowsPerSecond: window.perSecond, meanBatch };
}

/** What a hand-written service does: a pool of 8, each connection inserting one row per statement. */
async function rawInserts(schema: string, budget: Budget): Promise<number> {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: RAW_CONNECTIONS, options: `-c search_path=${schema}` });
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  let next = 100_000_000;
  const worker = async () => {
    const client = await pool.connect();
    try {
      while (window.running()) {
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
    } finally {
      client.release();
    }
  };
  await Promise.all(Array.from({ length: RAW_CONNECTIONS }, worker));
  await pool.end();
  return window.perSecond;
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
  try {
    const sluice = await sluiceInserts(schema, budget);
    // Same table, emptied, so the raw run writes into the same DDL and an index of the same size.
    await admin.query(`truncate ${schema}.media_files`);
    await admin.query(`vacuum analyze ${schema}.media_files`);
    await settle(500);
    const raw = await rawInserts(schema, budget);
    const r = ratio(sluice.rowsPerSecond, raw);
    return {
      id,
      title,
      comparisons: [
        {
          measure: `Sluice vs raw pg, ${RAW_CONNECTIONS} connections, one autocommit insert per row`,
          unit: 'rows/s',
          sluice: sluice.rowsPerSecond,
          raw,
          ratio: r,
          goal: goalAtLeast(r, 6, '≥ 6× raw'),
        },
      ],
      notes: [
        `PostgreSQL ${facts.version} on this machine, synchronous_commit = ${facts.synchronousCommit}; a dedicated schema (${schema}), dropped afterwards. Sluice's mean batch: ${sluice.meanBatch.toFixed(0)} rows.`,
      ],
    };
  } finally {
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.end();
  }
}
