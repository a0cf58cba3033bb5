import pg from 'pg';
import { open } from '../dist/index.js';
import { POSTGRES_URL } from './postgres-insert.bench.js';
import { leasedJobs, RAW_CLAIM_POSTGRES, sluiceClaimRate } from './support/jobs-table.js';
import { ratio, settle, Window } from './support/measure.js';
import type { Budget, ScenarioResult } from './support/scenario-result.js';

const ROWS = 200_000;
const CLAIM_BATCH = 50;
const CLAIMERS = 4;
const noMaintenance = { reapIntervalMs: 0, retentionIntervalMs: 0, retentionBatchSize: 1000 };

async function prepare(schema: string): Promise<void> {
  const db = await open({ url: POSTGRES_URL, tables: [leasedJobs], postgres: { schema }, maintenance: noMaintenance });
  await db.migrate();
  await db.close();
  const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` });
  await client.connect();
  await client.query(
    "insert into leased_jobs (id, status, payload, attempt) select i, 'pending', 'job-' || i, 0 from generate_series(0, $1 - 1) as i",
    [ROWS],
  );
  await client.query('analyze leased_jobs');
  await client.end();
}

/** What a hand-written worker pool does: each connection loops one SKIP LOCKED claim statement. */
async function rawClaims(schema: string, budget: Budget): Promise<number> {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: CLAIMERS, options: `-c search_path=${schema}` });
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  const worker = async (w: number) => {
    const client = await pool.connect();
    try {
      while (window.running()) {
        const { rowCount } = await client.query(RAW_CLAIM_POSTGRES, [`raw${w}`, new Date(Date.now() + 60_000), CLAIM_BATCH]);
        if (!rowCount) break;
        window.add(rowCount);
      }
    } finally {
      client.release();
    }
  };
  await Promise.all(Array.from({ length: CLAIMERS }, (_, w) => worker(w)));
  await pool.end();
  return window.perSecond;
}

async function sluiceClaims(schema: string, budget: Budget): Promise<number> {
  const db = await open({ url: POSTGRES_URL, tables: [leasedJobs], postgres: { schema }, maintenance: noMaintenance });
  return sluiceClaimRate(db, budget, CLAIMERS, CLAIM_BATCH);
}

export async function run(budget: Budget): Promise<ScenarioResult> {
  const schemas = [`bench_claims_raw_${process.pid}`, `bench_claims_sluice_${process.pid}`] as const;
  try {
    for (const schema of schemas) await prepare(schema);
    const raw = await rawClaims(schemas[0], budget);
    await settle();
    const sluice = await sluiceClaims(schemas[1], budget);
    return {
      id: 'postgres-claims',
      title: `PostgreSQL claims: batches of ${CLAIM_BATCH}, ${CLAIMERS} claimers`,
      comparisons: [
        {
          measure: `claim(limit ${CLAIM_BATCH}) through the gate vs a raw FOR UPDATE SKIP LOCKED claim loop on ${CLAIMERS} connections`,
          unit: 'rows/s',
          sluice,
          raw,
          ratio: ratio(sluice, raw),
        },
      ],
      notes: [
        `${ROWS.toLocaleString('en')} pending rows per side. Sluice's claims from one process share its single writer connection (one batch in flight), so they queue where the raw loop runs ${CLAIMERS} statements at once.`,
      ],
    };
  } finally {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  }
}
