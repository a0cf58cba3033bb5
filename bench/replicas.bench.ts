/**
 * Beyond one machine, on one machine: a primary and a streaming replica of the bench's own
 * (throwaway clusters, test/support/throwaway-postgres.ts), and
 *   A  reads/s of 4 reader processes doing `get` by random key, against the primary alone and with
 *      `postgres: { replicas: [replica] }`, in A B B A order;
 *   B  a foreign write (a plain pg client's UPDATE) until another instance's cached `get` shows
 *      it, p50 / max, beside SQLite's equivalent (another connection's UPDATE on the file).
 *   npx tsx bench/replicas.bench.ts [measureSeconds]
 */

import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { type Database, defineTable, open } from '../src/index.js';
import { startThrowawayPostgres, startThrowawayReplica, type ThrowawayPostgres } from '../test/support/throwaway-postgres.js';
import type { ReaderReport } from './replica-reader-worker.js';
import { percentiles, ratio, scratchDir, settle } from './support/measure.js';
import { replicaRows } from './support/replica-table.js';
import { type Budget, goalAtLeast, type ScenarioResult } from './support/scenario-result.js';
import { workerRound } from './support/worker-round.js';

const READERS = 4;
const IN_FLIGHT = 16;
const ROWS = 20_000;
const SCHEMA = 'bench_replicas';
const FOREIGN_ROUNDS = 60;
const STALE_BOUND_MS = 1000;
const WORKER = fileURLToPath(new URL('./replica-reader-worker.ts', import.meta.url));

const prices = defineTable('bench_foreign_prices', {
  columns: { id: 'integer', v: 'integer' },
  primaryKey: 'id',
  cache: { ttlMs: 600_000, maxEntries: 1000 },
});

async function caughtUp(primary: ThrowawayPostgres, replica: ThrowawayPostgres): Promise<void> {
  const lsn = await primary.withClient(async (c) => (await c.query('select pg_current_wal_lsn()::text as l')).rows[0].l as string);
  for (const until = Date.now() + 60_000; Date.now() < until; await settle(50)) {
    const done = await replica.withClient(
      async (c) => (await c.query('select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok', [lsn])).rows[0].ok === true,
    );
    if (done) return;
  }
  throw new Error('the replica did not catch up within 60 s');
}

async function readers(primary: ThrowawayPostgres, replica: ThrowawayPostgres | undefined, budget: Budget) {
  const args = Array.from({ length: READERS }, () => [
    primary.url,
    SCHEMA,
    replica?.url ?? '-',
    String(budget.warmupSeconds),
    String(budget.measureSeconds),
    String(IN_FLIGHT),
    String(ROWS),
  ]);
  const reports = await workerRound<ReaderReport>(WORKER, args, budget);
  const sum = (k: keyof ReaderReport) => reports.reduce((s, r) => s + r[k], 0);
  return { perSecond: sum('perSecond'), errors: sum('errors'), primary: sum('primary'), replica: sum('replica') };
}

/** Foreign updates of one row each; ms from the UPDATE's commit until the other instance's cached get shows it. */
async function foreignRounds(
  db: Database,
  update: (id: number, v: number) => Promise<void>,
): Promise<{ p50: number; max: number; stale: number }> {
  const table = db.table(prices);
  const seen: number[] = [];
  let stale = 0;
  for (let i = 0; i < FOREIGN_ROUNDS; i++) {
    const id = i % 10;
    const v = 1000 + i;
    await table.get(id);
    await update(id, v);
    const committed = performance.now();
    for (;;) {
      if ((await table.get(id))?.v === v) break;
      if (performance.now() - committed > STALE_BOUND_MS * 3) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    const ms = performance.now() - committed;
    if (ms > STALE_BOUND_MS) stale++;
    seen.push(ms);
  }
  const p = percentiles(Float64Array.from(seen));
  return { p50: p.p50, max: Math.max(...seen), stale };
}

async function foreignPostgres(primary: ThrowawayPostgres) {
  const db = await open({ url: primary.url, tables: [prices], postgres: { schema: SCHEMA }, cache: { staleBoundMs: STALE_BOUND_MS } });
  const foreign = new pg.Client({ connectionString: primary.url, options: `-c search_path=${SCHEMA}` });
  try {
    await db.migrate();
    await Promise.all(Array.from({ length: 10 }, (_, id) => db.table(prices).upsert({ id, v: 0 })));
    await foreign.connect();
    // The listener is up once a first foreign write has reached the cache.
    await settle(500);
    return await foreignRounds(db, async (id, v) => {
      await foreign.query('update bench_foreign_prices set v = $1 where id = $2', [v, id]);
    });
  } finally {
    await foreign.end().catch(() => {});
    await db.close();
  }
}

async function foreignSqlite() {
  const scratch = scratchDir('foreign');
  const file = scratch.file('foreign.db');
  const db = await open({ url: `sqlite:${file}`, tables: [prices], cache: { staleBoundMs: STALE_BOUND_MS } });
  const foreign = new BetterSqlite3(file, { timeout: 5000 });
  try {
    await db.migrate();
    await Promise.all(Array.from({ length: 10 }, (_, id) => db.table(prices).upsert({ id, v: 0 })));
    const statement = foreign.prepare('update bench_foreign_prices set v = ? where id = ?');
    return await foreignRounds(db, async (id, v) => {
      statement.run(v, id);
    });
  } finally {
    foreign.close();
    await db.close();
    scratch.remove();
  }
}

export async function run(budget: Budget): Promise<ScenarioResult> {
  const loadBefore = loadavg()[0] as number;
  const primary = await startThrowawayPostgres({ settings: { max_connections: '200', shared_buffers: '128MB' } });
  let replica: ThrowawayPostgres | undefined;
  try {
    const setup = await open({ url: primary.url, tables: [replicaRows], postgres: { schema: SCHEMA } });
    await setup.migrate();
    const body = 'x'.repeat(300);
    for (let start = 0; start < ROWS; start += 2000)
      await Promise.all(
        Array.from({ length: 2000 }, (_, i) => setup.table(replicaRows).insert({ id: start + i, name: `row ${start + i}`, body, n: i })),
      );
    await setup.close();
    replica = await startThrowawayReplica(primary);
    await caughtUp(primary, replica);

    const alone: number[] = [];
    const withReplica: { perSecond: number; errors: number; primary: number; replica: number }[] = [];
    let aloneErrors = 0;
    for (const which of ['alone', 'replica', 'replica', 'alone'] as const) {
      if (which === 'alone') {
        const r = await readers(primary, undefined, budget);
        alone.push(r.perSecond);
        aloneErrors += r.errors;
      } else withReplica.push(await readers(primary, replica, budget));
      await settle(500);
    }
    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const aloneRate = mean(alone);
    const replicaRate = mean(withReplica.map((r) => r.perSecond));
    const served = withReplica.reduce((s, r) => s + r.replica, 0);
    const routed = withReplica.reduce((s, r) => s + r.replica + r.primary, 0);
    const gain = ratio(replicaRate, aloneRate);

    const pgForeign = await foreignPostgres(primary);
    const sqliteForeign = await foreignSqlite();
    const loadAfter = loadavg()[0] as number;
    return {
      id: 'replicas',
      title: `PostgreSQL read replica and foreign writes (a primary and a streaming replica of the bench's own on this ${cpus().length}-core machine)`,
      comparisons: [
        {
          measure: `A: ${READERS} reader processes × ${IN_FLIGHT} gets in flight, with 1 replica vs the primary alone`,
          unit: 'reads/s',
          sluice: replicaRate,
          raw: aloneRate,
          ratio: gain,
          goal: goalAtLeast(gain, 1.6, '≥ 1.6× the primary alone'),
        },
        { measure: 'B: foreign UPDATE (pg client) → another instance’s cached get shows it, p50', unit: 'ms', sluice: pgForeign.p50 },
        { measure: 'B: foreign UPDATE (pg client) → cached get, max', unit: 'ms', sluice: pgForeign.max },
        { measure: 'B: SQLite, another connection’s UPDATE → cached get, p50', unit: 'ms', sluice: sqliteForeign.p50 },
        { measure: 'B: SQLite, another connection’s UPDATE → cached get, max', unit: 'ms', sluice: sqliteForeign.max },
      ],
      notes: [
        `A: ${Math.round(alone[0] ?? 0)} / ${Math.round(alone[1] ?? 0)} reads/s alone, ${withReplica.map((r) => Math.round(r.perSecond)).join(' / ')} with the replica (A B B A); ${((100 * served) / Math.max(1, routed)).toFixed(1)} % of reads served by the replica; failed reads ${aloneErrors + withReplica.reduce((s, r) => s + r.errors, 0)}.`,
        'A: both servers and the 4 readers share the same cores, so the replica adds no CPU: what it can add is a second set of backends and buffers; on separate machines the replica brings its own cores.',
        `B: ${FOREIGN_ROUNDS} rounds each, stale bound ${STALE_BOUND_MS} ms; past the bound: PostgreSQL ${pgForeign.stale}, SQLite ${sqliteForeign.stale}. PostgreSQL hears of it by trigger NOTIFY, SQLite by data_version polling.`,
        `Load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after.`,
      ],
    };
  } finally {
    await replica?.destroy();
    await primary.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const seconds = Number(process.argv[2] ?? 5);
  const result = await run({ warmupSeconds: 1, measureSeconds: seconds });
  console.log(JSON.stringify(result, null, 2));
}
